"""The native-scale yardstick's figures, each with a 95% bootstrap interval over photos.

Input: the scored rows of :mod:`mspt_pyiqa.bench.native_run` (``photo``, ``arm``, ``kind``,
``level`` with the clean image at level 0 and kind ``clean``, one float column per metric).
Scores are *oriented* first (``lower_better`` metrics such as NIQE / BRISQUE negated), so
higher is better everywhere below.

* ``order``: within-face order of :func:`mspt_pyiqa.bench.order.order_accuracy` -- every
  ladder's adjacent-level pairs (clean as level 0 vs level 1, 1 vs 2, ... 3 vs 4), correct
  when the less degraded image scores higher, ties one half -- pooled over photos (and arms).
* ``clean_beats_1``: share of ladders whose clean photo scores above its level 1 (ties 1/2),
  i.e. the same definition's level-1 pairs alone.
* ``srcc``: Spearman correlation between oriented score and *minus* level (0-4), so a good
  metric is positive, over every image of every photo and type (one figure, kind ``all``).

Intervals resample photos with replacement (both arms of a photo move together), seeded,
through :func:`mspt_pyiqa.bench.stats.bootstrap_clusters`.
"""
from __future__ import annotations

from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from mspt_pyiqa.bench.datasets import BenchItem
from mspt_pyiqa.bench.order import order_accuracy
from mspt_pyiqa.bench.stats import bootstrap_clusters, srcc

ALL = "all"
#: The issue's bars on the yardstick.
ORDER_BAR = 0.97
CLEAN_BAR = 0.95
SRCC_MARGIN = 0.03


def _outcomes(rows: Sequence[Mapping[str, object]], column: str, lower_better: bool,
              kinds: Sequence[str]) -> Tuple[List[str], np.ndarray]:
    """Per photo and kind: ``[order correct, order pairs, clean>1 correct, clean>1 pairs]`` ``(P, K, 4)``."""
    groups: Dict[Tuple[str, str], List[Mapping[str, object]]] = {}
    for r in rows:
        groups.setdefault((str(r["photo"]), str(r["arm"])), []).append(r)
    photos = sorted({p for p, _ in groups})
    pidx = {p: i for i, p in enumerate(photos)}
    kidx = {k: i for i, k in enumerate(kinds)}
    acc = np.zeros((len(photos), len(kinds), 4))
    for (photo, arm), members in groups.items():
        items = [BenchItem(path=None, mos=float("nan"),  # type: ignore[arg-type]
                           info={"level": str(m["level"]), "degradation": str(m["kind"]), "source_id": f"{arm}|{photo}"})
                 for m in members]
        scores = [float(m[column]) for m in members]
        for row in order_accuracy(items, scores, lower_better=lower_better, clean_degradation="clean"):
            k = kidx.get(str(row["degradation"]))
            if k is None or row["level"] == "all":
                continue
            correct = float(row["correct_frac"]) * int(row["pairs"])
            acc[pidx[photo], k, 0] += correct
            acc[pidx[photo], k, 1] += int(row["pairs"])
            if row["level"] == "1":
                acc[pidx[photo], k, 2] += correct
                acc[pidx[photo], k, 3] += int(row["pairs"])
    return photos, acc


def _ratio(a: np.ndarray, b: np.ndarray) -> float:
    den = float(b.sum())
    return float(a.sum()) / den if den else float("nan")


def figures(rows: Sequence[Mapping[str, object]], column: str, lower_better: bool, kinds: Sequence[str],
            n_boot: int = 1000, seed: int = 0) -> List[Dict[str, object]]:
    """Rows ``{kind, figure, value, lo, hi, photos}`` for one metric column over ``rows``.

    ``figure`` is ``order`` (per kind and ``all``), ``clean_beats_1`` (per kind and ``all``)
    or ``srcc`` (kind ``all``); ``lo``/``hi`` are the 95% bootstrap interval over photos.
    """
    kinds = list(kinds)
    photos, acc = _outcomes(rows, column, lower_better, kinds)
    n = len(photos)
    out: List[Dict[str, object]] = []
    for fig, (num, den) in (("order", (0, 1)), ("clean_beats_1", (2, 3))):
        for k, kind in [(i, kd) for i, kd in enumerate(kinds)] + [(None, ALL)]:
            sl = acc[:, k if k is not None else slice(None)]
            a = sl[..., num].reshape(n, -1).sum(1)
            b = sl[..., den].reshape(n, -1).sum(1)
            lo, hi = bootstrap_clusters(lambda idx, a=a, b=b: _ratio(a[idx], b[idx]), n, n_boot, seed)
            out.append({"kind": kind, "figure": fig, "value": _ratio(a, b), "lo": lo, "hi": hi, "photos": n})
    sign = -1.0 if lower_better else 1.0
    pidx = {p: i for i, p in enumerate(photos)}
    per_photo: List[List[Tuple[float, float]]] = [[] for _ in photos]
    for r in rows:
        per_photo[pidx[str(r["photo"])]].append((sign * float(r[column]), float(r["level"])))
    arrays = [np.array(v, np.float64).reshape(-1, 2) for v in per_photo]

    def srcc_of(idx: np.ndarray) -> float:
        x = np.concatenate([arrays[i] for i in idx])
        return srcc(x[:, 0], -x[:, 1])  # against -level: a good metric is positive

    lo, hi = bootstrap_clusters(srcc_of, n, n_boot, seed)
    out.append({"kind": ALL, "figure": "srcc", "value": srcc_of(np.arange(n)), "lo": lo, "hi": hi, "photos": n})
    return out


