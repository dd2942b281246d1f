"""Paired statistics and tables of ``mspt-face compare``: intervals, direction, determinism, formatting."""
from __future__ import annotations

import math

import numpy as np
import pytest

from mspt_pyiqa.compare import paired, tables


def _scores(n: int = 200, shift: float = 0.0, seed: int = 0):
    rng = np.random.default_rng(seed)
    base = rng.uniform(0.3, 0.8, n)  # image difficulty, shared by both methods
    a = base + rng.normal(0, 0.02, n)
    b = base - shift + rng.normal(0, 0.02, n)
    return a, b


def test_identical_scores_give_zero_difference_and_p_one():
    a, _ = _scores()
    r = paired.paired_compare(a, a.copy(), n_boot=200)
    assert r["diff"] == 0 and r["diff_lo"] == 0 and r["diff_hi"] == 0
    assert r["win_rate"] == 0 and r["tie_rate"] == 1
    assert r["p_wilcoxon"] == 1.0 and r["p_sign"] == 1.0


def test_noise_only_interval_contains_zero_shift_excludes_it():
    a, b = _scores(shift=0.0)
    r = paired.paired_compare(a, b, n_boot=1000)
    assert r["diff_lo"] < 0 < r["diff_hi"]
    assert r["win_lo"] <= 0.5 <= r["win_hi"]
    assert r["p_wilcoxon"] > 0.05
    a, b = _scores(shift=0.01)
    r = paired.paired_compare(a, b, n_boot=1000)
    assert 0 < r["diff_lo"] < r["diff"] < r["diff_hi"]
    assert r["diff"] == pytest.approx(np.mean(a - b))
    assert r["win_lo"] > 0.5 and r["p_wilcoxon"] < 1e-3 and r["p_sign"] < 1e-2


def test_lower_better_flips_the_sign():
    a, b = _scores(shift=0.05)
    hi = paired.paired_compare(a, b, lower_better=False, n_boot=100)
    lo = paired.paired_compare(a, b, lower_better=True, n_boot=100)
    assert hi["diff"] == pytest.approx(-lo["diff"])
    assert hi["win_rate"] + lo["win_rate"] + hi["tie_rate"] == pytest.approx(1.0)
    assert lo["mean_a"] == hi["mean_a"]


def test_seeded_and_deterministic():
    a, b = _scores(shift=0.005)
    r1 = paired.paired_compare(a, b, n_boot=300, seed=3)
    r2 = paired.paired_compare(a, b, n_boot=300, seed=3)
    r3 = paired.paired_compare(a, b, n_boot=300, seed=4)
    assert r1 == r2
    assert (r1["diff_lo"], r1["diff_hi"]) != (r3["diff_lo"], r3["diff_hi"])


def test_chunked_bootstrap_matches_its_own_stream(monkeypatch):
    a, b = _scores(n=50, shift=0.01)
    whole = paired.paired_compare(a, b, n_boot=64, seed=1)
    monkeypatch.setattr(paired, "_CHUNK_ELEMS", 50 * 7)  # 7 draws per chunk, same seeded stream
    chunked = paired.paired_compare(a, b, n_boot=64, seed=1)
    assert whole["diff_lo"] == pytest.approx(chunked["diff_lo"]) and whole["win_hi"] == pytest.approx(chunked["win_hi"])


def test_missing_scores_are_dropped_and_counted():
    a, b = _scores(n=20)
    a[3], b[7] = np.nan, np.inf
    r = paired.paired_compare(a, b, n_boot=50)
    assert r["n"] == 18 and r["n_dropped"] == 2
    empty = paired.paired_compare(np.array([np.nan]), np.array([1.0]))
    assert empty["n"] == 0 and math.isnan(empty["diff"])


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="equal length"):
        paired.paired_compare(np.zeros(3), np.zeros(4))


def test_mean_ci_brackets_the_mean():
    x = np.random.default_rng(0).normal(0.5, 0.1, 300)
    r = paired.mean_ci(np.append(x, np.nan), n_boot=500)
    assert r["n"] == 300 and r["mean_lo"] < r["mean"] < r["mean_hi"]
    assert r["mean_hi"] - r["mean_lo"] == pytest.approx(2 * 1.96 * 0.1 / np.sqrt(300), rel=0.25)


SUMMARY = [
    {"method": "ours", "metric": "mspt_face", "lower_better": False, "n": 5, "mean": 0.7, "mean_lo": 0.6, "mean_hi": 0.8},
    {"method": "base_line", "metric": "mspt_face", "lower_better": False, "n": 5, "mean": 0.5, "mean_lo": 0.4, "mean_hi": 0.6},
    {"method": "ours", "metric": "lpips", "lower_better": True, "n": 5, "mean": 0.3, "mean_lo": 0.2, "mean_hi": 0.4},
    {"method": "base_line", "metric": "lpips", "lower_better": True, "n": 5, "mean": 0.2, "mean_lo": 0.1, "mean_hi": 0.3},
]


def test_best_is_direction_aware_and_bold():
    assert tables.best_methods(SUMMARY) == {"mspt_face": {"ours"}, "lpips": {"base_line"}}
    md = tables.summary_markdown(SUMMARY)
    assert "| ours | **0.7000** [0.6000, 0.8000] | 0.3000 [0.2000, 0.4000] | 5 |" in md
    assert "| base_line | 0.5000 [0.4000, 0.6000] | **0.2000** [0.1000, 0.3000] | 5 |" in md
    assert "mspt_face ↑" in md and "lpips ↓" in md


def test_latex_table_escapes_and_bolds():
    tex = tables.summary_latex(SUMMARY, caption="50% of faces")
    assert r"base\_line & 0.5000" in tex and r"\textbf{0.7000}" in tex and r"\textbf{0.2000}" in tex
    assert r"50\% of faces" in tex and tex.count(r"\\") == 3
    assert tex.startswith(r"\begin{table}") and tex.rstrip().endswith(r"\end{table}")


def test_pairs_markdown_formats_intervals_and_p_values():
    r = paired.paired_compare(*_scores(shift=0.02), n_boot=100)
    md = tables.pairs_markdown([{"metric": "mspt_face", "a": "ours", "b": "x", **r}])
    assert f"{r['diff']:.4f} [{r['diff_lo']:.4f}, {r['diff_hi']:.4f}]" in md
    assert "e-" in md  # a tiny p-value in scientific notation
