"""Native-scale degradations: damage a photo at its own resolution, as a user's image is damaged.

A user's photo is blurred, noised or compressed at the resolution it has, and only then
resized by the metric (``mspt_pyiqa.preprocess.resize_to_test_size``). This module does the
same, with *physical* settings instead of the corpus's severities:

===============  ===========================================  ==============================
kind             value                                        stronger when
===============  ===========================================  ==============================
gaussian_blur    sigma in px of a photo with a 384 px short   value grows
                 side (scaled with the photo's short side)
motion_blur      line length in px at 384 px (scaled)         value grows
gaussian_noise   sigma on the 0-255 scale (colour noise)      value grows
jpeg             JPEG quality 1-100 (OpenCV, 4:2:0 chroma)    value falls
webp             WebP quality 1-100                           value falls
resample         down-then-up factor (area down, bicubic up)  value grows
chain            restoration-style chain strength t in (0, 1] value grows
===============  ===========================================  ==============================

The chain at strength ``t`` is what blind face restoration papers synthesise: Gaussian blur
(sigma ``2.5 t`` px at 384 px), area downsampling by ``1 + 3 t``, colour Gaussian noise
(sigma ``15 t``), JPEG at quality ``round(80 - 60 t)`` on the small image, bicubic upsampling
back to the photo's size.

Every ladder is *common random*: one seed per (photo, kind) gives the same noise field, the
same motion angle and the same chain noise draws at every level, so only the strength moves.
:func:`encode` gives the bytes of the file a user would have (JPEG / WebP levels as real
compressed files, the others as lossless PNG); :func:`degrade` gives the decoded image.
:func:`training_ladder` is the path a training set takes: a native resolution drawn from the
users' range, the ladder degraded there, then the metric's own resize.
"""
from __future__ import annotations

from typing import Dict, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
import torch

from mspt_pyiqa.degrade._util import check_image
from mspt_pyiqa.degrade.blur import motion_kernel
from mspt_pyiqa.preprocess import resize_to_test_size, target_size

#: Short side (px) at which the spatial values (blur sigma, motion length) are stated.
REF_SHORT = 384
#: The range of short sides users' photos have (the "real-world resolutions" arm).
USER_SHORT_RANGE: Tuple[int, int] = (256, 1024)

#: The yardstick's six types and their four levels, mildest first.
YARDSTICK_LEVELS: Dict[str, Tuple[float, ...]] = {
    "gaussian_blur": (1.0, 2.0, 3.0, 4.5),
    "motion_blur": (3.0, 7.0, 13.0, 21.0),
    "gaussian_noise": (5.0, 10.0, 20.0, 35.0),
    "jpeg": (40.0, 20.0, 10.0, 5.0),
    "resample": (2.0, 3.0, 4.0, 6.0),
    "chain": (0.25, 0.5, 0.75, 1.0),
}
#: A dense mild end for training ladders (mildest first).
DENSE_MILD: Dict[str, Tuple[float, ...]] = {
    "gaussian_noise": (2.0, 3.0, 4.0, 5.0, 6.0, 8.0),
    "jpeg": (70.0, 60.0, 50.0, 40.0, 30.0),
    "webp": (70.0, 60.0, 50.0, 40.0, 30.0),
    "gaussian_blur": (0.5, 0.75, 1.0, 1.25, 1.5),
}
#: The undamaged value of each kind: severity 0 (the clean photo).
NEUTRAL: Dict[str, float] = {
    "gaussian_blur": 0.0, "motion_blur": 1.0, "gaussian_noise": 0.0, "jpeg": 100.0, "resample": 1.0, "chain": 0.0,
}


def severity(kind: str, value: float) -> float:
    """Severity of one setting on the yardstick's scale: 0 = clean, 1-4 = the kind's levels.

    The yardstick states that level ``k`` of every type is equally damaging (that is what its
    SRCC across types measures), so this is the one scale on which settings of different kinds
    compare. Piecewise linear in ``value`` through ``(NEUTRAL[kind], 0)`` and
    ``(YARDSTICK_LEVELS[kind][k - 1], k)``; beyond level 4 the last segment is extended.
    E.g. noise sigma 2.5 -> 0.5, JPEG quality 70 -> 0.5, JPEG quality 30 -> 1.5.
    Raises ``ValueError`` for a kind without yardstick levels (``webp``) or an invalid value.
    """
    _check(kind, value)
    if kind not in YARDSTICK_LEVELS:
        raise ValueError(f"{kind}: no severity scale (the yardstick has levels for {', '.join(YARDSTICK_LEVELS)})")
    xs = np.array((NEUTRAL[kind],) + tuple(YARDSTICK_LEVELS[kind]), dtype=np.float64)
    ys = np.arange(len(xs), dtype=np.float64)
    sign = -1.0 if kind in QUALITY_KINDS else 1.0  # quality falls as damage grows: interpolate on -quality
    x, xs = sign * float(value), sign * xs
    if x >= xs[-1]:
        return float(ys[-1] + (x - xs[-1]) / (xs[-1] - xs[-2]))
    return float(max(np.interp(x, xs, ys), 0.0))


