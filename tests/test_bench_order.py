"""Within-photo order checks on items with known degradation levels."""
from pathlib import Path

import pytest

from mspt_pyiqa.bench.datasets import BenchItem
from mspt_pyiqa.bench.order import order_accuracy


def _items():
    items = []
    for src in ("a", "b"):
        for deg in ("blur", "noise"):
            for lvl in (1, 2, 3):
                items.append(BenchItem(Path(f"{src}_{deg}{lvl}.png"), 1.0 - lvl / 4, info={"source_id": src, "degradation": deg, "level": str(lvl)}))
    return items


def test_order_fractions_per_degradation_and_level():
    items = _items()
    # good on blur (score falls with level); noise: photo 'a' right, photo 'b' reversed
    scores = []
    for it in items:
        lvl = int(it.info["level"])
        reverse = it.info["degradation"] == "noise" and it.info["source_id"] == "b"
        scores.append(float(lvl) if reverse else -float(lvl))
    rows = {(r["degradation"], r["level"]): r for r in order_accuracy(items, scores)}
    assert rows[("blur", "all")]["correct_frac"] == 1.0
    assert rows[("blur", "all")]["pairs"] == 2 * 3  # 3 level pairs per photo
    assert rows[("noise", "2")]["correct_frac"] == pytest.approx(0.5)
    assert rows[("noise", "3")]["pairs"] == 2
    # lower_better flips the orientation
    flipped = {(r["degradation"], r["level"]): r for r in order_accuracy(items, [-s for s in scores], lower_better=True)}
    assert flipped[("blur", "all")]["correct_frac"] == 1.0


def test_ties_count_half_and_nan_dropped():
    items = _items()[:3]
    rows = order_accuracy(items, [0.5, 0.5, float("nan")])
    by = {(r["degradation"], r["level"]): r for r in rows}
    assert by[("blur", "2")]["correct_frac"] == 0.5
    assert by[("blur", "all")]["pairs"] == 1


def test_pristine_rows_pair_with_every_degradation():
    items = [BenchItem(Path("clean.png"), 1.0, info={"source_id": "a", "degradation": "pristine", "level": "0"})]
    items += [BenchItem(Path(f"{d}.png"), 0.5, info={"source_id": "a", "degradation": d, "level": "2"}) for d in ("blur", "jpeg")]
    rows = {(r["degradation"], r["level"]): r for r in order_accuracy(items, [1.0, 0.2, 3.0])}
    assert rows[("blur", "2")] == {"degradation": "blur", "level": "2", "pairs": 1, "correct_frac": 1.0}
    assert rows[("jpeg", "2")]["correct_frac"] == 0.0
    assert ("pristine", "all") not in rows
