"""Leaderboard statistics: correlations vs scipy, logistic fit, bootstrap determinism, direction."""
import numpy as np
import pytest
from scipy import stats as sst

from mspt_pyiqa.bench.stats import evaluate, fit_logistic4, logistic4


@pytest.fixture()
def data():
    rng = np.random.default_rng(1)
    x = rng.normal(size=80)
    y = 1.0 / (1.0 + np.exp(-1.5 * x)) + rng.normal(scale=0.08, size=80)
    return x, y


def test_correlations_match_scipy(data):
    x, y = data
    out = evaluate(x, y, n_boot=0)
    assert out["srcc"] == pytest.approx(sst.spearmanr(x, y).statistic, abs=1e-12)
    assert out["krcc"] == pytest.approx(sst.kendalltau(x, y).statistic, abs=1e-12)
    assert out["plcc"] == pytest.approx(sst.pearsonr(x, y).statistic, abs=1e-12)
    assert out["score"] == pytest.approx((out["srcc"] + out["plcc_fit"]) / 2)
    assert out["score_raw"] == pytest.approx((out["srcc"] + out["plcc"]) / 2)
    # the logistic maps a sigmoid relation better than a line
    assert out["plcc_fit"] > out["plcc"]


def test_logistic_fit_recovers_known_parameters():
    x = np.linspace(-4, 6, 200)
    true = (4.5, 1.2, 1.0, 0.8)
    params, ok = fit_logistic4(x, logistic4(x, *true))
    assert ok
    assert params[:3] == pytest.approx(true[:3], abs=1e-4)
    assert abs(params[3]) == pytest.approx(true[3], abs=1e-4)
    out = evaluate(x, logistic4(x, *true), n_boot=0)
    assert out["plcc_fit"] == pytest.approx(1.0, abs=1e-9)
    assert out["rmse_fit"] == pytest.approx(0.0, abs=1e-5)


def test_bootstrap_is_seeded(data):
    x, y = data
    a = evaluate(x, y, n_boot=60, seed=7)
    b = evaluate(x, y, n_boot=60, seed=7)
    c = evaluate(x, y, n_boot=60, seed=8)
    keys = [k for k in a if k.endswith(("_lo", "_hi"))]
    assert all(a[k] == b[k] for k in keys)
    assert any(a[k] != c[k] for k in keys)
    for k in ("srcc", "plcc", "plcc_fit", "krcc", "score"):
        assert a[f"{k}_lo"] <= a[k] <= a[f"{k}_hi"]


def test_lower_better_is_flipped_and_nans_dropped(data):
    x, y = data
    up = evaluate(x, y, n_boot=0)
    down = evaluate(np.append(-x, np.nan), np.append(y, 0.5), lower_better=True, n_boot=0)
    assert down["n"] == len(x) and down["n_invalid"] == 1
    for k in ("srcc", "plcc", "krcc", "plcc_fit", "score"):
        assert down[k] == pytest.approx(up[k], abs=1e-6)
