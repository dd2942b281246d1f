"""Realistic degradation chains as blind face restoration papers synthesise inputs.

GFPGAN / CodeFormer / Real-ESRGAN degrade a clean face by blur -> downsample -> noise ->
JPEG -> upsample. Here the chain severity ``s`` scales every part: each part is included
with a fixed probability (blur 0.9, downsample 0.8, noise 0.7, compression 0.9; at least
one part) and gets a sub-severity ``s * u`` with ``u ~ U(0.4, 1)``. Blur, downsample and
noise come in random order; compression comes last (it is the step that saves the file)
and the image is upsampled back to its size at the very end, so noise and JPEG applied
after the downsample are magnified, as in real low-resolution inputs.
"""
from __future__ import annotations

from typing import Dict, List, Tuple

import cv2
import numpy as np

from mspt_pyiqa.degrade.blur import defocus_blur, gaussian_blur, motion_blur
from mspt_pyiqa.degrade.compress import jpeg, webp
from mspt_pyiqa.degrade.noise import gaussian_noise, poisson_noise
from mspt_pyiqa.degrade.resample import DOWN_KERNELS, FACTOR_MAX, UP_KERNELS, UP_PROBS

INCLUDE_PROB = {"blur": 0.9, "downsample": 0.8, "noise": 0.7, "compression": 0.9}
SUB_SEVERITY_LOW = 0.4
BLUR_KINDS = ("gaussian_blur", "motion_blur", "defocus_blur")
BLUR_PROBS = (0.6, 0.2, 0.2)
NOISE_KINDS = ("gaussian_noise", "poisson_noise")
COMPRESSION_KINDS = ("jpeg", "webp")
COMPRESSION_PROBS = (0.85, 0.15)

_FUNCS = {
    "gaussian_blur": gaussian_blur,
    "motion_blur": motion_blur,
    "defocus_blur": defocus_blur,
    "gaussian_noise": gaussian_noise,
    "poisson_noise": poisson_noise,
    "jpeg": jpeg,
    "webp": webp,
}


def plan_chain(severity: float, rng: np.random.Generator, webp_ok: bool = True) -> List[Tuple[str, float]]:
    """Draw the parts of one chain: a list of ``(kind, sub_severity)`` in execution order.

    ``kind`` is a single-degradation name (``resample`` stands for the downsample whose
    upsample back happens at the end). Sub-severities are in (0, severity].
    """
    groups = [g for g in ("blur", "downsample", "noise", "compression") if rng.random() < INCLUDE_PROB[g]]
    if not groups:
        groups = [("blur", "downsample", "noise", "compression")[int(rng.integers(4))]]
    head = [g for g in groups if g != "compression"]
    head = [head[i] for i in rng.permutation(len(head))]
    order = head + [g for g in groups if g == "compression"]
    parts: List[Tuple[str, float]] = []
    for g in order:
        sub = float(severity * rng.uniform(SUB_SEVERITY_LOW, 1.0))
        if g == "blur":
            kind = BLUR_KINDS[int(rng.choice(len(BLUR_KINDS), p=BLUR_PROBS))]
        elif g == "downsample":
            kind = "resample"
        elif g == "noise":
            kind = NOISE_KINDS[int(rng.integers(len(NOISE_KINDS)))]
        else:
            kind = COMPRESSION_KINDS[int(rng.choice(2, p=COMPRESSION_PROBS))] if webp_ok else "jpeg"
        parts.append((kind, sub))
    return parts


def run_chain(img: np.ndarray, parts: List[Tuple[str, float]], rng: np.random.Generator) -> np.ndarray:
    """Execute a planned chain on ``img`` (uint8 RGB); output has the input's size."""
    h, w = img.shape[:2]
    x = img
    up = cv2.INTER_LINEAR
    for kind, sub in parts:
        if kind == "resample":
            factor = 1.0 + (FACTOR_MAX - 1.0) * sub
            dh, dw = max(8, int(round(h / factor))), max(8, int(round(w / factor)))
            down = DOWN_KERNELS[int(rng.integers(len(DOWN_KERNELS)))]
            up = UP_KERNELS[int(rng.choice(len(UP_KERNELS), p=UP_PROBS))]
            x = cv2.resize(x, (dw, dh), interpolation=down)
        else:
            x = _FUNCS[kind](x, sub, rng)
    if x.shape[:2] != (h, w):
        x = cv2.resize(x, (w, h), interpolation=up)
    return x


def chain_info(parts: List[Tuple[str, float]]) -> Dict[str, object]:
    """A JSON-able description of a chain, e.g. ``{'parts': 'gaussian_blur:0.31>jpeg:0.52'}``."""
    return {"parts": ">".join(f"{k}:{s:.3f}" for k, s in parts)}
