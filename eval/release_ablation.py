"""Ablation table of release recipes: what each lever of stage 3 adds, on the same held-out pools.

Usage::

    python eval/release_ablation.py --run v1=runs/release_v1 --run v2=runs/release_v2 ... \
        --out eval/reports/release_ablation

Each ``--run NAME=DIR`` is a run folder of ``python -m mspt_pyiqa.release.run`` (its
``config.yml`` and ``report.json``). Every run evaluated here shares the v1 run's split, test
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
from typing import Any, Dict, List, Optional

import yaml

COLUMNS = ["run", "stage3_iterations", "ladder_fraction", "rank_weight", "stage3_train_min", "test_srcc", "test_plcc",
           "order_min", "order_min_kind", "pristine_above", "order_min_all_sets", "pristine_above_all_sets"]


def all_sets_figures(checkpoint: Path, pool_path: Path) -> Dict[str, Any]:
    """Order figures of a checkpoint on a levels pool (for reports written before it existed)."""
    from mspt_pyiqa.archs import MSPTNet
    from mspt_pyiqa.release.evaluate import order_figures, predict
    from mspt_pyiqa.release.pools import Pool
    from mspt_pyiqa.weights import read_checkpoint

    pool = Pool.load(pool_path)
    net = MSPTNet(pretrained=False, test_img_size=None)
    net.load_state_dict(read_checkpoint(checkpoint))
    net.eval()
    return order_figures(predict(net, pool), pool)


def row(name: str, run_dir: Path, levels_all_sets: Optional[Path] = None) -> Dict[str, Any]:
    cfg = yaml.safe_load((run_dir / "config.yml").read_text())
    rep = json.loads((run_dir / "report.json").read_text())
    st3 = cfg["stages"][-1]
    lad = st3.get("ladder") or {}
    s = rep["student"]
    mono = s["monotonicity_per_kind"]
    allsets: Optional[Dict[str, Any]] = s.get("levels_all_sets")
    if allsets is None and levels_all_sets is not None:
        allsets = all_sets_figures(Path(rep["final_checkpoint"]), levels_all_sets)
    return {
        "run": name,
        "stage3_iterations": st3["iterations"],
        "ladder_fraction": lad.get("fraction", 0.0),
        "rank_weight": lad.get("rank_weight", 0.0),
        "stage3_train_min": round(rep["stages"][-1]["train_seconds"] / 60, 1),
        "test_srcc": round(s["test"]["srcc"], 4),
        "test_plcc": round(s["test"]["plcc"], 4),
        "order_min": round(s["monotonicity_min"], 4),
        "order_min_kind": min(mono, key=mono.get),
        "pristine_above": round(s["pristine_above_degraded"], 4),
        "order_min_all_sets": round(allsets["monotonicity_min"], 4) if allsets else "",
        "pristine_above_all_sets": round(allsets["pristine_above_degraded"], 4) if allsets else "",
    }


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", action="append", required=True, help="NAME=RUN_DIR (repeatable)")
    parser.add_argument("--out", type=Path, default=Path("eval/reports/release_ablation"))
    parser.add_argument("--note", default="", help="a line of context printed under the table")
    parser.add_argument("--levels-all-sets", type=Path, default=None,
                        help="levels_mixed.npz of a run, to score runs whose report lacks it")
    args = parser.parse_args(argv)
    rows = []
    for spec in args.run:
        name, _, path = spec.partition("=")
        if not path or not (Path(path) / "report.json").is_file():
            parser.error(f"--run {spec!r}: expected NAME=DIR with DIR/report.json")
        rows.append(row(name, Path(path), args.levels_all_sets))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out.with_suffix(".csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        w.writerows(rows)
    lines = ["# Release recipe ablation (stage 3 levers)", "",
             "Command: `python eval/release_ablation.py " + " ".join(f"--run {r}" for r in args.run)
             + (f" --levels-all-sets {args.levels_all_sets}" if args.levels_all_sets else "") + "`", "",
             "Held-out test pool (880 images) and levels pool (60 All-Age-Faces test photos x 66; `all_sets`: 20 test "
             "photos per source set) of the release runner; bars: SRCC/PLCC >= 0.90, order >= 0.95 for every kind, "
             "pristine above degraded >= 0.95. One seed per row.", "",
             "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(str(r[c]) for c in COLUMNS) + " |" for r in rows]
    if args.note:
        lines += ["", args.note]
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
