"""The CUDA paths users take on a GPU: scoring, gradients, the score CLI, the three-stage recipe
with autocast. Skipped without a CUDA device (CI has none); run on a GPU machine with
``python -m pytest -m cuda tests/test_cuda.py`` (the last run's output: eval/reports/cuda_tests_h200.txt).

Tolerances: PyTorch's default lets cuDNN convolutions use TF32 (10-bit mantissa inputs), so
scores on a GPU differ from the CPU's float32 ones by up to ~1e-3 on this 1.5M-parameter network;
with TF32 off the difference is float32 rounding (~1e-6). A wrong device transfer, normalisation
or resize on the GPU moves a score by 1e-2 or more (the mildest demo degradation moves it by 0.2).
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Dict, Iterator, List

import numpy as np
import pandas as pd
import pyiqa
import pytest
import torch
import torchvision.transforms.functional as TF
from PIL import Image

import mspt_pyiqa  # noqa: F401  (registers mspt_face)
from mspt_pyiqa import weights as W
from mspt_pyiqa.cli.main import main
from mspt_pyiqa.demo import example_faces
from mspt_pyiqa.scoring.writer import read_results

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device"),
    pytest.mark.skipif(W.default_entry_name() is None, reason="no released weights in the catalog"),
]

REFERENCE = Path(__file__).resolve().parent / "data" / "release_reference_scores.json"
TF32_ATOL = 5e-3   # default settings (TF32 convolutions allowed)
FP32_ATOL = 1e-4   # TF32 off: float32 on both sides


@pytest.fixture
def no_tf32() -> Iterator[None]:
    old = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = old


@pytest.fixture(scope="module")
def demo_paths(tmp_path_factory: pytest.TempPathFactory) -> List[Path]:
    return example_faces(tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="module")
def reference() -> Dict[str, float]:
    ref = json.loads(REFERENCE.read_text())
    assert ref["weights_sha256"] == W.get_entry().sha256, "reference scores belong to another release"
    return ref["scores"]


def _batch(paths: List[Path]) -> torch.Tensor:
    return torch.stack([TF.to_tensor(Image.open(p).convert("RGB")) for p in paths])


def _max_diff(got: Dict[str, float], ref: Dict[str, float]) -> float:
    diff = max(abs(got[k] - ref[k]) for k in ref)
    print(f"max |cuda - cpu reference| = {diff:.2e}")
    return diff


def test_shipped_weights_on_cuda_match_cpu_reference(demo_paths: List[Path], reference: Dict[str, float]) -> None:
    """The README demo faces on the GPU score as recorded on the CPU (tests/data), default settings."""
    metric = pyiqa.create_metric("mspt_face", device="cuda")
    assert next(metric.net.parameters()).is_cuda
    got = {p.name: float(metric(str(p))) for p in demo_paths}
    assert _max_diff(got, reference) < TF32_ATOL, got
    # The order of the seven demo images is the CPU's.
    assert sorted(got, key=got.get) == sorted(reference, key=reference.get)


def test_cuda_without_tf32_matches_cpu_to_float32_rounding(no_tf32: None, demo_paths: List[Path],
                                                           reference: Dict[str, float]) -> None:
    metric = pyiqa.create_metric("mspt_face", device="cuda")
    got = {p.name: float(metric(str(p))) for p in demo_paths}
    assert _max_diff(got, reference) < FP32_ATOL, got


def test_cuda_batch_invariance_and_determinism(no_tf32: None, demo_paths: List[Path]) -> None:
    metric = pyiqa.create_metric("mspt_face", device="cuda")
    x = _batch(demo_paths).cuda()
    with torch.no_grad():
        batch = metric(x).view(-1).cpu()
        again = metric(x).view(-1).cpu()
        single = torch.cat([metric(x[i:i + 1]).view(-1).cpu() for i in range(len(x))])
    assert batch.shape == (len(demo_paths),) and torch.isfinite(batch).all()
    print(f"batch vs one at a time: {float((batch - single).abs().max()):.2e}; repeat: {float((batch - again).abs().max()):.2e}")
    assert torch.allclose(batch, single, atol=FP32_ATOL)
    assert torch.allclose(batch, again, atol=1e-6)


def test_cuda_gradients_reach_the_input(demo_paths: List[Path]) -> None:
    """``as_loss=True`` on the GPU: a finite, non-zero gradient on a CUDA image (loss use in restoration)."""
    metric = pyiqa.create_metric("mspt_face", device="cuda", as_loss=True)
    x = _batch(demo_paths[:2]).cuda().requires_grad_(True)
    score = metric(x)
    assert score.is_cuda and score.requires_grad
    score.mean().backward()
    assert x.grad is not None and x.grad.is_cuda
    assert torch.isfinite(x.grad).all() and float(x.grad.abs().sum()) > 0


def test_score_cli_on_cuda_matches_cpu(tmp_path: Path, demo_paths: List[Path]) -> None:
    """``mspt-face score --device cuda``: same rows as on the CPU, a broken file reported, not fatal."""
    folder = tmp_path / "in"
    folder.mkdir()
    for p in demo_paths:
        (folder / p.name).write_bytes(p.read_bytes())
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot an image")
    rows = {}
    for device in ("cpu", "cuda"):
        out = tmp_path / f"{device}.csv"
        code = main(["score", str(folder), "-o", str(out), "--device", device, "--workers", "0",
                     "--no-progress", "--table-rows", "0"])
        assert code == 0
        rows[device] = {Path(r["path"]).name: r for r in read_results(out)}
    assert rows["cuda"]["broken.png"]["status"] != "ok" and "broken.png" in rows["cuda"]["broken.png"]["message"]
    ok = [n for n, r in rows["cpu"].items() if r["status"] == "ok"]
    assert len(ok) == len(demo_paths)
    diff = max(abs(rows["cuda"][n]["score"] - rows["cpu"][n]["score"]) for n in ok)
    print(f"score CLI max |cuda - cpu| = {diff:.2e}")
    assert diff < TF32_ATOL


@pytest.mark.parametrize("amp", [False, True], ids=["fp32", "amp"])
def test_three_stage_recipe_on_cuda_at_paper_resolutions(tmp_path: Path, amp: bool) -> None:
    """The toy three-stage recipe at the paper's 224/336/448 px on the GPU (``num_gpu: 1``), with and
    without autocast + GradScaler; the checkpoints it writes load and score on a CPU."""
    from mspt_pyiqa.train import run_recipe
    from mspt_pyiqa.utils.io import atomic_write_yaml as write_yaml
    from mspt_pyiqa.train.toy import toy_recipe
    from mspt_pyiqa.data.toy import make_toy_stages

    csvs = make_toy_stages(tmp_path / "data", per_stage=10, n_val=4, size=128)
    recipe = toy_recipe(csvs, resolutions=(224, 336, 448))
    recipe["num_gpu"] = 1
    for stage in recipe["stages"]:
        stage["overrides"]["train"]["amp"] = amp
    summary = run_recipe(write_yaml(tmp_path / "recipe.yml", recipe), tmp_path / "run")

    stages = summary["stages"]
    assert len(stages) == 3
    table = pd.read_csv(tmp_path / "run" / "forgetting.csv")
    assert sorted(set(table["resolution"])) == [224, 336, 448]
    assert all(math.isfinite(v) for v in table[["srcc", "plcc"]].to_numpy().ravel())
    best = Path(stages[-1]["best_checkpoint"])
    state = W.read_checkpoint(best)
    assert all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point())
    # A GPU-trained checkpoint is a plain CPU-loadable file (no CUDA tensors needed to read it).
    cpu = pyiqa.create_metric("mspt_face", device="cpu", pretrained_model_path=str(best), test_img_size=448)
    x = torch.rand(2, 3, 448, 448, generator=torch.Generator().manual_seed(0))
    assert np.isfinite(cpu(x).view(-1).numpy()).all()
