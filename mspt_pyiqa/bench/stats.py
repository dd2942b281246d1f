"""Agreement statistics between metric predictions and MOS, with seeded bootstrap CIs.

Conventions (VQEG, "Final report from the Video Quality Experts Group on the validation of
objective models of video quality assessment, Phase II", 2003, and common IQA practice):

* SRCC (Spearman), KRCC (Kendall tau-b) and PLCC (Pearson) are computed on the
  *oriented* prediction: metrics whose ``lower_better`` flag is set are negated first, so a
  good metric always has positive correlations.
* ``plcc_fit`` / ``rmse_fit``: PLCC and RMSE after mapping the prediction to the MOS scale
  with the 4-parameter logistic
  ``f(x) = (b1 - b2) / (1 + exp(-(x - b3) / |b4|)) + b2`` fitted by least squares.
  RMSE is therefore in MOS units.
* ``score`` is the VQualA challenge score ``(SRCC + PLCC) / 2``; PLCC here is the
  *fitted* one (the monotonic mapping removes scale differences between metrics, which the
  rank term ignores anyway). ``score_raw`` uses the raw PLCC.

All inputs are 1-D float arrays of equal length; pairs with a non-finite value are dropped
by :func:`evaluate` (their count is reported as ``n_invalid``).
"""
from __future__ import annotations

import warnings
from typing import Callable, Dict, Optional, Sequence, Tuple

import numpy as np
from scipy import optimize, stats

STAT_NAMES: Tuple[str, ...] = ("srcc", "plcc", "plcc_fit", "krcc", "rmse_fit", "score", "score_raw")


def logistic4(x: np.ndarray, b1: float, b2: float, b3: float, b4: float) -> np.ndarray:
    """The VQEG 4-parameter logistic: ``b1`` upper and ``b2`` lower asymptote, ``b3`` centre, ``|b4|`` scale."""
    z = np.clip(-(x - b3) / max(abs(b4), 1e-12), -500.0, 500.0)  # clip: no overflow warnings
    return (b1 - b2) / (1.0 + np.exp(z)) + b2


