"""Source photos: listing (manifest.csv or a plain folder), loading and resizing.

A source photo is identified by ``source_id`` (its path relative to the faces folder,
e.g. ``scut/AF1.jpg``) and belongs to a ``source_set`` (the first folder of that path:
``scut``, ``celebahq``, ``aaf``; ``root`` for files directly in the folder).
"""
from __future__ import annotations

import csv
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence

import cv2
import numpy as np

log = logging.getLogger(__name__)
IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


class SourceImageError(RuntimeError):
    """A source photo could not be read or is unusable; the message names the file."""


@dataclass(frozen=True)
class Source:
    """One clean source photo."""

    source_id: str  # path relative to the faces root, '/'-separated
    source_set: str
    path: Path  # absolute path


def _source_set(rel: str) -> str:
    parts = rel.split("/")
    return parts[0] if len(parts) > 1 else "root"


def list_sources(root: Path, sets: Optional[Sequence[str]] = None) -> List[Source]:
    """Source photos under ``root`` (``manifest.csv`` if present, else a recursive scan).

    ``sets`` keeps only those source sets. Sorted by ``source_id`` for determinism.
    """
    root = Path(root).resolve()
    if not root.is_dir():
        raise FileNotFoundError(f"faces folder not found: {root}")
    manifest = root / "manifest.csv"
    if manifest.is_file():
        with open(manifest, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            if "path" not in (reader.fieldnames or []):
                raise ValueError(f"{manifest}: needs a 'path' column, found {reader.fieldnames}")
            rels = [row["path"].replace("\\", "/") for row in reader]
    else:
        rels = [p.relative_to(root).as_posix() for p in root.rglob("*") if p.suffix.lower() in IMAGE_EXTS]
    out = [Source(r, _source_set(r), root / r) for r in rels]
    if sets is not None:
        wanted = set(sets)
        out = [s for s in out if s.source_set in wanted]
    return sorted(out, key=lambda s: s.source_id)


def stable_hash(text: str, seed: int) -> int:
    """A 64-bit hash of ``text`` and ``seed`` that does not depend on PYTHONHASHSEED."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{text}".encode()).digest()[:8], "little")


def assign_splits(source_ids: Iterable[str], fractions: Dict[str, float], seed: int) -> Dict[str, str]:
    """Split by source photo: ``{source_id: 'train'|'val'|'test'|...}``, deterministic by seed.

    Each id maps to one split only (no source photo in two splits). An id's split depends
    only on its own hash, so adding photos to the folder does not move existing ones.
    ``fractions`` gives the non-train splits, e.g. ``{'val': 0.1, 'test': 0.1}``.
    """
    total = sum(float(v) for v in fractions.values())
    if total >= 1.0 or any(float(v) < 0 for v in fractions.values()):
        raise ValueError(f"split fractions must be >= 0 and sum below 1, got {fractions}")
    out: Dict[str, str] = {}
    for sid in source_ids:
        u = (stable_hash(sid, seed) >> 11) / float(1 << 53)  # uniform in [0, 1)
        acc, split = 0.0, "train"
        for name, frac in sorted(fractions.items()):
            acc += float(frac)
            if u < acc:
                split = name
                break
        out[sid] = split
    return out


def load_rgb(path: Path) -> np.ndarray:
    """Read an image file as RGB uint8 ``(H, W, 3)``; raises :class:`SourceImageError`."""
    path = Path(path)
    if not path.is_file():
        raise SourceImageError(f"{path}: file not found")
    data = np.fromfile(str(path), dtype=np.uint8)
    if data.size == 0:
        raise SourceImageError(f"{path}: empty file")
    img = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if img is None:
        raise SourceImageError(f"{path}: not a decodable image (corrupt or unsupported format)")
    if min(img.shape[:2]) < 32:
        raise SourceImageError(f"{path}: image too small ({img.shape[1]}x{img.shape[0]} px, need >= 32)")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def resize_short(img: np.ndarray, short_side: Optional[int]) -> np.ndarray:
    """Resize so that the short side is ``short_side`` px (area when shrinking, bicubic when
    enlarging); ``None`` keeps the size. Same rounding as ``mspt_pyiqa.preprocess.target_size``."""
    if not short_side:
        return img
    h, w = img.shape[:2]
    if h <= w:
        nh, nw = short_side, max(1, int(round(w * short_side / h)))
    else:
        nh, nw = max(1, int(round(h * short_side / w))), short_side
    if (nh, nw) == (h, w):
        return img
    interp = cv2.INTER_AREA if nh < h else cv2.INTER_CUBIC
    return cv2.resize(img, (nw, nh), interpolation=interp)


def split_photos(faces: Path, sets: Sequence[str], split: str, fractions: Dict[str, float], split_seed: int,
                 limit: Optional[int] = None, seed: int = 0, salt: str = "") -> List[Source]:
    """Photos of ``sets`` in ``split`` of the by-source-photo assignment (:func:`assign_splits`
    with ``fractions`` and ``split_seed``), at most ``limit``, balanced across the sets (round
    robin over each set's order by ``stable_hash(salt|source_id, seed)``). ``ValueError`` when
    ``faces`` holds no photo of ``sets``; fewer are returned when the split holds fewer."""
    sources = list_sources(Path(faces), sets=list(sets))
    if not sources:
        raise ValueError(f"{faces}: no photos of the sets {list(sets)}")
    splits = assign_splits([s.source_id for s in sources], fractions, split_seed)
    per_set: Dict[str, List[Source]] = {}
    for s in sources:
        if splits[s.source_id] == split:
            per_set.setdefault(s.source_set, []).append(s)
    for group in per_set.values():
        group.sort(key=lambda s: stable_hash(f"{salt}|{s.source_id}", seed))
    queues = [per_set[k] for k in sorted(per_set)]
    n = sum(len(q) for q in queues) if limit is None else int(limit)
    out: List[Source] = []
    while len(out) < n and any(queues):
        for q in queues:
            if q and len(out) < n:
                out.append(q.pop(0))
    return out

