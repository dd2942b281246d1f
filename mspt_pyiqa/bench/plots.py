"""Plots of a leaderboard (matplotlib, Agg backend: works headless).

* ``scatter_<dataset>.png``: oriented prediction vs MOS per scored metric, with the
  fitted 4-parameter logistic.
* ``speed_accuracy_<dataset>.png``: score vs ms/image (log x), marker area by parameters.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Dict, List

import numpy as np

from mspt_pyiqa.bench.cache import safe_name
from mspt_pyiqa.bench.datasets import BenchDataset
from mspt_pyiqa.bench.stats import logistic4


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def scatter_plot(dataset: BenchDataset, results: List[Dict[str, Any]], scores: Dict[str, np.ndarray], out: Path) -> Path:
    """Grid of prediction-vs-MOS scatters (one panel per scored metric); returns the PNG path."""
    plt = _plt()
    ok = [r for r in results if r.get("status") == "ok" and r["metric"] in scores]
    ok.sort(key=lambda r: -(r.get("score") or -math.inf))
    cols = min(4, max(1, len(ok)))
    rows = max(1, math.ceil(len(ok) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.9 * rows), squeeze=False)
    mos = np.array([it.mos for it in dataset.items])
    for ax, r in zip(axes.flat, ok):
        pred = scores[r["metric"]] * (-1.0 if r.get("lower_better") else 1.0)
        good = np.isfinite(pred)
        ax.scatter(pred[good], mos[good], s=6, alpha=0.5)
        params = r.get("logistic")
        if params and all(p is not None for p in params) and good.any():
            xs = np.linspace(pred[good].min(), pred[good].max(), 200)
            ax.plot(xs, logistic4(xs, *params), color="C3", lw=1)
        sign = "-" if r.get("lower_better") else ""
        ax.set_title(f"{r['metric']}  score {r.get('score', float('nan')):.3f}", fontsize=8)
        ax.set_xlabel(f"{sign}prediction", fontsize=7)
        ax.set_ylabel("MOS", fontsize=7)
        ax.tick_params(labelsize=6)
    for ax in list(axes.flat)[len(ok):]:
        ax.axis("off")
    fig.tight_layout()
    path = out / f"scatter_{safe_name(dataset.name)}.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def speed_accuracy_plot(dataset_name: str, results: List[Dict[str, Any]], out: Path) -> Path:
    """Score vs ms/image (log scale) of scored metrics; marker area ~ sqrt(parameters)."""
    plt = _plt()
    ok = [r for r in results if r.get("status") == "ok" and r.get("ms_per_image") and r.get("score") is not None]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for r in ok:
        size = 20 + 3 * math.sqrt((r.get("params") or 0) / 1e3)
        ax.scatter(r["ms_per_image"], r["score"], s=size, alpha=0.6, color="C1" if r["metric"] == "mspt_face" else "C0")
        ax.annotate(r["metric"], (r["ms_per_image"], r["score"]), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_xlabel("ms / image (this machine, batch 1)")
    ax.set_ylabel("score = (SRCC + PLCC) / 2")
    ax.set_title(f"{dataset_name}: accuracy vs speed (marker area ~ sqrt(params))", fontsize=9)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path = out / f"speed_accuracy_{safe_name(dataset_name)}.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
