"""Small shared helpers for the degradation functions (uint8 RGB in, uint8 RGB out)."""
from __future__ import annotations

import numpy as np

# Spatial parameters (blur widths, motion length) are given for a face whose short side is
# REF_SIZE pixels and scaled with the actual short side, so that a severity means the same
# visible damage after the network resizes the face to its test size (short side 224-512).
REF_SIZE = 256


def spatial_scale(img: np.ndarray) -> float:
    """Factor that converts a length defined at ``REF_SIZE`` px into pixels of ``img``."""
    return min(img.shape[0], img.shape[1]) / float(REF_SIZE)


def to_float(img: np.ndarray) -> np.ndarray:
    """uint8 (H, W, 3) in [0, 255] -> float32 in [0, 1]."""
    return img.astype(np.float32) / 255.0


def to_uint8(x: np.ndarray) -> np.ndarray:
    """float in [0, 1] (values outside are clipped) -> uint8 with rounding."""
    return np.clip(np.rint(x * 255.0), 0, 255).astype(np.uint8)


def check_image(img: np.ndarray) -> np.ndarray:
    """Validate an RGB uint8 image ``(H, W, 3)``; returns a C-contiguous view."""
    if not isinstance(img, np.ndarray) or img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"expected an RGB image of shape (H, W, 3), got {getattr(img, 'shape', type(img))}")
    if img.dtype != np.uint8:
        raise ValueError(f"expected dtype uint8, got {img.dtype}")
    if min(img.shape[:2]) < 8:
        raise ValueError(f"image too small for degradation: {img.shape[:2]}")
    return np.ascontiguousarray(img)


def check_severity(severity: float) -> float:
    """Severity must be a finite float in [0, 1]: 0 = identity, 1 = very strong."""
    s = float(severity)
    if not (0.0 <= s <= 1.0):
        raise ValueError(f"severity must be in [0, 1], got {severity!r}")
    return s
