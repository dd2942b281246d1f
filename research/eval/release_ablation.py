"""Ablation table of release recipes: what each lever of stage 3 adds, on the same held-out pools.

Usage::

    python -m research.eval.release_ablation --run v1=runs/release_v1 --run v2=runs/release_v2 ... \
        --out research/reports/release_ablation

Each ``--run NAME=DIR`` is a run folder of ``python -m research.release.run`` (its
``config.yml`` and ``report.json``); each ``--release NAME`` a published release or a measured
candidate (its committed config and ``weights/NAME_report.json`` or
``research/reports/NAME_candidate_report.json``, so no run folder is needed). Every run evaluated here shares the v1 run's split, test
pool and levels pool (same seed and config entries), so the figures are comparable. Writes
``<out>.md`` (a readable table) and ``<out>.csv``. ``--levels-all-sets POOL`` (a run's
``pools/levels_mixed.npz``) scores the final checkpoint of runs whose report predates that pool.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import yaml

COLUMNS = ["run", "feature_init_iterations", "stage3_iterations", "ladder_fraction", "rank_weight",
           "ladder_teacher_weight", "ladder_pristine_weight", "stage3_train_min", "test_srcc", "test_plcc",
           "order_min", "order_min_kind", "pristine_above", "order_min_all_sets", "pristine_above_all_sets",
           "order_min_clean", "order_min_clean_kind", "kinds_below_bar_clean", "pristine_above_clean"]
#: The issue-6 bar for within-photo order (every kind).
ORDER_BAR = 0.95
#: Report key of the clean-sets levels pool with one set of draws per ladder (the pool on
#: which the bars are well posed: research/reports/release_levels.md).
CLEAN_KEY = "levels_clean_common_random"
REPO = Path(__file__).resolve().parents[2]


def all_sets_figures(checkpoint: Path, pool_path: Path) -> Dict[str, Any]:
    """Order figures of a checkpoint on a levels pool (for reports written before it existed)."""
    from mspt_pyiqa.archs import MSPTNet
    from research.release.evaluate import order_figures, predict
    from research.release.pools import Pool
    from mspt_pyiqa.weights import read_checkpoint

    pool = Pool.load(pool_path)
    net = MSPTNet(pretrained=False, test_img_size=None)
    net.load_state_dict(read_checkpoint(checkpoint))
    net.eval()
    return order_figures(predict(net, pool), pool)


def release_files(name: str) -> Tuple[Path, Path]:
    """``(config, report)`` of a published release or a measured candidate recipe.

    The recipe is ``research/release/configs/<name>.yml``; the report is the release's
    ``weights/<name>_report.json`` or, for a candidate that was not released, the committed
    copy of its run's report, ``research/reports/<name>_candidate_report.json``.
    """
    reports = [REPO / "weights" / f"{name}_report.json", REPO / "research" / "reports" / f"{name}_candidate_report.json"]
    report = next((r for r in reports if r.is_file()), reports[0])
    return REPO / "research" / "release" / "configs" / f"{name}.yml", report


def row(name: str, config: Path, report: Path, levels_all_sets: Optional[Path] = None) -> Dict[str, Any]:
    cfg = yaml.safe_load(config.read_text())
    rep = json.loads(report.read_text())
    st3 = cfg["stages"][-1]
    lad = st3.get("ladder") or {}
    s = rep["student"]
    mono = s["monotonicity_per_kind"]
    allsets: Optional[Dict[str, Any]] = s.get("levels_all_sets")
    if allsets is None and levels_all_sets is not None:
        allsets = all_sets_figures(Path(rep["final_checkpoint"]), levels_all_sets)
    return {
        "run": name,
        "feature_init_iterations": (cfg.get("feature_init") or {}).get("iterations", 0),  # 0: random init
        "stage3_iterations": st3["iterations"],
        "ladder_fraction": lad.get("fraction", 0.0),
        "rank_weight": lad.get("rank_weight", 0.0),
        "ladder_teacher_weight": lad.get("teacher_weight", 0.0),
        "ladder_pristine_weight": lad.get("pristine_weight", 1.0),  # 1: pristine-led pairs count like the rest
        "stage3_train_min": round(rep["stages"][-1]["train_seconds"] / 60, 1),
        "test_srcc": round(s["test"]["srcc"], 4),
        "test_plcc": round(s["test"]["plcc"], 4),
        "order_min": round(s["monotonicity_min"], 4),
        "order_min_kind": min(mono, key=mono.get),
        "pristine_above": round(s["pristine_above_degraded"], 4),
        "order_min_all_sets": round(allsets["monotonicity_min"], 4) if allsets else "",
        "pristine_above_all_sets": round(allsets["pristine_above_degraded"], 4) if allsets else "",
        **clean_columns(s.get(CLEAN_KEY)),
    }


def clean_columns(clean: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    """Worst kind, number of kinds under the bar and pristine-above on the clean pool ('' if absent)."""
    if not clean:
        return {"order_min_clean": "", "order_min_clean_kind": "", "kinds_below_bar_clean": "", "pristine_above_clean": ""}
    mono = clean["monotonicity_per_kind"]
    return {"order_min_clean": round(clean["monotonicity_min"], 4), "order_min_clean_kind": min(mono, key=mono.get),
            "kinds_below_bar_clean": sum(1 for v in mono.values() if v < ORDER_BAR),
            "pristine_above_clean": round(clean["pristine_above_degraded"], 4)}


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", action="append", default=[], help="NAME=RUN_DIR (repeatable)")
    parser.add_argument("--release", action="append", default=[],
                        help="NAME of a published release or measured candidate: its committed config and "
                             "weights/NAME_report.json or research/reports/NAME_candidate_report.json (repeatable)")
    parser.add_argument("--out", type=Path, default=Path("research/reports/release_ablation"))
    parser.add_argument("--note", default="", help="a line of context printed under the table")
    parser.add_argument("--levels-all-sets", type=Path, default=None,
                        help="levels_mixed.npz of a run, to score runs whose report lacks it")
    args = parser.parse_args(argv)
    if not args.run and not args.release:
        parser.error("give at least one --run or --release")
    rows = []
    for name in args.release:
        config, report = release_files(name)
        if not (config.is_file() and report.is_file()):
            parser.error(f"--release {name!r}: no {config} or {report}")
        rows.append(row(name, config, report, args.levels_all_sets))
    for spec in args.run:
        name, _, path = spec.partition("=")
        if not path or not (Path(path) / "report.json").is_file():
            parser.error(f"--run {spec!r}: expected NAME=DIR with DIR/report.json")
        rows.append(row(name, Path(path) / "config.yml", Path(path) / "report.json", args.levels_all_sets))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out.with_suffix(".csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        w.writerows(rows)
    lines = ["# Release recipe ablation (stage 3 levers)", "",
             "Command: `python -m research.eval.release_ablation " + " ".join(
                 [f"--release {r}" for r in args.release] + [f"--run {r}" for r in args.run])
             + (f" --levels-all-sets {args.levels_all_sets}" if args.levels_all_sets else "") + "`", "",
             "Held-out test pool (880 images) and levels pool (60 All-Age-Faces test photos x 66; `all_sets`: 20 test "
             "photos per source set; `clean`: 30 test photos of each clean set, one set of draws per ladder) of the "
             "release runner; bars: SRCC/PLCC >= 0.90, order >= 0.95 for every kind, pristine above degraded >= 0.95. "
             "One seed per row.", "",
             "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(str(r[c]) for c in COLUMNS) + " |" for r in rows]
    if args.note:
        lines += ["", args.note]
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