KINDS: Tuple[str, ...] = ("gaussian_blur", "motion_blur", "gaussian_noise", "jpeg", "webp", "resample", "chain")
#: Kinds whose value is a codec quality (a lower value is stronger damage).
QUALITY_KINDS = frozenset({"jpeg", "webp"})
_LABELS = {
    "gaussian_blur": "Gaussian blur", "motion_blur": "motion blur", "gaussian_noise": "Gaussian noise",
    "jpeg": "JPEG", "webp": "WebP", "resample": "down-up", "chain": "chain",
}


def label(kind: str) -> str:
    """Plain name of a kind for tables, e.g. ``'Gaussian noise'``."""
    return _LABELS.get(kind, kind)


def chain_params(t: float) -> Dict[str, float]:
    """The chain's parts at strength ``t`` in (0, 1]: blur sigma at 384 px, down factor, noise sigma, JPEG quality."""
    return {"blur": 2.5 * t, "factor": 1.0 + 3.0 * t, "noise": 15.0 * t, "quality": float(round(80 - 60 * t))}


def setting(kind: str, value: float) -> str:
    """Human-readable setting of one level, e.g. ``'JPEG quality 20'`` or ``'Gaussian noise sigma 5/255'``."""
    _check(kind, value)
    if kind == "gaussian_blur":
        return f"Gaussian blur sigma {value:g} px at {REF_SHORT} px"
    if kind == "motion_blur":
        return f"motion blur length {value:g} px at {REF_SHORT} px"
    if kind == "gaussian_noise":
        return f"Gaussian noise sigma {value:g}/255"
    if kind in QUALITY_KINDS:
        return f"{label(kind)} quality {int(value)}"
    if kind == "resample":
        return f"down-up x{value:g}"
    p = chain_params(value)
    return (f"chain t={value:g}: blur {p['blur']:g} px, down x{p['factor']:g}, noise {p['noise']:g}/255, "
            f"JPEG q{int(p['quality'])}")


def _check(kind: str, value: float) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown native degradation kind {kind!r}; known: {', '.join(KINDS)}")
    v = float(value)
    if not np.isfinite(v):
        raise ValueError(f"{kind}: value must be finite, got {value!r}")
    if kind in QUALITY_KINDS and not 1 <= v <= 100:
        raise ValueError(f"{kind}: quality must be in [1, 100], got {value!r}")
    if kind == "resample" and v < 1.0:
        raise ValueError(f"resample: factor must be >= 1, got {value!r}")
    if kind == "chain" and not 0.0 <= v <= 1.0:
        raise ValueError(f"chain: strength must be in [0, 1], got {value!r}")
    if kind in ("gaussian_blur", "motion_blur", "gaussian_noise") and v < 0:
        raise ValueError(f"{kind}: value must be >= 0, got {value!r}")


def _scale(img: np.ndarray) -> float:
    return min(img.shape[:2]) / float(REF_SHORT)


def _blur(img: np.ndarray, sigma_ref: float) -> np.ndarray:
    sigma = sigma_ref * _scale(img)
    if sigma <= 0:
        return img.copy()
    return cv2.GaussianBlur(img, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REFLECT101)


