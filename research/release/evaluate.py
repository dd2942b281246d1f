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

from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import torch
from scipy import stats

from mspt_pyiqa.archs import MSPTNet
from mspt_pyiqa.corpus.typical import chroma
from research.release.pools import Pool
from mspt_pyiqa.weights import load_catalog, read_checkpoint

ScoreFn = Callable[[torch.Tensor], torch.Tensor]


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """``(N, S, S, 3)`` uint8 -> ``(N, 3, S, S)`` float in [0, 1]."""
    return torch.from_numpy(images).permute(0, 3, 1, 2).float().div_(255.0)


def _split_views(path: str) -> Tuple[str, Optional[Tuple[int, Optional[int]]]]:
    """``"file@S+D"`` -> ``("file", (S, D))``; ``"file@S"`` -> ``("file", (S, None))``; else ``(path, None)``."""
    head, at, views = path.rpartition("@")
    size, plus, detail = views.partition("+")
    if at and size.isdigit() and (not plus or detail.isdigit()):
        return head, (int(size), int(detail) if plus else None)
    return path, None


def model_spec_error(spec: str) -> Optional[str]:
    """Why ``spec`` names no model (``None`` if it does): a catalog release name, or
    ``NAME=CHECKPOINT`` with an existing checkpoint file, optionally ``NAME=CHECKPOINT@S`` or
    ``@S+D`` (the ``--model`` of the eval harnesses)."""
    name, sep, path = spec.partition("=")
    if sep and Path(_split_views(path)[0]).is_file():
        return None
    releases = load_catalog()
    if not sep and name in releases:
        return None
    return f"--model {spec!r}: neither a catalog release ({', '.join(releases)}) nor NAME=existing file"


def load_net(spec: str) -> MSPTNet:
    """The network of a ``--model`` spec (see :func:`model_spec_error`), in eval mode.

    A catalog release scores as ``create_metric`` runs it: its own input size and detail view
    (for the 224 px releases and pools this is the pool's resolution, as before). ``NAME=CHECKPOINT``
    scores at the resolution it is given (``test_img_size=None``), with no detail view;
    ``NAME=CHECKPOINT@S+D`` at ``S`` px with a ``D`` px detail view (``@S``: no detail view), as
    ``create_metric`` would run a release of that checkpoint with that metadata.
    """
    name, sep, path = spec.partition("=")
    if not sep:
        return MSPTNet(weights_name=name).eval()
    path, views = _split_views(path)
    size, detail = views if views else (None, None)
    net = MSPTNet(pretrained=False, test_img_size=size, detail_size=detail)
    net.load_state_dict(read_checkpoint(Path(path)))
    return net.eval()


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


Ladder = Tuple[int, str, np.ndarray, bool]


def ladders(pool: Pool) -> Iterator[Ladder]:
    """Every (photo, kind) ladder of a levels pool: ``(pristine_row, kind, rows, noop)``.

    ``pristine_row`` is -1 for a photo without a pristine row. ``noop``: every image of the
    ladder equals the pristine one pixel for pixel (the degradation did nothing, e.g.
    desaturating a greyscale scan), so the ladder has no order to get right.
    """
    for sid in np.unique(pool.source_ids):
        idx = np.flatnonzero(pool.source_ids == sid)
        pristine = idx[pool.kinds[idx] == "pristine"]
        p = int(pristine[0]) if len(pristine) else -1
        for kind in np.unique(pool.kinds[idx]):
            if kind == "pristine":
                continue
            k_idx = idx[pool.kinds[idx] == kind]
            noop = p >= 0 and all(np.array_equal(pool.images[i], pool.images[p]) for i in k_idx)
            yield p, str(kind), k_idx, noop


