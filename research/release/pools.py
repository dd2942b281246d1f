"""In-memory pools of degraded faces for one MSPT stage (the release trainer's data).

A pool holds ``N`` square RGB uint8 images at the stage's resolution, their pseudo-MOS
labels and what was done to them. Each source photo is resized (short side) and
centre-cropped to the stage resolution *before* it is degraded, so the network sees every
degradation at 1:1 scale. Pools are cached as ``.npz`` (atomic) so a rerun resumes.
"""
from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
from tqdm import tqdm

from mspt_pyiqa.corpus.sampler import DegradationSampler
from mspt_pyiqa.corpus.sources import Source, SourceImageError, load_rgb, resize_short, stable_hash

logger = logging.getLogger(__name__)


@dataclass
class Pool:
    """Degraded faces of one stage and split. ``images``: ``(N, S, S, 3)`` uint8 RGB."""

    images: np.ndarray
    labels: np.ndarray  # (N,) float32 in [0, 1], higher = better
    source_ids: np.ndarray  # (N,) str
    kinds: np.ndarray  # (N,) str, 'pristine' for undegraded
    severities: np.ndarray  # (N,) float32
    resolution: int
    failed: List[str] = field(default_factory=list)  # "path: reason" of unreadable sources

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def subset(self, index: np.ndarray) -> "Pool":
        """The pool restricted to ``index`` (same resolution)."""
        return Pool(self.images[index], self.labels[index], self.source_ids[index], self.kinds[index],
                    self.severities[index], self.resolution, list(self.failed))

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp.npz", dir=path.parent)
        os.close(fd)
        np.savez(tmp, images=self.images, labels=self.labels, source_ids=self.source_ids, kinds=self.kinds,
                 severities=self.severities, resolution=self.resolution, failed=np.array(self.failed, dtype=str))
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> "Pool":
        d = np.load(path, allow_pickle=False)
        return cls(d["images"], d["labels"], d["source_ids"], d["kinds"], d["severities"],
                   int(d["resolution"]), list(d["failed"]))


def square_face(img: np.ndarray, size: int) -> np.ndarray:
    """Short side -> ``size`` px, then the central ``size`` x ``size`` crop (faces are centred)."""
    img = resize_short(img, size)
    h, w = img.shape[:2]
    top, left = (h - size) // 2, (w - size) // 2
    return np.ascontiguousarray(img[top:top + size, left:left + size])


#: One pool row: ``(image, label, kind, severity)``.
Row = Tuple[np.ndarray, float, str, float]


def collect_pool(
    sources: Sequence[Source], resolution: int, rows_of: Callable[[Source, np.ndarray], List[Row]], desc: str,
) -> Pool:
    """A pool from ``rows_of(source, clean_square_face)`` for every readable source.

    An unreadable source is skipped with a warning and listed in ``Pool.failed``.
    """
    images: List[np.ndarray] = []
    labels, sids, kinds, sevs, failed = [], [], [], [], []
    for src in tqdm(sources, desc=desc, unit="photo"):
        try:
            clean = square_face(load_rgb(src.path), resolution)
        except SourceImageError as err:
            logger.warning("skipping source: %s", err)
            failed.append(str(err))
            continue
        for img, label, kind, sev in rows_of(src, clean):
            images.append(img)
            labels.append(label)
            sids.append(src.source_id)
            kinds.append(kind)
            sevs.append(sev)
    if not images:
        raise RuntimeError(f"{desc}: no usable source photo ({len(failed)} failed)")
    return Pool(np.stack(images), np.asarray(labels, np.float32), np.asarray(sids), np.asarray(kinds),
                np.asarray(sevs, np.float32), resolution, failed)


def build_pool(
    sources: Sequence[Source],
    sampler: DegradationSampler,
    resolution: int,
    per_source: int,
    seed: int,
    desc: str = "pool",
    fixed: Optional[Sequence[Dict[str, Any]]] = None,
    common_random: bool = False,
) -> Pool:
    """Degrade every source ``per_source`` times (or with each ``fixed`` ``{kind, severity}``).

    The rng of sample ``k`` of a source depends only on ``(seed, source_id, k)``, so a pool
    is reproducible and independent of the order or number of other sources.

    ``common_random`` (with ``fixed``): every severity of one kind on one photo gets the same
    random draws (``(seed, source_id, kind)``): the same saturation direction, colour-cast
    hue, motion angle, grey-or-colour noise and noise pattern, so a severity ladder is one
    degradation made stronger (common random numbers) rather than a different random
    degradation at each level.
    """
    n_per = len(fixed) if fixed is not None else per_source

    def rng_of(src: Source, k: int) -> np.random.Generator:
        key = stable_hash(fixed[k]["kind"], seed) % (1 << 32) if common_random and fixed is not None else k
        return np.random.default_rng([seed, stable_hash(src.source_id, seed) % (1 << 32), key])

    def rows_of(src: Source, clean: np.ndarray) -> List[Row]:
        rows = []
        for k in range(n_per):
            rng = rng_of(src, k)
            if fixed is not None:
                img, label, info = sampler.degrade(clean, fixed[k]["kind"], fixed[k]["severity"], rng,
                                                   source_set=src.source_set)
            else:
                img, label, info = sampler(clean, rng, source_set=src.source_set)
            rows.append((img, label, info["degradation"], info["severity"]))
        return rows

    return collect_pool(sources, resolution, rows_of, desc)


def cached_pool(path: Path, build: Any, photos: Optional[Sequence[Source]] = None) -> Pool:
    """Load ``path`` if it exists, else ``build()`` it and save it there.

    ``photos``: the source photos the pool is built from; a cached pool of other photos (a
    config whose pool size changed, pointed at an old cache folder) is refused, never reused.
    """
    if path.is_file():
        logger.info("reusing pool %s", path)
        pool = Pool.load(path)
        if photos is not None:
            held = set(np.unique(pool.source_ids).tolist())
            want = {p.source_id for p in photos}
            # Unreadable photos are in neither source_ids nor want's readable part: count them.
            if not held <= want or len(held) + len(pool.failed) != len(want):
                raise ValueError(f"{path}: cached pool holds {len(held)} photos ({len(pool.failed)} unreadable), "
                                 f"not the {len(want)} asked for; delete it or use another cache folder")
        return pool
    pool = build()
    pool.save(path)
    return pool
