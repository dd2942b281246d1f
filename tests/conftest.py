"""Shared fixtures: paths to ../shared, real face photos and a small checkpoint written here."""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from types import ModuleType
from typing import Callable, List

import pytest
import torch

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("MSPT_SHARED_DIR", REPO.parent / "shared"))
FACES = SHARED / "data" / "faces"
YUNET = SHARED / "models" / "face_detection_yunet.onnx"

# Two cores are shared by everything in CI: one thread keeps timings stable.
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not FACES.is_dir():
        pytest.skip(f"../shared face photos not found at {FACES}")
    return SHARED


@pytest.fixture(scope="session")
def face_paths(shared_dir: Path) -> List[Path]:
    """A few real face photos from each source in ../shared/data/faces."""
    picks = ["scut/AF1.jpg", "scut/AM10.jpg", "celebahq/" + sorted(os.listdir(FACES / "celebahq"))[0],
             "aaf/" + sorted(os.listdir(FACES / "aaf"))[0]]
    return [FACES / p for p in picks]


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An MSPTNet checkpoint with seeded random weights (no released weights needed)."""
    from mspt_pyiqa.archs import MSPTNet
    from mspt_pyiqa.weights import save_checkpoint

    torch.manual_seed(0)
    net = MSPTNet(pretrained=False, test_img_size=128)
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pth"
    save_checkpoint(net, path, meta={"input_size": 128})
    return path


@pytest.fixture(scope="session")
def eval_script() -> Callable[[str], ModuleType]:
    """Loader of a harness under ``eval/`` (scripts, not a package): ``eval_script("gpu_speed")``."""
    def load(name: str) -> ModuleType:
        spec = importlib.util.spec_from_file_location(name, REPO / "eval" / f"{name}.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod
    return load
