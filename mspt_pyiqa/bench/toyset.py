"""A small labelled face set in the synthetic-corpus layout, for testing the leaderboard.

Clean face photos (e.g. ``../shared/data/faces``) are resized (short side ``size``,
centre crop to square) and degraded with four simple OpenCV degradations at four levels
each. The pseudo-MOS is defined from the level alone,
``mos = 1 - weight[degradation] * level / (n_levels + 1)``, so it exercises every part of
the harness (FR references, within-photo order, cross-photo correlation) but says nothing
about which metric is better on real data: it is a *provisional* stand-in for the
synthetic face corpus, clearly labelled as such wherever it is reported.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable, Dict, List, Sequence, Tuple

import cv2
import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

# degradation -> (per-level parameters, MOS weight). Parameters are common IQA-database
# ranges (blur sigma in px, noise sigma on 0-255, JPEG quality, down-scale factor).
DEGRADATIONS: Dict[str, Tuple[Sequence[float], float]] = {
    "blur": ((1.0, 2.0, 3.0, 5.0), 1.0),
    "noise": ((6.0, 12.0, 24.0, 40.0), 0.9),
    "jpeg": ((50.0, 25.0, 12.0, 6.0), 0.8),
    "downscale": ((2.0, 3.0, 4.0, 6.0), 0.7),
}


def _blur(img: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    return cv2.GaussianBlur(img, (0, 0), sigmaX=sigma)


def _noise(img: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    noisy = img.astype(np.float32) + rng.normal(0.0, sigma, img.shape).astype(np.float32)
    return np.clip(noisy, 0, 255).astype(np.uint8)


def _jpeg(img: np.ndarray, quality: float, rng: np.random.Generator) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)


def _downscale(img: np.ndarray, factor: float, rng: np.random.Generator) -> np.ndarray:
    h, w = img.shape[:2]
    small = cv2.resize(img, (max(1, round(w / factor)), max(1, round(h / factor))), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)


_APPLY: Dict[str, Callable[[np.ndarray, float, np.random.Generator], np.ndarray]] = {
    "blur": _blur, "noise": _noise, "jpeg": _jpeg, "downscale": _downscale,
}


def _square(img: np.ndarray, size: int) -> np.ndarray:
    h, w = img.shape[:2]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    return cv2.resize(img[top:top + s, left:left + s], (size, size), interpolation=cv2.INTER_AREA)


def make_toyset(photos: Sequence[Path], out_dir: Path, size: int = 256, seed: int = 0) -> Path:
    """Write ``<out_dir>/toyset.csv`` (corpus columns) plus ``ref/`` and ``dist/`` PNGs; returns the CSV path.

    The clean photo (``pristine``, level 0) and every degradation at every level (``1 + 4 x 4`` images per photo);
    ``split`` is ``test`` for all rows.
    """
    rng = np.random.default_rng(seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "ref").mkdir(exist_ok=True)
    (out_dir / "dist").mkdir(exist_ok=True)
    rows: List[Dict[str, object]] = []
    for photo in photos:
        img = cv2.imread(str(photo), cv2.IMREAD_COLOR)
        if img is None:
            logger.warning("toyset: cannot read %s, skipped", photo)
            continue
        clean = _square(img, size)
        sid = photo.stem
        ref_rel = f"ref/{sid}.png"
        cv2.imwrite(str(out_dir / ref_rel), clean)
        # the clean photo itself, as the corpus lists it: degradation 'pristine', level 0
        rows.append({"dist_img": ref_rel, "mos": 1.0, "ref_img": ref_rel, "source_id": sid, "source_set": photo.parent.name,
                     "degradation": "pristine", "severity": 0.0, "level": 0, "stage": 1, "seed": seed, "split": "test"})
        for deg, (params, weight) in DEGRADATIONS.items():
            for level, p in enumerate(params, start=1):
                dist_rel = f"dist/{sid}_{deg}{level}.png"
                cv2.imwrite(str(out_dir / dist_rel), _APPLY[deg](clean, p, rng))
                rows.append({
                    "dist_img": dist_rel,
                    "mos": round(1.0 - weight * level / (len(params) + 1), 4),
                    "ref_img": ref_rel,
                    "source_id": sid,
                    "source_set": photo.parent.name,
                    "degradation": deg,
                    "severity": p,
                    "level": level,
                    "stage": 1,
                    "seed": seed,
                    "split": "test",
                })
    csv = out_dir / "toyset.csv"
    pd.DataFrame(rows).to_csv(csv, index=False)
    return csv


def pick_photos(faces_dir: Path, n: int, seed: int = 0, sets: Sequence[str] = ("scut", "celebahq")) -> List[Path]:
    """``n`` photos drawn (seeded) evenly from the given sub-folders of ``faces_dir``."""
    rng = np.random.default_rng(seed)
    picked: List[Path] = []
    for i, name in enumerate(sets):
        files = sorted((faces_dir / name).glob("*.jpg")) + sorted((faces_dir / name).glob("*.png"))
        k = n // len(sets) + (1 if i < n % len(sets) else 0)
        if files:
            picked += [files[j] for j in rng.choice(len(files), size=min(k, len(files)), replace=False)]
    return picked
