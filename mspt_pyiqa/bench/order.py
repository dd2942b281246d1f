"""Within-photo order checks: does a metric rank stronger degradations of the same photo lower?

Ground truth is the corpus's ``level`` (higher level = stronger degradation of the
given ``degradation`` type), not the pseudo-MOS. For each photo (``source_id``) and
degradation type, each version at level ``L`` is paired with the versions at the next
less-degraded level present for that photo; a metric orders a pair correctly when its
oriented score (``lower_better`` metrics negated) of the less-degraded version is higher.
Ties count one half. Rows of the clean degradation (``clean_degradation``, the corpus's
``pristine`` rows) join every degradation group of their photo as level 0, so the
corpus's one-level-per-photo samples still give "clean vs level L" pairs. Reported per
(degradation, level L) and per degradation over all level pairs.
"""
from __future__ import annotations

import itertools
from collections import defaultdict
from typing import Dict, List, Sequence, Tuple

import numpy as np

from mspt_pyiqa.bench.datasets import BenchItem


def _level(text: str) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return float("nan")


def order_accuracy(
    items: Sequence[BenchItem],
    scores: Sequence[float],
    lower_better: bool = False,
    clean_degradation: str = "pristine",
) -> List[Dict[str, object]]:
    """Rows ``{degradation, level, pairs, correct_frac}``; ``level`` is ``'all'`` for the per-degradation total.

    ``scores[i]`` belongs to ``items[i]``; non-finite scores drop their pairs.
    """
    sign = -1.0 if lower_better else 1.0
    groups: Dict[Tuple[str, str], List[Tuple[float, float]]] = defaultdict(list)
    clean: Dict[str, List[float]] = defaultdict(list)
    for it, s in zip(items, scores):
        lvl = _level(it.info.get("level", ""))
        if not (np.isfinite(lvl) and np.isfinite(s)):
            continue
        if it.info.get("degradation") == clean_degradation:
            clean[it.info.get("source_id", "")].append(sign * float(s))
        else:
            groups[(it.info.get("degradation", ""), it.info.get("source_id", ""))].append((lvl, sign * float(s)))
    for (deg, src), members in groups.items():
        members.extend((0.0, s) for s in clean.get(src, []))
    adjacent: Dict[Tuple[str, float], List[float]] = defaultdict(list)
    overall: Dict[str, List[float]] = defaultdict(list)
    for (deg, _src), members in groups.items():
        members.sort()
        levels = sorted({lvl for lvl, _ in members})
        by_level = defaultdict(list)
        for lvl, s in members:
            by_level[lvl].append(s)
        for lo, hi in zip(levels, levels[1:]):
            for a, b in itertools.product(by_level[lo], by_level[hi]):
                adjacent[(deg, hi)].append(_outcome(a, b))
        for (la, a), (lb, b) in itertools.combinations(members, 2):
            if la != lb:
                overall[deg].append(_outcome(a, b) if la < lb else _outcome(b, a))
    rows: List[Dict[str, object]] = []
    for deg in sorted(overall):
        for (d, lvl) in sorted(k for k in adjacent if k[0] == deg):
            v = adjacent[(d, lvl)]
            rows.append({"degradation": deg, "level": _fmt(lvl), "pairs": len(v), "correct_frac": float(np.mean(v))})
        v = overall[deg]
        rows.append({"degradation": deg, "level": "all", "pairs": len(v), "correct_frac": float(np.mean(v))})
    return rows


def _outcome(less_degraded: float, more_degraded: float) -> float:
    if less_degraded > more_degraded:
        return 1.0
    return 0.5 if less_degraded == more_degraded else 0.0


def _fmt(level: float) -> str:
    return str(int(level)) if float(level).is_integer() else f"{level:g}"