def _noise(img: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    field = rng.standard_normal(img.shape, dtype=np.float32)  # drawn even at sigma 0: same field per seed
    return np.clip(np.rint(img.astype(np.float32) + field * float(sigma)), 0, 255).astype(np.uint8)


def _codec(img: np.ndarray, ext: str, quality: int) -> bytes:
    flag = cv2.IMWRITE_JPEG_QUALITY if ext == ".jpg" else cv2.IMWRITE_WEBP_QUALITY
    ok, buf = cv2.imencode(ext, cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [flag, int(quality)])
    if not ok:
        raise RuntimeError(f"OpenCV could not encode {ext} at quality {quality}")
    return buf.tobytes()


def decode(data: bytes) -> np.ndarray:
    """Decode image file bytes to RGB uint8 ``(H, W, 3)``."""
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError("not a decodable image")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def _resample(img: np.ndarray, factor: float) -> np.ndarray:
    h, w = img.shape[:2]
    dh, dw = max(2, int(round(h / factor))), max(2, int(round(w / factor)))
    if (dh, dw) == (h, w):
        return img.copy()
    small = cv2.resize(img, (dw, dh), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)


def _chain(img: np.ndarray, t: float, rng: np.random.Generator) -> np.ndarray:
    p = chain_params(t)
    h, w = img.shape[:2]
    x = _blur(img, p["blur"])
    dh, dw = max(8, int(round(h / p["factor"]))), max(8, int(round(w / p["factor"])))
    x = cv2.resize(x, (dw, dh), interpolation=cv2.INTER_AREA)
    x = _noise(x, p["noise"], rng)
    x = decode(_codec(x, ".jpg", int(p["quality"])))
    return cv2.resize(x, (w, h), interpolation=cv2.INTER_CUBIC)


def encode(img: np.ndarray, kind: str, value: float, seed: int) -> Tuple[bytes, str]:
    """The degraded image as the file a user would have: ``(file bytes, extension)``.

    ``img``: RGB uint8 ``(H, W, 3)`` at its own resolution. JPEG / WebP levels are the codec's
    own file at that quality (``'.jpg'`` / ``'.webp'``); every other kind is a lossless PNG of
    the same size as ``img``. ``seed`` fixes the random parts (noise field, motion angle); the
    same seed at every level of a ladder keeps them common.
    """
    img = check_image(img)
    _check(kind, value)
    if kind in QUALITY_KINDS:
        return _codec(img, ".jpg" if kind == "jpeg" else ".webp", int(round(value))), ".jpg" if kind == "jpeg" else ".webp"
    rng = np.random.default_rng(int(seed))
    if kind == "gaussian_blur":
        out = _blur(img, value)
    elif kind == "motion_blur":
        angle = float(rng.uniform(0.0, 180.0))
        length = float(value) * _scale(img)
        out = img.copy() if length <= 1.0 else cv2.filter2D(img, -1, motion_kernel(length, angle),
                                                              borderType=cv2.BORDER_REFLECT101)
    elif kind == "gaussian_noise":
        out = _noise(img, value, rng)
    elif kind == "resample":
        out = _resample(img, value)
    else:
        out = img.copy() if value <= 0 else _chain(img, value, rng)
    ok, buf = cv2.imencode(".png", cv2.cvtColor(out, cv2.COLOR_RGB2BGR))
    if not ok:
        raise RuntimeError("OpenCV could not encode PNG")
    return buf.tobytes(), ".png"


def degrade(img: np.ndarray, kind: str, value: float, seed: int) -> np.ndarray:
    """The degraded image as decoded from its file: RGB uint8, same ``(H, W, 3)`` as ``img``."""
    return decode(encode(img, kind, value, seed)[0])


def resize_photo(img: np.ndarray, short_side: int) -> np.ndarray:
    """Resize RGB uint8 so its short side is ``short_side`` px: area when shrinking, Lanczos when enlarging."""
    h, w = img.shape[:2]
    nh, nw = target_size(h, w, int(short_side))
    if (nh, nw) == (h, w):
        return img.copy()
    interp = cv2.INTER_AREA if nh < h else cv2.INTER_LANCZOS4
    return cv2.resize(img, (nw, nh), interpolation=interp)


def draw_short_side(seed: int, low: int = USER_SHORT_RANGE[0], high: int = USER_SHORT_RANGE[1]) -> int:
    """A short side drawn uniformly from ``[low, high]`` px by ``seed``."""
    if not 8 <= low <= high:
        raise ValueError(f"short-side range must satisfy 8 <= low <= high, got ({low}, {high})")
    return int(np.random.default_rng(int(seed)).integers(low, high + 1))


def to_tensor(img: np.ndarray) -> torch.Tensor:
    """RGB uint8 ``(H, W, 3)`` -> float ``(3, H, W)`` in [0, 1] (what pyiqa makes of an image file)."""
    return torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1).float().div_(255.0)


def native_ladder(img: np.ndarray, kind: str, levels: Sequence[float], seed: int) -> list:
    """``[clean, level 1, ...]`` as RGB uint8 arrays of ``img``'s size, decoded from their files."""
    return [check_image(img).copy()] + [degrade(img, kind, v, seed) for v in levels]


def training_ladder(
    photo: np.ndarray,
    kind: str,
    levels: Sequence[float],
    seed: int,
    short_side: Union[None, int, Tuple[int, int]] = USER_SHORT_RANGE,
    test_img_size: Optional[int] = 224,
    mode: str = "bilinear",
) -> torch.Tensor:
    """A ladder as the metric sees it: float ``(1 + len(levels), 3, H, W)`` in [0, 1], clean first.

    ``photo``: a clean RGB uint8 source ``(H, W, 3)``. ``short_side``: the native resolution
    to degrade at: ``None`` keeps the photo's own, an int fixes it, a ``(low, high)`` pair
    draws it from ``seed``. Each level is degraded there (same ``seed`` along the ladder: only
    the strength changes), round-tripped through its file format, turned into [0, 1] floats
    and resized by :func:`mspt_pyiqa.preprocess.resize_to_test_size` with ``mode``, exactly the
    metric's pre-processing; ``test_img_size=None`` skips that resize. Levels are in the
    kind's units (see the module table); e.g. ``DENSE_MILD['gaussian_noise']``.
    """
    photo = check_image(photo)
    if isinstance(short_side, tuple):
        short_side = draw_short_side(seed, *short_side)
    if short_side is not None:
        photo = resize_photo(photo, int(short_side))
    batch = torch.stack([to_tensor(x) for x in native_ladder(photo, kind, levels, seed)])
    return resize_to_test_size(batch, test_img_size, mode=mode)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB between two uint8 images of one shape (``inf`` when identical)."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0**2 / mse)
