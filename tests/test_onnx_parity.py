"""ONNX export and the onnxruntime backend: same scores as torch on real face photos (< 1e-4)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import List

import numpy as np
import pytest
import torch

from mspt_pyiqa.cli.main import main
from mspt_pyiqa.scoring.writer import read_results

REPO = Path(__file__).resolve().parent.parent
TOL = 1e-4


@pytest.fixture(scope="module")
def ckpt448(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Seeded random MSPT at the package's default 448 px input, with BN statistics made non-trivial."""
    from mspt_pyiqa.archs.mspt_arch import MSPTNet
    from mspt_pyiqa.weights import save_checkpoint

    torch.manual_seed(0)
    net = MSPTNet(pretrained=False, test_img_size=448)
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):  # like trained statistics, not the 0/1 defaults
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 2.0)
    path = tmp_path_factory.mktemp("onnx") / "mspt448.pth"
    save_checkpoint(net, path, meta={"input_size": 448})
    return path


@pytest.fixture(scope="module")
def exported(ckpt448: Path) -> Path:
    out = ckpt448.parent / "mspt448.onnx"
    assert main(["export", str(out), "--weights", str(ckpt448)]) == 0
    return out


@pytest.fixture(scope="module")
def photos(example_folder: Path) -> List[Path]:
    """The example folder (whole photos and crops, made here), plus 4 photos of each ../shared
    face collection when that folder is present."""
    faces = Path(os.environ.get("MSPT_SHARED_DIR", REPO.parent / "shared")) / "data" / "faces"
    own = sorted(p for p in example_folder.iterdir() if p.is_file() and p.name != "photo_coffee.png")
    shared = [p for sub in ("scut", "celebahq", "aaf") for p in sorted((faces / sub).glob("*.jpg"))[:4]] if faces.is_dir() else []
    return shared + own


def test_export_metadata_and_dynamic_axes(exported: Path) -> None:
    import onnx

    from mspt_pyiqa.onnx_export import read_metadata

    meta = read_metadata(exported)
    assert meta["mspt_input_size"] == "448" and meta["mspt_score_direction"] == "higher is better"
    dims = onnx.load(str(exported)).graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param for d in dims] == ["batch", "", "height", "width"] and dims[1].dim_value == 3


@pytest.mark.parametrize("faces", ["crop", "detect"], ids=["whole_image", "aligned_faces"])
def test_torch_onnxruntime_parity_on_real_faces(photos: List[Path], ckpt448: Path, exported: Path, faces: str) -> None:
    """Identical preprocessed inputs through both backends; batch 1 and one batch of all."""
    from mspt_pyiqa.scoring.model import build_backend
    from mspt_pyiqa.scoring.preprocess import PreprocessConfig, Preprocessor

    torch_b = build_backend("torch", weights=str(ckpt448))
    ort_b = build_backend("onnxruntime", onnx_model=str(exported))
    assert torch_b.input_size == ort_b.input_size == 448
    prep = Preprocessor(PreprocessConfig(input_size=448, faces=faces))
    inputs = [t for p in photos for t in prep(str(p)).inputs]
    assert len(inputs) >= len(photos) - 1
    worst = 0.0
    by_shape = {}
    for t in inputs:
        a, b = torch_b(t[None]), ort_b(t[None])
        worst = max(worst, float(np.abs(a - b).max()))
        by_shape.setdefault(tuple(t.shape), []).append(t)
    for group in by_shape.values():  # dynamic batch: a batch gives the same as one by one
        x = np.stack(group)
        worst = max(worst, float(np.abs(torch_b(x) - ort_b(x)).max()))
    print(f"\nmax |torch - onnxruntime| over {len(inputs)} {'aligned faces' if faces == 'detect' else 'photos'}: {worst:.3e}")
    assert worst < TOL


def test_score_command_backends_agree(tmp_path: Path, photos: List[Path], ckpt448: Path, exported: Path) -> None:
    common = ["--workers", "0", "--no-progress", "--table-rows", "0", "--batch-size", "4"]
    assert main(["score", *map(str, photos[:6]), "-o", str(tmp_path / "t.csv"), "--weights", str(ckpt448), *common]) == 0
    assert main(["score", *map(str, photos[:6]), "-o", str(tmp_path / "o.csv"), "--backend", "onnxruntime",
                 "--onnx-model", str(exported), *common]) == 0
    # Without --onnx-model the torch model is exported on the fly.
    assert main(["score", str(photos[0]), "-o", str(tmp_path / "f.csv"), "--backend", "onnxruntime",
                 "--weights", str(ckpt448), *common]) == 0
    t, o, f = (read_results(tmp_path / n) for n in ("t.csv", "o.csv", "f.csv"))
    assert [r["path"] for r in t] == [r["path"] for r in o]
    diff = max(abs(a["score"] - b["score"]) for a, b in zip(t, o))
    assert diff < TOL + 2e-6  # CSV keeps 6 decimals
    assert abs(f[0]["score"] - t[0]["score"]) < TOL + 2e-6