def lookup(figs: Sequence[Mapping[str, object]], figure: str, kind: str) -> Mapping[str, object]:
    """The row of ``figure`` and ``kind`` in a :func:`figures` result."""
    for f in figs:
        if f["figure"] == figure and f["kind"] == kind:
            return f
    raise KeyError(f"no figure {figure!r} for kind {kind!r}")


def bars(figs: Sequence[Mapping[str, object]], baseline: Optional[Sequence[Mapping[str, object]]],
         kinds: Sequence[str]) -> List[Dict[str, object]]:
    """The issue's yardstick bars for one metric: rows ``{bar, value, met}``.

    ``baseline``: NIQE's figures from the same run (``None``: the bars against NIQE are skipped).
    The bars on the model card's older ladders and on speed are not the yardstick's to judge.
    """
    order = {k: float(lookup(figs, "order", k)["value"]) for k in kinds}
    clean = {k: float(lookup(figs, "clean_beats_1", k)["value"]) for k in kinds}
    worst_o = min(order, key=order.get)
    worst_c = min(clean, key=clean.get)
    out: List[Dict[str, object]] = [
        {"bar": f"order >= {ORDER_BAR} for every type", "value": f"worst {worst_o} {order[worst_o]:.3f}",
         "met": order[worst_o] >= ORDER_BAR},
        {"bar": f"clean beats level 1 for >= {CLEAN_BAR:.0%} of faces, every type",
         "value": f"worst {worst_c} {clean[worst_c]:.3f}", "met": clean[worst_c] >= CLEAN_BAR},
    ]
    if baseline is not None:
        gaps = {k: order[k] - float(lookup(baseline, "order", k)["value"]) for k in kinds}
        worst_g = min(gaps, key=gaps.get)
        s, s_ref = float(lookup(figs, "srcc", ALL)["value"]), float(lookup(baseline, "srcc", ALL)["value"])
        out += [
            {"bar": "order >= NIQE's for every type", "value": f"worst {worst_g} {gaps[worst_g]:+.3f}",
             "met": gaps[worst_g] >= 0},
            {"bar": f"SRCC >= NIQE's + {SRCC_MARGIN}", "value": f"{s:.3f} vs {s_ref + SRCC_MARGIN:.3f}",
             "met": s >= s_ref + SRCC_MARGIN},
        ]
    return out


def reference(rows: Sequence[Mapping[str, object]], column: str, release: str, made_by: str,
              kinds: Sequence[str], levels: Mapping[str, Sequence[float]], setting_of) -> Dict[str, object]:
    """The per-release reference file: clean-score percentiles and each condition's quartiles.

    ``column``: the release's scores at its own input size (higher = better); ``setting_of(kind,
    value)`` names a level. ``clean_percentiles`` are percentiles 0..100 (linear interpolation)
    of the clean images' scores over every photo and arm.
    """
    clean = np.array([float(r[column]) for r in rows if r["kind"] == "clean"], np.float64)
    if not len(clean):
        raise ValueError("no clean-image scores to build a reference from")
    conds: List[Dict[str, object]] = []
    for kind in kinds:
        for i, v in enumerate(levels[kind], start=1):
            s = np.array([float(r[column]) for r in rows if r["kind"] == kind and int(r["level"]) == i], np.float64)
            if not len(s):
                continue
            p25, med, p75 = np.percentile(s, [25, 50, 75])
            conds.append({"kind": kind, "level": i, "setting": setting_of(kind, v),
                          "p25": float(p25), "median": float(med), "p75": float(p75)})
    return {"release": release, "made_by": made_by, "photos": len({r["photo"] for r in rows}),
            "clean_percentiles": [float(x) for x in np.percentile(clean, np.arange(101))],
            "conditions": conds}