def ladder_rows(pred: np.ndarray, pool: Pool, skip_noop: bool = True) -> Tuple[List[Dict[str, object]], int]:
    """One record per (photo, kind) ladder of a levels pool, and the number of no-op ladders left out.

    A record holds ``photo``, ``kind``, ``order`` (-SRCC between score and severity over the
    pristine photo at severity 0 and the kind's levels; 1 = the score always falls; 0 for a
    constant score; ``nan`` for fewer than two distinct severities), ``wins`` (degraded
    versions scored below the pristine one) and ``pairs`` (degraded versions compared with a
    pristine one). ``pred``: ``(N,)`` scores of ``pool``, higher = better.
    """
    rows: List[Dict[str, object]] = []
    noop_count = 0
    for p, kind, k_idx, noop in ladders(pool):
        if skip_noop and noop:
            noop_count += 1
            continue
        sev = pool.severities[k_idx].tolist()
        sc = pred[k_idx].tolist()
        wins = pairs = 0
        if p >= 0:
            sev, sc = [0.0] + sev, [float(pred[p])] + sc
            wins, pairs = int(np.sum(pred[k_idx] < pred[p])), len(k_idx)
        if len(set(sev)) > 1:
            order = -stats.spearmanr(sev, sc)[0] if np.std(sc) > 0 else 0.0  # constant score: no order
        else:
            order = float("nan")
        rows.append({"photo": str(pool.source_ids[k_idx[0]]), "kind": kind, "order": float(order),
                     "wins": wins, "pairs": pairs})
    return rows, noop_count


def order_figures(pred: np.ndarray, pool: Pool, skip_noop: bool = True) -> Dict[str, object]:
    """Within-photo monotonicity per kind and pristine-above-degraded fraction for a levels pool.

    ``pred``: ``(N,)`` scores of ``pool`` (higher = better). Order of one (photo, kind) ladder
    = -SRCC(score, severity) over the pristine photo (severity 0) and the kind's levels, in
    [-1, 1] (1 = the score always falls); ``monotonicity_per_kind`` averages it over photos
    (:func:`ladder_rows`). ``skip_noop``: no-op ladders (:func:`ladders`) are left out of both
    figures and counted in ``noop_ladders``.
    """
    rows, noop_count = ladder_rows(pred, pool, skip_noop)
    return {**summarise_ladders(rows), "noop_ladders": noop_count}


def summarise_ladders(rows: Sequence[Dict[str, object]]) -> Dict[str, object]:
    """The figures of :func:`order_figures` from :func:`ladder_rows` records (any subset of a
    pool's ladders): ``monotonicity_per_kind`` (mean order over the kind's ladders),
    ``monotonicity_min``, ``pristine_above_degraded`` (wins / pairs) and ``pairs``."""
    per_kind: Dict[str, list] = {}
    for r in rows:
        if np.isfinite(r["order"]):
            per_kind.setdefault(str(r["kind"]), []).append(r["order"])
    wins, pairs = sum(int(r["wins"]) for r in rows), sum(int(r["pairs"]) for r in rows)
    mono = {k: float(np.mean(v)) for k, v in sorted(per_kind.items())}
    return {
        "monotonicity_per_kind": mono,
        "monotonicity_min": float(min(mono.values())) if mono else float("nan"),
        "pristine_above_degraded": wins / pairs if pairs else float("nan"),
        "pairs": pairs,
    }


def level_steps(pred: np.ndarray, pool: Pool, split_by_chroma: Sequence[str] = ("saturation",)
                ) -> Dict[str, Dict[str, list]]:
    """Per kind and severity level: mean of (score - the photo's pristine score) and the fraction
    of photos whose degraded version scores *above* its pristine one (a step not seen).

    Ladders of the ``split_by_chroma`` kinds are split by direction (``<kind>:down`` when the
    strongest level has less mean chroma than the pristine photo, ``<kind>:up`` otherwise):
    saturation goes to grey or to 4x, and an NR score can see one and not the other. No-op
    ladders are left out. Returns
    ``{kind: {"severity": [...], "delta": [...], "above_pristine": [...], "photos": n}}``.
    """
    acc: Dict[str, Dict[float, list]] = {}
    for p, kind, k_idx, noop in ladders(pool):
        if p < 0 or noop:
            continue
        if kind in split_by_chroma:
            strongest = int(k_idx[np.argmax(pool.severities[k_idx])])
            kind += ":up" if chroma(pool.images[strongest]) > chroma(pool.images[p]) else ":down"
        for i in k_idx:
            acc.setdefault(kind, {}).setdefault(round(float(pool.severities[i]), 4), []).append(float(pred[i] - pred[p]))
    out: Dict[str, Dict[str, list]] = {}
    for kind, by_sev in sorted(acc.items()):
        sevs = sorted(by_sev)
        out[kind] = {"severity": sevs, "delta": [float(np.mean(by_sev[s])) for s in sevs],
                     "above_pristine": [float(np.mean(np.array(by_sev[s]) > 0)) for s in sevs],
                     "photos": len(by_sev[sevs[0]])}
    return out
