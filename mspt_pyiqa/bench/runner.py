"""Run metrics over datasets: score every image (cached, resumable), then statistics,
efficiency and within-photo order checks, one (dataset, metric) at a time.

One bad image records its error and a NaN score; one failing metric records its reason;
neither stops the run.
"""
from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np
import torch
from tqdm import tqdm

from mspt_pyiqa.bench import efficiency, loading
from mspt_pyiqa.bench.cache import MetricCache, fingerprint
from mspt_pyiqa.bench.datasets import BenchDataset
from mspt_pyiqa.bench.order import order_accuracy
from mspt_pyiqa.bench.stats import evaluate

logger = logging.getLogger(__name__)

_FLUSH_EVERY = 16  # images between atomic rewrites of the scores cache
RESULT_VERSION = 2  # bump when the result schema changes (invalidates cached results)


@dataclasses.dataclass
class RunConfig:
    """Options of a benchmark run (see ``mspt-face bench --help``)."""

    out_dir: Path
    metrics: Optional[List[str]] = None  # None: the default list per dataset
    mspt_weights: Optional[Path] = None
    n_boot: int = 1000
    seed: int = 0
    device: str = "cpu"
    params_cache: Optional[Path] = None
    timing_runs: int = 5
    timing_size: int = 512  # square input (a resized dataset image) for every efficiency measurement
    timing_cache: Optional[Path] = None  # shared across datasets/runs; default <out_dir>/timing_cache
    random_timing: bool = True  # time unavailable learned metrics with random weights
    timing_budget_s: float = 90.0  # per metric, build + measurement; beyond it the row says so


def metric_key(name: str, mspt_weights: Optional[Path]) -> str:
    """Cache key: the metric name, plus the checkpoint's sha256 prefix for ``mspt_face``.

    Without an explicit checkpoint that is the catalog's default release, so cached scores of
    an earlier release are never reused after the default changes.
    """
    if name != loading.MSPT_METRIC:
        return name
    from mspt_pyiqa import weights as W

    if mspt_weights is not None:
        return f"{name}@{W.sha256_file(Path(mspt_weights))[:12]}"
    return f"{name}@{W.get_entry().sha256[:12]}" if W.default_entry_name() else name


def _score_one(metric: Any, item: Any, mode: str) -> float:
    with torch.no_grad():
        if mode == "FR":
            out = metric(str(item.path), str(item.ref))
        else:
            out = metric(str(item.path))
    return float(torch.as_tensor(out).float().mean())


def score_images(metric: Any, name: str, mode: str, dataset: BenchDataset, cache: MetricCache) -> np.ndarray:
    """Scores (N,) in item order, continuing from the cache; failures become NaN with the error kept."""
    done = cache.load_scores()
    todo = [it for it in dataset.items if str(it.path) not in done]
    if done and todo:
        logger.info("%s on %s: resuming, %d of %d images cached", name, dataset.name, len(done), len(dataset.items))
    pending = 0
    for it in tqdm(todo, desc=f"{dataset.name}:{name}", unit="img", leave=False, disable=not todo):
        try:
            done[str(it.path)] = (_score_one(metric, it, mode), "")
        except Exception as err:  # noqa: BLE001 - one bad file never stops the run
            msg = f"{type(err).__name__}: {err}".replace("\n", " ")[:300]
            logger.warning("%s: %s failed: %s", name, it.path, msg)
            done[str(it.path)] = (float("nan"), msg)
        pending += 1
        if pending >= _FLUSH_EVERY:
            cache.save_scores(done)
            pending = 0
    if pending or not cache.scores_path.is_file():
        cache.save_scores(done)
    return np.array([done[str(it.path)][0] for it in dataset.items], dtype=np.float64)


def _sample_inputs(dataset: BenchDataset, mode: str, size: int) -> Optional[tuple]:
    """First readable item resized to (1, 3, size, size) in [0, 1] (target, ref or None).

    One fixed size for every metric and dataset, so costs compare and can be cached.
    """
    from pyiqa.utils.img_util import imread2tensor

    def load(p: Path) -> torch.Tensor:
        x = imread2tensor(str(p), rgb=True).unsqueeze(0)
        return torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False).clamp(0, 1)

    for it in dataset.items[:10]:
        try:
            x = load(it.path)
            ref = load(it.ref) if mode == "FR" and it.ref else None
            return x, ref
        except Exception:  # noqa: BLE001 - try the next one
            continue
    return None


