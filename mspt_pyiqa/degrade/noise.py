"""Noise degradations in 0-255 units (not scaled with image size: noise is per pixel).

Gaussian: sigma = 50 * severity, colour (independent per channel) or, with probability
0.3, luminance-only noise, as Real-ESRGAN / GFPGAN synthesis does. Poisson (shot noise):
photon count at white = 10 ** (3.5 - 2.8 * severity), i.e. ~1,700 at severity 0.1 (noise
std ~4/255 at mid grey, like Gaussian sigma 5) down to 5 (very strong); with probability
0.3 luminance-only. Severity 0 is the identity (handled by ``apply``).
"""
from __future__ import annotations

import numpy as np

from mspt_pyiqa.degrade._util import to_float, to_uint8

GAUSS_SIGMA_MAX = 50.0
GRAY_NOISE_PROB = 0.3


def gaussian_noise(img: np.ndarray, severity: float, rng: np.random.Generator) -> np.ndarray:
    """Additive Gaussian noise with sigma = 50 * severity on the 0-255 scale."""
    sigma = GAUSS_SIGMA_MAX * severity
    gray = rng.random() < GRAY_NOISE_PROB
    shape = img.shape[:2] + ((1,) if gray else (3,))
    noise = rng.standard_normal(shape, dtype=np.float32) * sigma
    return np.clip(np.rint(img.astype(np.float32) + noise), 0, 255).astype(np.uint8)


def poisson_noise(img: np.ndarray, severity: float, rng: np.random.Generator) -> np.ndarray:
    """Signal-dependent shot noise, peak photon count 10 ** (3.5 - 2.8 * severity)."""
    peak = 10.0 ** (3.5 - 2.8 * severity)
    x = to_float(img)
    gray = rng.random() < GRAY_NOISE_PROB
    if gray:
        lum = x @ np.array([0.299, 0.587, 0.114], np.float32)
        noisy = rng.poisson(lum * peak).astype(np.float32) / peak
        out = x + (noisy - lum)[..., None]
    else:
        out = rng.poisson(x * peak).astype(np.float32) / peak
    return to_uint8(out)
