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

# Two cores are shared by everything in CI: one thread keeps timings stable.
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not FACES.is_dir():
        pytest.skip(f"../shared face photos not found at {FACES}")
    return SHARED


@pytest.fixture(scope="session")
def face_paths(sample_faces: List[Path]) -> List[Path]:
    """Four face photos: one 350 px SCUT-FBP5500 portrait, one more, one 512x512 CelebA-HQ crop
    and one All-Age-Faces photo from ../shared/data/faces when it is present; otherwise four
    faces made here from scikit-image's astronaut at the same sizes (350, 350, 512, 300x340)."""
    if FACES.is_dir():
        picks = ["scut/AF1.jpg", "scut/AM10.jpg", "celebahq/" + sorted(os.listdir(FACES / "celebahq"))[0],
                 "aaf/" + sorted(os.listdir(FACES / "aaf"))[0]]
        return [FACES / p for p in picks]
    from PIL import Image

    out = []
    for src, size in zip(sample_faces, [(350, 350), (350, 350), (512, 512), (300, 340)]):
        path = src.with_name(f"{src.stem}_{size[0]}x{size[1]}.jpg")
        Image.open(src).convert("RGB").resize(size, Image.BICUBIC).save(path, quality=95)
        out.append(path)
    return out


@pytest.fixture(scope="session")
def yunet() -> str:
    """The YuNet model shipped inside the package (always present: no ../shared needed)."""
    from mspt_pyiqa.face.detector import resolve_detector_model

    return str(resolve_detector_model())


@pytest.fixture(scope="session")
def example_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``python -m mspt_pyiqa.demo --photos``'s folder: whole photos and aligned crops of
    scikit-image's astronaut, clean / JPEG q10 / blurred, and ``coffee()`` without a face."""
    from mspt_pyiqa.demo import example_photos

    folder = tmp_path_factory.mktemp("example_photos")
    example_photos(folder)
    return folder


@pytest.fixture(scope="session")
def sample_faces(example_folder: Path) -> List[Path]:
    """Face images made here (no ../shared): the aligned astronaut crop, its mirror image, a
    tighter crop and a colour-shifted copy, 256 px each (four 'different' faces)."""
    from PIL import Image, ImageOps

    crop = Image.open(example_folder / "crop_astronaut.png").convert("RGB")
    out = example_folder / "samples"
    out.mkdir(exist_ok=True)
    variants = {
        "astronaut.png": crop,
        "astronaut_mirror.png": ImageOps.mirror(crop),
        "astronaut_tight.png": crop.crop((32, 40, 224, 232)).resize((256, 256), Image.BICUBIC),
        "astronaut_warm.png": Image.merge("RGB", [b.point(lambda v, k=k: min(255, int(v * k))) for b, k in zip(crop.split(), (1.1, 1.0, 0.85))]),
    }
    paths = []
    for name, img in variants.items():
        img.save(out / name)
        paths.append(out / name)
    return paths


@pytest.fixture(scope="session")
def scut_faces(sample_faces: List[Path]) -> List[Path]:
    """Seven 350 px face photos named like SCUT-FBP5500's first seven (AF1.jpg, AF10.jpg, ...):
    the real ones from ../shared when present, else astronaut faces made here."""
    real = sorted((FACES / "scut").glob("*.jpg"))[:7] if FACES.is_dir() else []
    if real:
        return real
    from PIL import Image

    folder = sample_faces[0].parent / "scut"
    folder.mkdir(exist_ok=True)
    out = []
    for i, name in enumerate(["AF1", "AF10", "AF100", "AF1000", "AF1001", "AF1002", "AF1003"]):
        img = Image.open(sample_faces[i % len(sample_faces)]).convert("RGB").resize((350, 350), Image.BICUBIC)
        img.rotate(2 * i).save(folder / f"{name}.jpg", quality=95)
        out.append(folder / f"{name}.jpg")
    return out


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


def write_textured_faces(root: Path, n: int = 12, seed: int = 0) -> Path:
    """A tiny faces folder of blurred-noise "photos" (scut: 70 px square; celebahq: 80 x 64), ``n`` of them."""
    import cv2
    import numpy as np

    rng = np.random.default_rng(seed)
    for i in range(n):
        folder, shape = ("scut", (70, 70)) if i % 2 else ("celebahq", (80, 64))
        img = cv2.GaussianBlur(rng.integers(0, 256, (*shape, 3), dtype=np.uint8), (0, 0), 2.0)
        (root / folder).mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / folder / f"p{i}.png"), img)
    return root


@pytest.fixture(scope="session")
def textured_faces() -> Callable[..., Path]:
    """Factory ``(root, n=12, seed=0) -> root`` of :func:`write_textured_faces` (no ../shared needed)."""
    return write_textured_faces