def fit_logistic4(pred: np.ndarray, mos: np.ndarray, p0: Optional[Sequence[float]] = None) -> Tuple[np.ndarray, bool]:
    """Least-squares fit of :func:`logistic4` mapping ``pred`` onto ``mos``.

    Returns ``(params (4,), ok)``. When the fit does not converge (e.g. constant
    predictions) ``ok`` is False and the params describe the best linear-ish fallback:
    a logistic centred on the mean with the MOS range, so downstream numbers stay defined.
    """
    pred = np.asarray(pred, dtype=np.float64)
    mos = np.asarray(mos, dtype=np.float64)
    spread = float(np.std(pred)) or 1.0
    if p0 is None:
        # VQEG's usual start: asymptotes at the MOS extremes, centre at the mean prediction.
        p0 = (float(np.max(mos)), float(np.min(mos)), float(np.mean(pred)), spread)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            params, _ = optimize.curve_fit(logistic4, pred, mos, p0=list(p0), maxfev=20000)
        if not np.all(np.isfinite(params)):
            raise RuntimeError("non-finite parameters")
        return params, True
    except (RuntimeError, ValueError, optimize.OptimizeWarning):
        return np.asarray(p0, dtype=np.float64), False


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    if np.std(a) == 0 or np.std(b) == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def correlations(pred: np.ndarray, mos: np.ndarray, p0: Optional[Sequence[float]] = None) -> Tuple[Dict[str, float], np.ndarray]:
    """All statistics of :data:`STAT_NAMES` for oriented predictions (higher = better).

    Returns ``(stats dict, logistic params)``.
    """
    pred = np.asarray(pred, dtype=np.float64)
    mos = np.asarray(mos, dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # constant input -> nan, reported as such
        srcc = float(stats.spearmanr(pred, mos).statistic)
        krcc = float(stats.kendalltau(pred, mos).statistic)
    plcc = _pearson(pred, mos)
    params, _ = fit_logistic4(pred, mos, p0)
    fitted = logistic4(pred, *params)
    plcc_fit = _pearson(fitted, mos)
    rmse_fit = float(np.sqrt(np.mean((fitted - mos) ** 2)))
    out = {
        "srcc": srcc,
        "plcc": plcc,
        "plcc_fit": plcc_fit,
        "krcc": krcc,
        "rmse_fit": rmse_fit,
        "score": (srcc + plcc_fit) / 2.0,
        "score_raw": (srcc + plcc) / 2.0,
    }
    return out, params


def bootstrap_ci(
    pred: np.ndarray,
    mos: np.ndarray,
    n_boot: int = 1000,
    seed: int = 0,
    p0: Optional[Sequence[float]] = None,
    alpha: float = 0.05,
) -> Dict[str, Tuple[float, float]]:
    """Percentile bootstrap ``(1 - alpha)`` CI of every statistic (resampling images with replacement).

    Deterministic for a given ``seed`` (numpy ``default_rng``). ``p0`` warm-starts each
    logistic refit from the full-sample fit (same optimum, far fewer iterations).
    """
    pred = np.asarray(pred, dtype=np.float64)
    mos = np.asarray(mos, dtype=np.float64)
    n = len(pred)
    rng = np.random.default_rng(seed)
    samples = {k: np.full(n_boot, np.nan) for k in STAT_NAMES}
    for b in range(n_boot):
        idx = rng.integers(0, n, size=n)
        vals, _ = correlations(pred[idx], mos[idx], p0)
        for k in STAT_NAMES:
            samples[k][b] = vals[k]
    lo, hi = 100.0 * alpha / 2.0, 100.0 * (1.0 - alpha / 2.0)
    ci = {}
    for k, v in samples.items():
        v = v[np.isfinite(v)]
        ci[k] = (float(np.percentile(v, lo)), float(np.percentile(v, hi))) if len(v) else (float("nan"), float("nan"))
    return ci


def evaluate(
    pred: Sequence[float],
    mos: Sequence[float],
    lower_better: bool = False,
    n_boot: int = 1000,
    seed: int = 0,
) -> Dict[str, object]:
    """Statistics, logistic params and bootstrap CIs of raw metric outputs ``pred`` vs ``mos``.

    ``lower_better`` metrics (e.g. NIQE, LPIPS) are negated before anything is computed.
    Returns a flat dict: ``n``, ``n_invalid``, each stat, ``<stat>_lo`` / ``<stat>_hi``
    (95% CI) and ``logistic`` (the 4 params, on the oriented prediction).
    """
    pred_a = np.asarray(pred, dtype=np.float64)
    mos_a = np.asarray(mos, dtype=np.float64)
    if pred_a.shape != mos_a.shape:
        raise ValueError(f"pred and mos differ in length: {pred_a.shape} vs {mos_a.shape}")
    ok = np.isfinite(pred_a) & np.isfinite(mos_a)
    pred_a, mos_a = pred_a[ok], mos_a[ok]
    if lower_better:
        pred_a = -pred_a
    out: Dict[str, object] = {"n": int(ok.sum()), "n_invalid": int((~ok).sum())}
    if len(pred_a) < 3:
        for k in STAT_NAMES:
            out[k] = out[f"{k}_lo"] = out[f"{k}_hi"] = float("nan")
        out["logistic"] = [float("nan")] * 4
        return out
    vals, params = correlations(pred_a, mos_a)
    ci = bootstrap_ci(pred_a, mos_a, n_boot=n_boot, seed=seed, p0=params) if n_boot > 0 else {}
    for k in STAT_NAMES:
        out[k] = vals[k]
        out[f"{k}_lo"], out[f"{k}_hi"] = ci.get(k, (float("nan"), float("nan")))
    out["logistic"] = [float(p) for p in params]
    return out


def srcc(pred: Sequence[float], target: Sequence[float]) -> float:
    """Spearman rank correlation of two equal-length 1-D arrays (nan when either is constant)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(stats.spearmanr(np.asarray(pred, np.float64), np.asarray(target, np.float64)).statistic)


def bootstrap_clusters(
    stat: Callable[[np.ndarray], float],
    n_clusters: int,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
) -> Tuple[float, float]:
    """Percentile bootstrap ``(1 - alpha)`` CI of a statistic over resampled clusters (e.g. photos).

    ``stat(idx)`` computes the statistic from an int array of cluster indices (with repeats);
    each of ``n_boot`` draws resamples ``n_clusters`` indices with replacement from a numpy
    ``default_rng(seed)``, so the interval is deterministic for a seed. Non-finite draws are dropped.
    """
    if n_clusters < 1 or n_boot < 1:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    vals = np.array([stat(rng.integers(0, n_clusters, size=n_clusters)) for _ in range(n_boot)], np.float64)
    vals = vals[np.isfinite(vals)]
    if not len(vals):
        return float("nan"), float("nan")
    return float(np.percentile(vals, 100.0 * alpha / 2.0)), float(np.percentile(vals, 100.0 * (1.0 - alpha / 2.0)))
