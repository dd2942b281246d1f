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
    # the recipe estimate is only made at the recipe's own batch size (48 in the default's config)
    assert info["recipe_estimate"] == [] and info["stages"][0]["batch_size"] == 48
    md = out.with_suffix(".md").read_text()
    assert "| 32 | 2 | bf16 | channels_last |" in md and "--device cpu" in md


def test_times_the_paper_network(eval_script) -> None:
    """The timed network is MSPT's: timm mobilenetv3_small_100 with one output, 1,518,881 parameters."""
    mod = eval_script("gpu_speed")
    net = mod._net(torch.device("cpu"), channels_last=True)
    assert sum(p.numel() for p in net.parameters()) == 1_518_881  # the paper's 1.5189M
    assert net(torch.rand(2, 3, 32, 32)).shape == (2, 1)


def test_recipe_estimate_follows_the_config(eval_script, tmp_path: Path) -> None:
    mod = eval_script("gpu_speed")
    cfg = tmp_path / "r.yml"
    cfg.write_text("stages:\n"
                   "  - {name: a, resolution: 160, iterations: 100, batch_size: 48, lr: 0.1}\n"
                   "  - {name: b, resolution: 192, iterations: 10, batch_size: 48}\n"
                   "  - {name: c, resolution: 224, iterations: 1000, batch_size: 48}\n")
    stages = mod.recipe_stages(cfg)
    assert stages[2] == {"iterations": 1000, "batch_size": 48, "resolution": 224}
    best = {160: 0.01, 192: 0.02, 224: 0.03, 336: 0.04, 448: 0.05}
    rows = {r["schedule"]: r for r in mod.recipe_estimate(stages, best, 48)}
    assert rows["release config"]["stage_seconds"] == [1.0, 0.2, 30.0] and rows["release config"]["total_s"] == 31.2
    # the paper's sides 224/336/448 with the config's iterations
    assert rows["paper"]["resolutions"] == "224/336/448" and rows["paper"]["stage_seconds"] == [3.0, 0.4, 50.0]
    assert mod.recipe_estimate(stages, best, 32) == []  # another batch size: no estimate
    del best[448]
    assert [r["schedule"] for r in mod.recipe_estimate(stages, best, 48)] == ["release config"]


def test_default_config_is_the_catalog_default(eval_script) -> None:
    mod = eval_script("gpu_speed")
    from mspt_pyiqa.weights import default_entry_name
    assert mod.default_release_config().name == f"{default_entry_name()}.yml"
    assert mod.default_release_config().is_file()


def test_missing_config_is_a_clear_error(eval_script, tmp_path: Path, capsys) -> None:
    mod = eval_script("gpu_speed")
    with pytest.raises(SystemExit):
        mod.main(["--device", "cpu", "--config", str(tmp_path / "nope.yml"), "--out", str(tmp_path / "x")])
    assert "nope.yml: no such release config" in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_gpu_is_a_clear_error(eval_script, tmp_path: Path) -> None:
    mod = eval_script("gpu_speed")
    with pytest.raises(SystemExit, match="torch sees no CUDA device"):
        mod.main(["--device", "cuda", "--out", str(tmp_path / "x")])
