"""``mspt-face bench``: the leaderboard of mspt_face and pyiqa's metrics on face IQA datasets.

Example (the synthetic corpus's test split, 400 images, your checkpoint)::

    mspt-face bench --dataset path/to/corpus.csv --mspt-weights mspt.pth --max-images 400 --out eval/results/corpus
"""
from __future__ import annotations

import argparse
import logging
import shlex
import sys
from pathlib import Path
from typing import Any, Dict, List

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``mspt-face bench``."""
    parser.add_argument("--dataset", action="append", default=[], metavar="SPEC",
                        help="dataset: a CSV (corpus or pyiqa meta-info) or a VQualA folder, or "
                             "key=value,... with keys path,name,layout(auto|pyiqa|vquala|corpus),root,split,ref_column; repeatable")
    parser.add_argument("--toyset", type=Path, metavar="FACES_DIR",
                        help="also build and evaluate the provisional toy set from clean face photos in FACES_DIR (scut/, celebahq/)")
    parser.add_argument("--toyset-photos", type=int, default=16, help="photos in the toy set (17 images each: clean + 4 degradations x 4 levels)")
    parser.add_argument("--toyset-size", type=int, default=256, help="toy-set image side in px")
    parser.add_argument("--metrics", default=None,
                        help="comma-separated metric names (default: mspt_face, every pyiqa NR metric, and FR metrics where references exist)")
    parser.add_argument("--mspt-weights", type=Path, default=None, help="MSPT checkpoint for mspt_face (pretrained_model_path)")
    parser.add_argument("--out", type=Path, default=Path("eval/results/latest"), help="output folder (also holds the resumable cache)")
    parser.add_argument("--max-images", type=int, default=None, help="seeded subsample per dataset (whole photos for the corpus)")
    parser.add_argument("--seed", type=int, default=0, help="seed of subsampling and bootstrap")
    parser.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples for the 95%% CIs (0: no CIs)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--params-cache", type=Path, default=None,
                        help="folder for NIQE/BRISQUE parameter sdists and conversions (default $MSPT_PYIQA_BENCH_CACHE or ~/.cache/mspt_pyiqa/bench)")
    parser.add_argument("--timing-runs", type=int, default=5, help="timed calls per metric (median; fewer for slow ones)")
    parser.add_argument("--timing-size", type=int, default=512, help="square input side (px) for params/GFLOPs/ms measurements")
    parser.add_argument("--timing-cache", type=Path, default=None,
                        help="shared timing cache (default OUT/timing_cache); timings are per machine, reused across runs and datasets")
    parser.add_argument("--timing-budget", type=float, default=90.0,
                        help="seconds allowed per metric for the cost measurement (a slower metric is listed as 'not timed')")
    parser.add_argument("--no-random-timing", action="store_true", help="do not time unavailable learned metrics with random weights")
    parser.add_argument("--offline", choices=["auto", "yes", "no"], default="auto",
                        help="Hugging Face hub offline mode: auto = on when huggingface.co is unreachable (fast failures)")
    parser.add_argument("--title", default=None, help="title line of leaderboard.md")
    parser.add_argument("--no-plots", action="store_true")


def run(args: argparse.Namespace) -> int:
    """Run the benchmark; exit status 0 when every dataset could be read, 2 otherwise."""
    import numpy as np

    from mspt_pyiqa.bench import loading, report
    from mspt_pyiqa.bench.cache import MetricCache, atomic_write_json
    from mspt_pyiqa.bench.datasets import DatasetSpec, load_dataset
    from mspt_pyiqa.bench.runner import RunConfig, run_dataset

    offline = {"yes": True, "no": False}.get(args.offline)
    if offline is None:
        offline = not loading.hub_reachable()
    loading.set_offline(offline)
    logger.info("Hugging Face hub offline mode: %s", offline)

    specs: List[DatasetSpec] = []
    try:
        specs = [DatasetSpec.parse(s) for s in args.dataset]
    except ValueError as err:
        logger.error("%s", err)
        return 2
    if args.toyset is not None:
        from mspt_pyiqa.bench.toyset import make_toyset, pick_photos

        photos = pick_photos(args.toyset, args.toyset_photos, seed=args.seed)
        if not photos:
            logger.error("--toyset %s: no photos found under scut/ or celebahq/", args.toyset)
            return 2
        csv = make_toyset(photos, args.out / "toyset", size=args.toyset_size, seed=args.seed)
        specs.append(DatasetSpec(path=csv, name="provisional-toyset", layout="corpus", split="test"))
    if not specs:
        logger.error("no dataset: give --dataset and/or --toyset")
        return 2

    cfg = RunConfig(
        out_dir=args.out,
        metrics=[m.strip() for m in args.metrics.split(",") if m.strip()] if args.metrics else None,
        mspt_weights=args.mspt_weights,
        n_boot=args.n_boot,
        seed=args.seed,
        device=args.device,
        params_cache=args.params_cache,
        timing_runs=args.timing_runs,
        timing_size=args.timing_size,
        timing_budget_s=args.timing_budget,
        timing_cache=args.timing_cache,
        random_timing=not args.no_random_timing,
    )
    all_results: List[Dict[str, Any]] = []
    status = 0
    meta: Dict[str, Any] = {
        "title": args.title or "mspt-face bench",
        "command": "mspt-face bench " + " ".join(shlex.quote(a) for a in sys.argv[2:]) if sys.argv[1:2] == ["bench"] else " ".join(shlex.quote(a) for a in sys.argv),
        "machine": report.machine_info(),
        "offline": offline,
        "n_boot": cfg.n_boot,
        "seed": cfg.seed,
        "max_images": args.max_images,
        "flops_convention": "FLOPs = 2 x MACs, torch.utils.flop_counter.FlopCounterMode (convolutions and matmuls only)",
        "timing": f"batch 1, {args.timing_size}x{args.timing_size} input (first dataset image resized), median of up to {args.timing_runs} calls",
    }
    for spec in specs:
        try:
            ds = load_dataset(spec, max_images=args.max_images, seed=args.seed)
        except (OSError, ValueError) as err:
            logger.error("dataset %s: %s", spec.path, err)
            status = 2
            continue
        meta.setdefault("datasets", {})[ds.name] = ds.audit()
        if not ds.items:
            logger.error("dataset %s: no images (split %r)", spec.path, spec.split)
            status = 2
            continue
        results = run_dataset(ds, cfg)
        all_results += results
        report.write_outputs(args.out, all_results, meta)
        if not args.no_plots:
            from mspt_pyiqa.bench import plots

            scores = {}
            for r in results:
                if r.get("status") == "ok":
                    cached = MetricCache(args.out, ds.name, r.get("key", r["metric"])).load_scores()
                    scores[r["metric"]] = np.array([cached.get(str(it.path), (np.nan, ""))[0] for it in ds.items])
            plots.scatter_plot(ds, results, scores, args.out)
            plots.speed_accuracy_plot(ds.name, results, args.out)
    meta["calibration"] = _calibrations(all_results, cfg)
    if meta["calibration"]:
        atomic_write_json(args.out / "calibration.json", meta["calibration"])
    paths = report.write_outputs(args.out, all_results, meta)
    logger.info("wrote %s", ", ".join(str(p) for p in paths.values()))
    return status


def _calibrations(results: List[Dict[str, Any]], cfg: Any) -> List[Dict[str, Any]]:
    """Check converted NIQE/BRISQUE parameters on pyiqa's calibration images (once per metric)."""
    from mspt_pyiqa.bench import classic_params
    from mspt_pyiqa.bench.catalog import CONVERTED_PARAMS, PARAMS_SOURCE

    out = []
    for name, key in CONVERTED_PARAMS.items():
        if not any(r.get("metric") == name and r.get("params_source") == PARAMS_SOURCE[key] for r in results):
            continue
        try:
            path = classic_params.PARAM_BUILDERS[key](cfg.params_cache)
            out.append(classic_params.calibrate(name, path))
        except Exception as err:  # noqa: BLE001
            out.append({"metric": name, "ok": False, "note": f"{type(err).__name__}: {err}"})
    for c in out:
        if c.get("ok") is False:
            logger.warning("calibration of %s failed: %s", c["metric"], c)
    return out
