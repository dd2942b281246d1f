"""Severity ladders: one face at several strengths of one degradation, for ranking losses.

A score regressed image by image learns the pseudo-MOS but not the small steps between a
pristine face and its mildest degradations (labels of JPEG or Poisson noise at severity
0.1 differ from pristine by < 0.02; the MSE barely sees them). Issue 6 asks for exactly
those steps (within-photo order per kind, pristine above every degraded version), so the
release trainer also sees *ladders*, as RankIQA trains on ranked synthetic series:

* a ladder pool holds, per source photo, the pristine crop followed by ``len(bins)``
  versions of each kind, one severity drawn uniformly inside each bin (mild bins
  oversampled by the bin edges), every version labelled by the stage's sampler;
* a ladder batch takes ``ladders`` random (photo, kind) pairs: pristine + that kind's
  versions, so every image has same-photo partners of known order;
* :func:`ranking_loss` is a hinge on every same-ladder pair whose labels differ (pairs led
  by the pristine photo optionally weighted more: ``pristine_weight``);
* :func:`teacher_difference_loss` (optional) makes the student's score *differences* within a
  ladder match the fitted teacher's, on the pairs the teacher orders as the labels do: the
  teacher orders the clean-set ladders better than the student (issue 6 figures), and its
  differences carry how much worse each step looks, which the hinge does not.
"""
from __future__ import annotations

from typing import List, Mapping, Optional, Sequence, Tuple

import numpy as np

from mspt_pyiqa.corpus.sampler import PRISTINE, DegradationSampler
from mspt_pyiqa.corpus.sources import Source, stable_hash
from mspt_pyiqa.train.losses import ladder_rank_loss
from mspt_pyiqa.train.losses import ordered_pairs as _ordered_pairs
from mspt_pyiqa.train.losses import teacher_difference_loss as _teacher_difference_loss
from research.release.pools import Pool, Row, collect_pool

#: Default severity bins: mild, medium, strong (the test levels 0.1/0.25 need the mild end).
DEFAULT_BINS: Tuple[Tuple[float, float], ...] = ((0.03, 0.2), (0.2, 0.5), (0.5, 1.0))


def build_ladder_pool(
    sources: Sequence[Source],
    sampler: DegradationSampler,
    resolution: int,
    kinds: Sequence[str],
    bins: Sequence[Sequence[float]] = DEFAULT_BINS,
    seed: int = 0,
    desc: str = "ladders",
    common_random: bool = False,
) -> Pool:
    """Per photo: pristine, then for each kind one version per severity bin, in that order.

    Every photo therefore occupies ``1 + len(kinds) * len(bins)`` consecutive rows. The
    rng of a photo depends only on ``(seed, source_id)``, so the pool is reproducible.
    ``common_random``: the versions of one kind share their random draws (seeded by
    ``(seed, source_id, kind)``: one saturation direction, one cast hue, one noise
    pattern), so a ladder is one degradation made stronger, as in ``build_pool``.
    """
    def rows_of(src: Source, clean: np.ndarray) -> List[Row]:
        photo_key = stable_hash(src.source_id, seed) % (1 << 32)
        rng = np.random.default_rng([seed, photo_key])
        img, label, _ = sampler.degrade(clean, PRISTINE, 0.0, rng, source_set=src.source_set)
        rows: List[Row] = [(img, label, PRISTINE, 0.0)]
        for kind in kinds:
            for low, high in bins:
                sev = float(low + (high - low) * rng.random())
                draws = np.random.default_rng([seed, photo_key, stable_hash(kind, seed) % (1 << 32)]) \
                    if common_random else rng
                img, label, info = sampler.degrade(clean, kind, sev, draws, source_set=src.source_set)
                rows.append((img, label, kind, info["severity"]))
        return rows

    return collect_pool(sources, resolution, rows_of, desc)


def ladder_batch(
    pool: Pool, n_kinds: int, n_bins: int, ladders: int, rng: np.random.Generator,
    kind_p: Optional[np.ndarray] = None,
) -> Tuple[np.ndarray, np.ndarray]:
    """Row indices ``(ladders * (1 + n_bins),)`` and ladder ids of a random ladder batch.

    ``kind_p``: optional ``(n_kinds,)`` probabilities of each kind (default uniform).
    """
    per_photo = 1 + n_kinds * n_bins
    n_photos = len(pool) // per_photo
    photos = rng.choice(n_photos, size=ladders, replace=ladders > n_photos)
    kinds = rng.choice(n_kinds, size=ladders, p=kind_p)
    idx, group = [], []
    for g, (p, k) in enumerate(zip(photos, kinds)):
        base = int(p) * per_photo
        idx.append(base)
        idx.extend(base + 1 + int(k) * n_bins + b for b in range(n_bins))
        group.extend([g] * (1 + n_bins))
    return np.asarray(idx), np.asarray(group)


# The ranking terms live in the package (one hinge, one teacher-difference term); these names
# are the release trainer's.
ordered_pairs = _ordered_pairs
ranking_loss = ladder_rank_loss
teacher_difference_loss = _teacher_difference_loss


def kind_probabilities(kinds: Sequence[str], weights: Optional[Mapping[str, float]]) -> Optional[np.ndarray]:
    """Normalised sampling probabilities of ``kinds`` from ``{kind: weight}`` (missing = 1)."""
    if not weights:
        return None
    unknown = set(weights) - set(kinds)
    if unknown:
        raise ValueError(f"ladder kind_weights name kinds not in the ladder pool: {sorted(unknown)}")
    w = np.array([float(weights.get(k, 1.0)) for k in kinds])
    if np.any(w < 0) or w.sum() <= 0:
        raise ValueError(f"ladder kind_weights must be >= 0 with a positive sum, got {dict(weights)}")
    return w / w.sum()
