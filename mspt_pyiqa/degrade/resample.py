"""Down-then-up resampling (loss of resolution) with randomly chosen kernels.

Downscale factor = 1 + 7 * severity (up to 8x, the usual x8 of face super-resolution
benchmarks). Down kernel: area, bilinear, bicubic, nearest or Lanczos; up kernel: bilinear,
bicubic or nearest; chosen by ``rng`` because real pipelines use all of them and each leaves
a different signature (aliasing, blockiness, ringing).
"""
from __future__ import annotations

import cv2
import numpy as np

FACTOR_MAX = 8.0
DOWN_KERNELS = (cv2.INTER_AREA, cv2.INTER_LINEAR, cv2.INTER_CUBIC, cv2.INTER_NEAREST, cv2.INTER_LANCZOS4)
UP_KERNELS = (cv2.INTER_LINEAR, cv2.INTER_CUBIC, cv2.INTER_NEAREST)
# Nearest upsampling is rarer in practice than smooth kernels.
UP_PROBS = (0.45, 0.45, 0.10)


def resample(img: np.ndarray, severity: float, rng: np.random.Generator) -> np.ndarray:
    """Downscale by ``1 + 7 * severity`` and upscale back to the original size."""
    h, w = img.shape[:2]
    factor = 1.0 + (FACTOR_MAX - 1.0) * severity
    dh, dw = max(2, int(round(h / factor))), max(2, int(round(w / factor)))
    down = DOWN_KERNELS[int(rng.integers(len(DOWN_KERNELS)))]
    up = UP_KERNELS[int(rng.choice(len(UP_KERNELS), p=UP_PROBS))]
    if (dh, dw) == (h, w):
        return img.copy()
    small = cv2.resize(img, (dw, dh), interpolation=down)
    return cv2.resize(small, (w, h), interpolation=up)
