"""eval/gpu_speed.py: the report's structure on a tiny CPU run (timings themselves are not tested)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch


def test_tiny_cpu_run_writes_report(eval_script, tmp_path: Path) -> None:
    mod = eval_script("gpu_speed")
    out = tmp_path / "speed"
    assert mod.main(["--device", "cpu", "--out", str(out), "--batch", "2", "--resolutions", "32",
                     "--score-batches", "1", "--warmup", "0", "--steps", "1"]) == 0
    info = json.loads(out.with_suffix(".json").read_text())
    # one row per (precision, layout) for each resolution and each scoring batch
    assert {(r["precision"], r["layout"]) for r in info["train"]} == {
        ("fp32", "NCHW"), ("fp32", "channels_last"), ("bf16", "NCHW"), ("bf16", "channels_last")}
    assert all(r["resolution"] == 32 and r["batch"] == 2 and r["s_per_step"] > 0 for r in info["train"])
    assert len(info["score"]) == 4 and all(r["images_per_s"] > 0 for r in info["score"])
    # the recipe estimate is only made at the recipe's own batch size
    assert info["recipe_estimate"] == []
    md = out.with_suffix(".md").read_text()
    assert "| 32 | 2 | bf16 | channels_last |" in md and "--device cpu" in md


def test_times_the_paper_network(eval_script) -> None:
    """The timed network is MSPT's: timm mobilenetv3_small_100 with one output, 1,518,881 parameters."""
    mod = eval_script("gpu_speed")
    net = mod._net(torch.device("cpu"), channels_last=True)
    assert sum(p.numel() for p in net.parameters()) == 1_518_881  # the paper's 1.5189M
    assert net(torch.rand(2, 3, 32, 32)).shape == (2, 1)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_gpu_is_a_clear_error(eval_script, tmp_path: Path) -> None:
    mod = eval_script("gpu_speed")
    with pytest.raises(SystemExit, match="torch sees no CUDA device"):
        mod.main(["--device", "cuda", "--out", str(tmp_path / "x")])
