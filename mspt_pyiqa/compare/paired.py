"""Paired statistics of two methods scored on the same images, with seeded bootstrap intervals.

For methods A and B scored on the same ``n`` images (``a``, ``b``: 1-D float arrays, image
``i`` of A paired with image ``i`` of B):

* ``diff`` = mean(a - b), oriented so that a positive value means A is *better* (for a
  ``lower_better`` metric the sign is flipped);
* ``win_rate`` = share of images where A is better than B (ties count for neither),
  ``tie_rate`` = share of exact ties;
* 95% percentile bootstrap intervals of ``diff`` and ``win_rate``: images are resampled
  with replacement (``n_boot`` draws, numpy ``default_rng(seed)``), the same draws for
  both statistics, so the result is deterministic for a seed;
* ``p_wilcoxon``: two-sided Wilcoxon signed-rank test of the differences (zero
  differences dropped, scipy's default); ``p_sign``: two-sided exact sign test (binomial
  test of wins against losses). Both are 1.0 when every pair is tied.

Pairs where either value is not finite (a failed or missing score) are left out; their
count is ``n_dropped``.
"""
from __future__ import annotations

import warnings
from typing import Dict, Iterator, Tuple

import numpy as np
from scipy import stats

_CHUNK_ELEMS = 2_000_000  # bootstrap indices drawn per chunk (bounded memory for 10k+ images)


def _index_chunks(n: int, n_boot: int, seed: int) -> Iterator[np.ndarray]:
    """Bootstrap index arrays ``(k, n)`` (k draws each), ``n_boot`` draws in all, from one seeded stream."""
    rng = np.random.default_rng(seed)
    per = max(1, _CHUNK_ELEMS // max(n, 1))
    left = n_boot
    while left > 0:
        k = min(per, left)
        yield rng.integers(0, n, size=(k, n))
        left -= k


def _interval(samples: np.ndarray, alpha: float) -> Tuple[float, float]:
    samples = samples[np.isfinite(samples)]
    if not len(samples):
        return float("nan"), float("nan")
    return float(np.percentile(samples, 100 * alpha / 2)), float(np.percentile(samples, 100 * (1 - alpha / 2)))


def mean_ci(x: np.ndarray, n_boot: int = 1000, seed: int = 0, alpha: float = 0.05) -> Dict[str, float]:
    """Mean of the finite values of ``x`` with its percentile bootstrap interval: ``n``, ``mean``, ``mean_lo``, ``mean_hi``."""
    x = np.asarray(x, dtype=np.float64)
    x = x[np.isfinite(x)]
    out = {"n": int(len(x)), "mean": float(x.mean()) if len(x) else float("nan")}
    if len(x) < 2 or n_boot <= 0:
        out["mean_lo"] = out["mean_hi"] = out["mean"] if len(x) == 1 else float("nan")
        return out
    means = np.concatenate([x[idx].mean(axis=1) for idx in _index_chunks(len(x), n_boot, seed)])
    out["mean_lo"], out["mean_hi"] = _interval(means, alpha)
    return out


def _tests(d: np.ndarray) -> Tuple[float, float]:
    """(Wilcoxon p, sign-test p) of the oriented differences ``d`` (both two-sided)."""
    wins, losses = int((d > 0).sum()), int((d < 0).sum())
    if wins + losses == 0:
        return 1.0, 1.0
    p_sign = float(stats.binomtest(wins, wins + losses, 0.5).pvalue)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # small-sample / ties notes from scipy
        p_wil = float(stats.wilcoxon(d[d != 0]).pvalue)
    return p_wil, p_sign


def paired_compare(
    a: np.ndarray,
    b: np.ndarray,
    lower_better: bool = False,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
) -> Dict[str, float]:
    """Paired statistics of A vs B (see the module docstring).

    Args:
        a, b: scores ``(n,)`` of the same images by methods A and B (NaN = no score).
        lower_better: the metric's direction (PSNR/SSIM/MSPT: False; LPIPS: True).
        n_boot, seed, alpha: bootstrap draws, numpy seed, 1 - confidence level.

    Returns a flat dict: ``n``, ``n_dropped``, ``mean_a``, ``mean_b``, ``diff``, ``diff_lo``,
    ``diff_hi``, ``win_rate``, ``win_lo``, ``win_hi``, ``tie_rate``, ``p_wilcoxon``, ``p_sign``.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired scores must be 1-D arrays of equal length, got {a.shape} and {b.shape}")
    ok = np.isfinite(a) & np.isfinite(b)
    a, b = a[ok], b[ok]
    n = len(a)
    nan = float("nan")
    out: Dict[str, float] = {"n": n, "n_dropped": int((~ok).sum())}
    if n == 0:
        out.update(mean_a=nan, mean_b=nan, diff=nan, diff_lo=nan, diff_hi=nan, win_rate=nan,
                   win_lo=nan, win_hi=nan, tie_rate=nan, p_wilcoxon=nan, p_sign=nan)
        return out
    d = (b - a) if lower_better else (a - b)
    win = (d > 0).astype(np.float64)
    out.update(mean_a=float(a.mean()), mean_b=float(b.mean()), diff=float(d.mean()),
               win_rate=float(win.mean()), tie_rate=float((d == 0).mean()))
    if n >= 2 and n_boot > 0:
        diffs, wins = [], []
        for idx in _index_chunks(n, n_boot, seed):
            diffs.append(d[idx].mean(axis=1))
            wins.append(win[idx].mean(axis=1))
        out["diff_lo"], out["diff_hi"] = _interval(np.concatenate(diffs), alpha)
        out["win_lo"], out["win_hi"] = _interval(np.concatenate(wins), alpha)
    else:
        out["diff_lo"] = out["diff_hi"] = out["win_lo"] = out["win_hi"] = nan
    out["p_wilcoxon"], out["p_sign"] = _tests(d)
    return out
