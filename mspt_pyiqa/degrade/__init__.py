"""Face degradation library: one ``apply`` for every kind, seeded and reproducible.

``apply(img, kind, severity, rng)`` takes an RGB uint8 image ``(H, W, 3)`` and returns a
degraded RGB uint8 image of the same size. ``severity`` is in [0, 1]: 0 returns an exact
copy, 1 is very strong damage. All randomness (noise, kernel angle, resampling kernel,
chain composition) comes from ``rng``, so the same seed gives the same output.
The mapping severity -> physical parameter of each kind is documented in its module;
the mapping severity -> perceptual quality label lives in ``mspt_pyiqa.corpus.labels``.
"""
from __future__ import annotations

import inspect
from typing import Any, Callable, Dict, List, Tuple

import numpy as np

from mspt_pyiqa.degrade._util import check_image, check_severity
from mspt_pyiqa.degrade.blur import defocus_blur, gaussian_blur, motion_blur
from mspt_pyiqa.degrade.chain import plan_chain, run_chain
from mspt_pyiqa.degrade.compress import jpeg, webp, webp_available
from mspt_pyiqa.degrade.noise import gaussian_noise, poisson_noise
from mspt_pyiqa.degrade.photometric import (
    colour_cast,
    contrast_loss,
    overexposure,
    saturation,
    underexposure,
)
from mspt_pyiqa.degrade.resample import resample

DegradeFn = Callable[[np.ndarray, float, np.random.Generator], np.ndarray]

_WEBP = webp_available()

SINGLE: Dict[str, DegradeFn] = {
    "gaussian_blur": gaussian_blur,
    "motion_blur": motion_blur,
    "defocus_blur": defocus_blur,
    "gaussian_noise": gaussian_noise,
    "poisson_noise": poisson_noise,
    "jpeg": jpeg,
    **({"webp": webp} if _WEBP else {}),
    "resample": resample,
    "overexposure": overexposure,
    "underexposure": underexposure,
    "contrast_loss": contrast_loss,
    "saturation": saturation,
    "colour_cast": colour_cast,
}

#: Every degradation kind ``apply`` accepts (``webp`` only when OpenCV can encode it).
KINDS: Tuple[str, ...] = tuple(SINGLE) + ("chain",)

Parts = List[Tuple[str, float]]


def apply_with_parts(
    img: np.ndarray, kind: str, severity: float, rng: np.random.Generator, **params: Any
) -> Tuple[np.ndarray, Parts]:
    """Like :func:`apply`, also returning the executed parts ``[(single_kind, severity), ...]``.

    For a single kind the parts are ``[(kind, severity)]``; for ``chain`` they are the drawn
    chain steps (see :mod:`mspt_pyiqa.degrade.chain`); at severity 0 they are empty.
    ``params``: fixed choices a single kind would otherwise draw from ``rng`` (``direction``
    of ``saturation``, ``theta`` of ``colour_cast``); a kind that takes none rejects them.
    """
    img = check_image(img)
    s = check_severity(severity)
    if kind not in KINDS:
        raise ValueError(f"unknown degradation kind {kind!r}; known: {', '.join(KINDS)}")
    if s == 0.0:
        return img.copy(), []
    if params and kind == "chain":
        raise ValueError(f"kind 'chain' takes no fixed parameters, got {sorted(params)}")
    if kind == "chain":
        parts = plan_chain(s, rng, webp_ok=_WEBP)
        return run_chain(img, parts, rng), parts
    unknown = set(params) - set(inspect.signature(SINGLE[kind]).parameters) if params else set()
    if unknown:
        raise ValueError(f"kind {kind!r} takes no parameter(s) {sorted(unknown)}")
    out = SINGLE[kind](img, s, rng, **params)
    return np.ascontiguousarray(out, dtype=np.uint8), [(kind, s)]


def apply(img: np.ndarray, kind: str, severity: float, rng: np.random.Generator, **params: Any) -> np.ndarray:
    """Degrade an RGB uint8 image ``(H, W, 3)`` by ``kind`` at ``severity`` in [0, 1].

    Returns a new uint8 RGB array of the same shape; severity 0 is an exact copy.
    ``params``: fixed choices of a single kind (see :func:`apply_with_parts`).
    """
    return apply_with_parts(img, kind, severity, rng, **params)[0]


__all__ = ["KINDS", "SINGLE", "apply", "apply_with_parts"]
