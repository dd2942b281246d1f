"""Degradation library: identity at 0, reproducibility, shapes, monotonic damage, bad input."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from mspt_pyiqa.degrade import KINDS, apply, apply_with_parts
from mspt_pyiqa.degrade.compress import webp_available

REQUIRED = ("gaussian_blur", "motion_blur", "defocus_blur", "gaussian_noise", "poisson_noise", "jpeg",
            "resample", "overexposure", "underexposure", "contrast_loss", "saturation", "colour_cast", "chain")
SEVERITIES = (0.1, 0.3, 0.6, 1.0)


@pytest.fixture(scope="module")
def face() -> np.ndarray:
    """The astronaut's face (skimage, public domain) at 96x104 px, RGB uint8 (non-square on purpose)."""
    from skimage import data

    return cv2.resize(data.astronaut()[20:240, 140:360], (96, 104), interpolation=cv2.INTER_AREA)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(((a.astype(np.float64) - b) ** 2).mean())
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def test_kinds_cover_the_issue() -> None:
    assert set(REQUIRED) <= set(KINDS)
    assert ("webp" in KINDS) == webp_available()
    assert len(set(KINDS)) == len(KINDS)


@pytest.mark.parametrize("kind", KINDS)
def test_identity_at_severity_zero(face: np.ndarray, kind: str) -> None:
    out, parts = apply_with_parts(face, kind, 0.0, np.random.default_rng(0))
    assert np.array_equal(out, face) and out is not face and parts == []


@pytest.mark.parametrize("kind", KINDS)
def test_reproducible_by_seed_and_shape_kept(face: np.ndarray, kind: str) -> None:
    a = apply(face, kind, 0.6, np.random.default_rng(123))
    b = apply(face, kind, 0.6, np.random.default_rng(123))
    assert a.shape == face.shape and a.dtype == np.uint8
    assert np.array_equal(a, b)
    assert not np.array_equal(a, face)


@pytest.mark.parametrize("kind", ["gaussian_noise", "poisson_noise", "chain", "motion_blur", "colour_cast"])
def test_different_seeds_differ(face: np.ndarray, kind: str) -> None:
    a = apply(face, kind, 0.6, np.random.default_rng(1))
    b = apply(face, kind, 0.6, np.random.default_rng(2))
    assert not np.array_equal(a, b)


@pytest.mark.parametrize("kind", KINDS)
def test_damage_grows_with_severity(face: np.ndarray, kind: str) -> None:
    """PSNR against the original falls with severity (same seed: same angle, kernel, chain)."""
    for seed in (0, 1):
        values = [psnr(apply(face, kind, s, np.random.default_rng(seed)), face) for s in SEVERITIES]
        assert all(x > y for x, y in zip(values, values[1:])), (kind, seed, values)


def test_bad_input_is_rejected(face: np.ndarray) -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="unknown degradation kind"):
        apply(face, "sepia", 0.5, rng)
    with pytest.raises(ValueError, match="severity"):
        apply(face, "jpeg", 1.5, rng)
    with pytest.raises(ValueError, match="uint8"):
        apply(face.astype(np.float32), "jpeg", 0.5, rng)
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        apply(face[..., 0], "jpeg", 0.5, rng)


def test_chain_parts_are_reported(face: np.ndarray) -> None:
    seen = set()
    for seed in range(20):
        _, parts = apply_with_parts(face, "chain", 0.8, np.random.default_rng(seed))
        assert 1 <= len(parts) <= 4
        assert all(0 < s <= 0.8 for _, s in parts)
        if parts[-1][0] in ("jpeg", "webp"):
            assert all(k not in ("jpeg", "webp") for k, _ in parts[:-1])  # compression comes last
        seen.update(k for k, _ in parts)
    assert {"resample", "jpeg"} <= seen and seen & {"gaussian_blur", "motion_blur", "defocus_blur"}
