"""The local-contrast probe's edits: each changes the image in the direction its name states, keeps
its shape and range, and an unknown edit is refused by name."""
from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "probes"))
from local_contrast_probe import EDITS, edit, photo_images  # noqa: E402


def _face_like(seed: int = 0, softness: float = 4.0) -> np.ndarray:
    """A 96 x 80 RGB image with soft structure (random values blurred by ``softness`` px), uint8."""
    rng = np.random.default_rng(seed)
    img = cv2.GaussianBlur(rng.uniform(60, 200, (96, 80, 3)).astype(np.float32), (0, 0), softness)
    return np.clip(img, 0, 255).astype(np.uint8)


def _fine_detail(img: np.ndarray) -> float:
    f = img.astype(np.float32)
    return float(np.abs(f - cv2.GaussianBlur(f, (0, 0), 1.5)).mean())


@pytest.mark.parametrize("name", EDITS)
def test_edit_keeps_shape_dtype_and_changes_the_image(name: str) -> None:
    img = _face_like()
    out = edit(img, name)
    assert out.shape == img.shape and out.dtype == np.uint8
    assert np.abs(out.astype(int) - img.astype(int)).max() > 0


def test_edit_directions() -> None:
    detailed = _face_like(softness=1.0)
    assert _fine_detail(edit(detailed, "unsharp")) > 1.3 * _fine_detail(detailed)  # fine-scale contrast up
    img = _face_like()
    assert edit(img, "contrast_down").astype(np.float32).std() < 0.9 * img.astype(np.float32).std()
    lum = lambda x: cv2.cvtColor(x, cv2.COLOR_RGB2LAB)[..., 0].astype(np.float32).std()  # noqa: E731
    assert lum(edit(img, "clahe")) > lum(img)  # CLAHE spreads a low-contrast luminance


def test_unknown_edit_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="unknown edit 'sharpen'"):
        edit(_face_like(), "sharpen")


def test_photo_images_pairs_clean_with_noise_level_1_only(tmp_path: Path) -> None:
    rows = [{"photo": "a", "kind": "clean", "level": "0", "file": "a0.png"},
            {"photo": "a", "kind": "gaussian_noise", "level": "1", "file": "a1.png"},
            {"photo": "a", "kind": "gaussian_noise", "level": "2", "file": "a2.png"},
            {"photo": "b", "kind": "clean", "level": "0", "file": "b0.png"},  # no noise level 1: left out
            {"photo": "c", "kind": "jpeg", "level": "1", "file": "c1.png"}]
    pairs = photo_images(rows, tmp_path)
    assert pairs == {"a": {"clean": tmp_path / "a0.png", "noise": tmp_path / "a1.png"}}
