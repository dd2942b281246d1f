"""Scoring pools with a network and the quality figures of a release.

Figures (issue 6's quality bars, on held-out source photos):

* SRCC / PLCC between predictions and the pseudo-MOS of a test pool;
* within-photo monotonicity: for each source photo and degradation kind, the SRCC between
  the score and the severity over the levels (pristine included at severity 0), averaged
  per kind; a perfectly ordered metric scores -1 (score falls as severity rises), so we
  report ``-SRCC`` (1 = perfect order);
* pristine-above-degraded: the fraction of (pristine, degraded) pairs of the same photo
  in which the pristine one scores higher.
"""
from __future__ import annotations

from typing import Callable, Dict, Optional

import numpy as np
import torch
from scipy import stats

from mspt_pyiqa.release.pools import Pool

ScoreFn = Callable[[torch.Tensor], torch.Tensor]


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """``(N, S, S, 3)`` uint8 -> ``(N, 3, S, S)`` float in [0, 1]."""
    return torch.from_numpy(images).permute(0, 3, 1, 2).float().div_(255.0)


@torch.no_grad()
def predict(fn: ScoreFn, pool: Pool, batch_size: int = 64) -> np.ndarray:
    """Scores ``(N,)`` of every image of ``pool``; ``fn`` maps ``(B, 3, S, S)`` to ``(B, 1)`` or ``(B,)``."""
    out = []
    for i in range(0, len(pool), batch_size):
        out.append(fn(to_tensor(pool.images[i:i + batch_size])).reshape(-1).float().cpu().numpy())
    return np.concatenate(out)


def correlations(pred: np.ndarray, mos: np.ndarray) -> Dict[str, float]:
    ok = np.isfinite(pred)
    return {
        "srcc": float(stats.spearmanr(pred[ok], mos[ok])[0]),
        "plcc": float(stats.pearsonr(pred[ok], mos[ok])[0]),
        "n": int(ok.sum()),
    }


def order_figures(pred: np.ndarray, pool: Pool, skip_noop: bool = True) -> Dict[str, object]:
    """Within-photo monotonicity per kind and pristine-above-degraded fraction for a levels pool.

    ``pred``: ``(N,)`` scores of ``pool`` (higher = better). Order of one (photo, kind) ladder
    = -SRCC(score, severity) over the pristine photo (severity 0) and the kind's levels, in
    [-1, 1] (1 = the score always falls); ``monotonicity_per_kind`` averages it over photos.
    ``skip_noop``: a ladder whose every image equals the pristine one pixel for pixel (the
    degradation did nothing, e.g. desaturating a greyscale scan) has no order to get right;
    it is left out of both figures and counted in ``noop_ladders``.
    """
    per_kind: Dict[str, list] = {}
    wins, pairs, noop = 0, 0, 0
    for sid in np.unique(pool.source_ids):
        idx = np.flatnonzero(pool.source_ids == sid)
        pristine = idx[pool.kinds[idx] == "pristine"]
        p_score: Optional[float] = float(pred[pristine[0]]) if len(pristine) else None
        for kind in np.unique(pool.kinds[idx]):
            if kind == "pristine":
                continue
            k_idx = idx[pool.kinds[idx] == kind]
            if skip_noop and len(pristine) and all(np.array_equal(pool.images[i], pool.images[pristine[0]]) for i in k_idx):
                noop += 1
                continue
            sev = pool.severities[k_idx].tolist()
            sc = pred[k_idx].tolist()
            if p_score is not None:
                sev, sc = [0.0] + sev, [p_score] + sc
                wins += int(np.sum(pred[k_idx] < p_score))
                pairs += len(k_idx)
            if len(set(sev)) > 1 and np.std(sc) > 0:
                per_kind.setdefault(str(kind), []).append(-stats.spearmanr(sev, sc)[0])
            elif len(set(sev)) > 1:
                per_kind.setdefault(str(kind), []).append(0.0)  # constant score: no order at all
    mono = {k: float(np.mean(v)) for k, v in sorted(per_kind.items())}
    return {
        "monotonicity_per_kind": mono,
        "monotonicity_min": float(min(mono.values())) if mono else float("nan"),
        "pristine_above_degraded": wins / pairs if pairs else float("nan"),
        "pairs": pairs,
        "noop_ladders": noop,
    }


_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def _chroma(img: np.ndarray) -> float:
    x = img.astype(np.float32) / 255.0
    return float(np.abs(x - (x @ _LUMA)[..., None]).mean())


def level_steps(pred: np.ndarray, pool: Pool) -> Dict[str, Dict[str, list]]:
    """Per kind and severity level: mean of (score - the photo's pristine score) and the fraction
    of photos whose degraded version scores *above* its pristine one (a step not seen).

    Saturation ladders are split by direction (``saturation:down`` to grey, ``saturation:up``
    oversaturated; the direction is read from the images' mean chroma), because an NR score
    can see one and not the other. No-op ladders are left out as in :func:`order_figures`.
    Returns ``{kind: {"severity": [...], "delta": [...], "above_pristine": [...], "photos": n}}``.
    """
    acc: Dict[str, Dict[float, list]] = {}
    for sid in np.unique(pool.source_ids):
        idx = np.flatnonzero(pool.source_ids == sid)
        pristine = idx[pool.kinds[idx] == "pristine"]
        if not len(pristine):
            continue
        p = int(pristine[0])
        for kind in np.unique(pool.kinds[idx]):
            if kind == "pristine":
                continue
            k_idx = idx[pool.kinds[idx] == kind]
            if all(np.array_equal(pool.images[i], pool.images[p]) for i in k_idx):
                continue
            name = str(kind)
            if name == "saturation":
                strongest = int(k_idx[np.argmax(pool.severities[k_idx])])
                name += ":up" if _chroma(pool.images[strongest]) > _chroma(pool.images[p]) else ":down"
            for i in k_idx:
                acc.setdefault(name, {}).setdefault(round(float(pool.severities[i]), 4), []).append(float(pred[i] - pred[p]))
    out: Dict[str, Dict[str, list]] = {}
    for name, by_sev in sorted(acc.items()):
        sevs = sorted(by_sev)
        out[name] = {"severity": sevs, "delta": [float(np.mean(by_sev[s])) for s in sevs],
                     "above_pristine": [float(np.mean(np.array(by_sev[s]) > 0)) for s in sevs],
                     "photos": len(by_sev[sevs[0]])}
    return out