def _efficiency(metric: Any, name: str, dataset: BenchDataset, mode: str, cfg: RunConfig) -> Dict[str, Any]:
    """Efficiency of ``metric``, from the shared timing cache when the same computation was timed before."""
    import json

    from mspt_pyiqa.bench.cache import atomic_write_json

    cache_dir = cfg.timing_cache or (cfg.out_dir / "timing_cache")
    sig = efficiency.signature(name, metric, cfg.timing_size)
    path = cache_dir / f"{sig}.json"
    if path.is_file():
        try:
            data = json.loads(path.read_text())
            logger.info("%s: timing reused from %s (first measured for %s)", name, path.name, data.get("measured_for"))
            return {k: v for k, v in data.items() if k != "measured_for"}
        except (OSError, json.JSONDecodeError):
            pass
    sample = _sample_inputs(dataset, mode, cfg.timing_size)
    if sample is None:
        return {"efficiency_note": "no readable sample image"}
    try:
        with efficiency.time_limit(cfg.timing_budget_s):
            out = efficiency.measure(metric, sample[0], sample[1], runs=cfg.timing_runs)
    except efficiency.TimeBudgetExceeded:
        out = {"params": efficiency.count_params(metric), "ms_per_image": None, "gflops": None,
               "efficiency_note": f"not timed: one call takes over {cfg.timing_budget_s:g} s here (--timing-budget)"}
        atomic_write_json(path, {**out, "measured_for": name})
        return out
    except Exception as err:  # noqa: BLE001
        return {"efficiency_note": f"timing failed: {type(err).__name__}: {err}"[:200]}
    atomic_write_json(path, {**out, "measured_for": name})
    return out


def run_metric(dataset: BenchDataset, name: str, cfg: RunConfig, explicit: bool) -> Dict[str, Any]:
    """Result dict of one metric on one dataset (from the cache when its fingerprint matches)."""
    key = metric_key(name, cfg.mspt_weights) if name == loading.MSPT_METRIC else name
    cache = MetricCache(cfg.out_dir, dataset.name, key)
    fp = fingerprint(
        [f"v{RESULT_VERSION}", key, str(cfg.n_boot), str(cfg.seed), str(explicit)]
        + [f"{it.path}|{it.mos!r}|{it.ref}" for it in dataset.items]
    )
    cached = cache.load_result(fp)
    if cached is not None and cached.get("status") == "ok":
        logger.info("%s on %s: cached result", name, dataset.name)
        return cached
    loaded = loading.load_metric(
        name, dataset.has_ref, cfg.device, cfg.mspt_weights, cfg.params_cache, explicit=explicit
    )
    result: Dict[str, Any] = {"dataset": dataset.name, "metric": name, "key": key, "fingerprint": fp}
    result.update(loaded.row())
    if loaded.status != "ok":
        if loaded.status == "cannot load" and cfg.random_timing:
            if cached is not None and cached.get("timing_only_random_weights"):
                result.update({k: cached.get(k) for k in ("params", "gflops", "ms_per_image", "input_hw", "threads", "timing_only_random_weights")})
            else:
                result.update(_random_timing(name, loaded.mode, dataset, cfg))
        cache.save_result(result)
        return result
    scores = score_images(loaded.metric, name, loaded.mode, dataset, cache)
    mos = np.array([it.mos for it in dataset.items], dtype=np.float64)
    result.update(_efficiency(loaded.metric, name, dataset, loaded.mode, cfg))
    result.update(evaluate(scores, mos, lower_better=loaded.lower_better, n_boot=cfg.n_boot, seed=cfg.seed))
    errors = [e for _, (_, e) in cache.load_scores().items() if e]
    result["n_errors"] = len(errors)
    result["first_error"] = errors[0] if errors else ""
    if dataset.has_order:
        result["order"] = order_accuracy(dataset.items, scores.tolist(), loaded.lower_better)
    result["scores_file"] = str(cache.scores_path)
    cache.save_result(result)
    return result


def _random_timing(name: str, mode: str, dataset: BenchDataset, cfg: RunConfig) -> Dict[str, Any]:
    """Efficiency of the architecture with random weights (timing only), or a note why not."""
    try:
        with efficiency.time_limit(cfg.timing_budget_s):
            metric = efficiency.random_weights(name, cfg.device)
    except Exception as err:  # noqa: BLE001 - includes TimeBudgetExceeded
        return {"efficiency_note": f"random-weights build failed: {type(err).__name__}: {err}"[:200]}
    out = _efficiency(metric, name, dataset, mode, cfg)
    out["timing_only_random_weights"] = True
    return out


def run_dataset(dataset: BenchDataset, cfg: RunConfig) -> List[Dict[str, Any]]:
    """All metrics (``cfg.metrics`` or the default list) on one dataset."""
    names = cfg.metrics or loading.default_metric_names(dataset.has_ref)
    explicit = cfg.metrics is not None
    results = []
    for name in tqdm(names, desc=f"metrics on {dataset.name}", unit="metric"):
        try:
            results.append(run_metric(dataset, name, cfg, explicit))
        except Exception as err:  # noqa: BLE001 - one metric never loses the others
            logger.exception("%s on %s failed", name, dataset.name)
            results.append({"dataset": dataset.name, "metric": name, "status": "failed", "reason": f"{type(err).__name__}: {err}"[:300]})
    return results
