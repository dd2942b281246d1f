"""Compression degradations: JPEG and WebP through OpenCV's codecs.

Quality = round(100 - (100 - q_min) * sqrt(severity)), q_min = 5 for JPEG and 1 for WebP:
JPEG 70 / 52 / 36 / 21 / 5 at severities 0.1 / 0.25 / 0.45 / 0.7 / 1. The square root
spreads the visible range (artefacts appear below quality ~75) over the severity scale; a
linear map would leave severities below 0.4 almost invisible. Severity 0 is the identity
(no re-encoding). Chroma subsampling is OpenCV's default (4:2:0 for JPEG). WebP needs a
lower floor because its low qualities smooth rather than block.
"""
from __future__ import annotations

import cv2
import numpy as np

JPEG_QUALITY_MIN = 5
WEBP_QUALITY_MIN = 1


def quality_for(severity: float, q_min: int = JPEG_QUALITY_MIN) -> int:
    """Codec quality for a severity in (0, 1]."""
    return int(round(100 - (100 - q_min) * float(severity) ** 0.5))


def _roundtrip(img: np.ndarray, ext: str, flag: int, quality: int) -> np.ndarray:
    ok, buf = cv2.imencode(ext, cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [flag, quality])
    if not ok:
        raise RuntimeError(f"OpenCV could not encode {ext} at quality {quality}")
    dec = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    return cv2.cvtColor(dec, cv2.COLOR_BGR2RGB)


def jpeg(img: np.ndarray, severity: float, rng: np.random.Generator) -> np.ndarray:
    """JPEG round trip at quality 100 - 95 * sqrt(severity)."""
    return _roundtrip(img, ".jpg", cv2.IMWRITE_JPEG_QUALITY, quality_for(severity, JPEG_QUALITY_MIN))


def webp(img: np.ndarray, severity: float, rng: np.random.Generator) -> np.ndarray:
    """WebP (lossy) round trip at quality 100 - 99 * sqrt(severity)."""
    return _roundtrip(img, ".webp", cv2.IMWRITE_WEBP_QUALITY, quality_for(severity, WEBP_QUALITY_MIN))


def webp_available() -> bool:
    """True when this OpenCV build can encode WebP."""
    try:
        ok, _ = cv2.imencode(".webp", np.zeros((8, 8, 3), np.uint8), [cv2.IMWRITE_WEBP_QUALITY, 50])
        return bool(ok)
    except cv2.error:
        return False
