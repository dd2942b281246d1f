"""Photometric degradations: exposure, contrast, colour saturation and colour cast.

Exposure and colour-cast gains act in approximately linear light (sRGB treated as gamma
2.2), as a camera's exposure and white balance do. Ranges at severity 1: +2 EV over-,
-5 EV under-exposure; contrast reduced to 15% around the mean grey; saturation either to
grey (x0) or x4; colour cast gains up to e^0.8 = 2.2x on one side of the hue circle.
Over-exposure stops at +2 EV because faces on bright backgrounds are blown out beyond it.
"""
from __future__ import annotations

import numpy as np

from typing import Optional

from mspt_pyiqa.degrade._util import to_float, to_uint8

GAMMA = 2.2
OVER_EV_MAX = 2.0
UNDER_EV_MAX = 5.0
CONTRAST_MIN = 0.15
OVERSAT_MAX = 4.0
DESAT_PROB = 0.5
CAST_LOG_GAIN_MAX = 0.8
#: Rec. 601 luma weights of RGB (the "luminance" saturation and colour cast act around).
LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def _exposure(img: np.ndarray, ev: float) -> np.ndarray:
    lin = to_float(img) ** GAMMA
    return to_uint8(np.clip(lin * (2.0**ev), 0.0, 1.0) ** (1.0 / GAMMA))


def overexposure(img: np.ndarray, severity: float, rng: np.random.Generator) -> np.ndarray:
    """Exposure raised by 2 EV * severity; highlights clip (the damage is the lost detail)."""
    return _exposure(img, OVER_EV_MAX * severity)


def underexposure(img: np.ndarray, severity: float, rng: np.random.Generator) -> np.ndarray:
    """Exposure lowered by 5 EV * severity; 8-bit quantisation crushes the shadows."""
    return _exposure(img, -UNDER_EV_MAX * severity)


def contrast_loss(img: np.ndarray, severity: float, rng: np.random.Generator) -> np.ndarray:
    """Contrast scaled by ``1 - 0.85 * severity`` around the image's mean grey (haze-like)."""
    x = to_float(img)
    mean = float(x.mean())
    return to_uint8(mean + (x - mean) * (1.0 - (1.0 - CONTRAST_MIN) * severity))


def saturation(img: np.ndarray, severity: float, rng: np.random.Generator,
               direction: Optional[str] = None) -> np.ndarray:
    """Colour saturation change around luminance: to grey or up to 4x (oversaturation).

    ``direction``: ``"desat"`` or ``"oversat"``; ``None`` draws it from ``rng`` (to grey with
    p=0.5), the corpus's default.
    """
    x = to_float(img)
    lum = (x @ LUMA)[..., None]
    if direction not in (None, "desat", "oversat"):
        raise ValueError(f"saturation direction must be 'desat', 'oversat' or None, got {direction!r}")
    if (rng.random() < DESAT_PROB) if direction is None else direction == "desat":
        factor = 1.0 - severity
    else:
        factor = 1.0 + (OVERSAT_MAX - 1.0) * severity
    return to_uint8(lum + (x - lum) * factor)


def colour_cast(img: np.ndarray, severity: float, rng: np.random.Generator,
                theta: Optional[float] = None) -> np.ndarray:
    """White-balance error: per-channel linear-light gains along a hue direction ``theta``.

    Gains are exp(0.8 * severity * cos(theta - k * 120 deg)) for k = 0, 1, 2 (R, G, B),
    normalised so that the luminance of grey is kept (a cast, not an exposure change).
    ``theta`` (radians) ``None`` draws it uniformly from ``rng``, the corpus's default.
    """
    theta = float(rng.uniform(0.0, 2.0 * np.pi)) if theta is None else float(theta)
    phases = theta - np.array([0.0, 2.0, 4.0]) * np.pi / 3.0
    gains = np.exp(CAST_LOG_GAIN_MAX * severity * np.cos(phases)).astype(np.float32)
    gains /= float(gains @ LUMA)
    lin = to_float(img) ** GAMMA
    return to_uint8(np.clip(lin * gains, 0.0, 1.0) ** (1.0 / GAMMA))
