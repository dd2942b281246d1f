"""Probe: which split of the 0.5 GFLOPs budget between the two views scores the yardstick best.

Scores every image of one arm of the yardstick's cache (``eval/native_scale.py`` writes it) with
one checkpoint, once per *resized view* size (the image resized to S px, short side) and once per
*detail view* size (its centre D x D square at the image's own resolution), then combines the
stored view scores into every two-view pair ``S + D`` (score = mean of the two views' scores, which
is what ``MSPTNet(detail_size=D)`` at test size S computes) and every single view. The cost of a
pair is the backbone's FLOPs at 448 px (0.438 GFLOPs, ``eval/efficiency.py``) scaled by area;
pairs above ``--max-gflops`` are left out.

    python research/probes/view_size_grid.py --weights runs/mspt_face_v12_probe448.pth \\
        --arm realworld --resized 320 384 448 --detail 0 160 256 320 \\
        --out research/reports/view_size_grid_probe448_realworld

Per-image view scores are cached in ``--views-cache`` (default ``runs/view_size_grid/<out name>_views.csv``;
a rerun reuses the sizes already there).
Writes ``<out>.md`` and ``<out>.json``; no intervals (the yardstick's report has them).
"""
from __future__ import annotations

import argparse
import csv
import os
import sys
from pathlib import Path
from typing import Dict, List, Optional

import torch
from tqdm import tqdm

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from mspt_pyiqa.archs.mspt_arch import MSPTNet  # noqa: E402
from mspt_pyiqa.bench import native_figures  # noqa: E402
from mspt_pyiqa.bench.native import YARDSTICK_LEVELS, decode, to_tensor  # noqa: E402
from mspt_pyiqa.preprocess import detail_view, resize_to_test_size  # noqa: E402
from mspt_pyiqa.utils.io import atomic_write_json, atomic_write_text  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from detail_view_by_size import BANDS, arm_rows, by_band, common_args  # noqa: E402  (the sibling probe)

GFLOPS_448 = 0.438  # backbone at 448 x 448 by torch.utils.flop_counter (eval/efficiency.py)
FIGURES = ("order:gaussian_noise", "order:jpeg", "order:worst", "clean_beats_1:gaussian_noise",
           "clean_beats_1:jpeg", "clean_beats_1:worst", "srcc:all")


def gflops(side: int) -> float:
    """Approximate backbone GFLOPs of one ``side`` x ``side`` view (area scaling from 448 px)."""
    return GFLOPS_448 * (side / 448.0) ** 2 if side else 0.0


def score_sizes(rows: List[Dict[str, str]], cache: Path, net: MSPTNet, views: List[str], enlarge: bool = True) -> None:
    """Add the score of each missing view column (``r<S>`` resized, ``d<D>`` detail) to every row.

    ``enlarge=False``: the release field of that name (input size as a maximum); a detail view of
    an image below ``D`` px is then its resized view at ``D`` px, exact for the pairs ``S + S``."""
    if not views:
        return
    for r in tqdm(rows, desc=f"scoring {' '.join(views)}", unit="img"):
        x = to_tensor(decode((cache / r["file"]).read_bytes())).unsqueeze(0)
        with torch.no_grad():
            for v in views:
                side = int(v[1:])
                view = (resize_to_test_size(x, side, enlarge=enlarge) if v[0] == "r"
                        else detail_view(x, side, enlarge=enlarge, test_img_size=side))
                r[v] = repr(float(net(view)))


def pair_figures(rows: List[Dict[str, str]], col: str, kinds: List[str], lower_better: bool = False) -> Dict[str, float]:
    figs = native_figures.figures(rows, col, lower_better, kinds, n_boot=0)
    out = {f"{f['figure']}:{f['kind']}": float(f["value"]) for f in figs}
    out["order:worst"] = min(out[f"order:{k}"] for k in kinds)
    out["clean_beats_1:worst"] = min(out[f"clean_beats_1:{k}"] for k in kinds)
    return out


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    common_args(p)
    p.add_argument("--resized", type=int, nargs="+", required=True, help="resized-view sizes (px, short side)")
    p.add_argument("--detail", type=int, nargs="+", default=[0], help="detail-view sizes (px); 0 = no detail view")
    p.add_argument("--max-gflops", type=float, default=0.5, help="leave out pairs above this cost")
    p.add_argument("--out", type=Path, required=True, help="report path without extension")
    p.add_argument("--views-cache", type=Path, default=None, help="per-image view scores (CSV, outside the repository)")
    p.add_argument("--no-enlarge", action="store_true",
                   help="score as a release with enlarge: false (images below a view's size kept at their own size)")
    args = p.parse_args(argv)
    rows = arm_rows(args.cache, args.arm)
    views_csv = args.views_cache or REPO / "runs" / "view_size_grid" / (args.out.name + "_views.csv")
    views_csv.parent.mkdir(parents=True, exist_ok=True)
    if views_csv.exists():
        with open(views_csv, newline="", encoding="utf-8") as f:
            stored = {r["file"]: r for r in csv.DictReader(f)}
        for r in rows:
            r.update({k: v for k, v in stored.get(r["file"], {}).items() if k[:1] in "rd" and k[1:].isdigit()})
    wanted = [f"r{s}" for s in args.resized] + [f"d{d}" for d in args.detail if d]
    missing = [v for v in wanted if any(v not in r for r in rows)]
    net = MSPTNet(test_img_size=None, detail_size=None, pretrained_model_path=str(args.weights)).eval()
    score_sizes(rows, args.cache, net, missing, enlarge=not args.no_enlarge)
    cols = sorted({k for r in rows for k in r if k[:1] in "rd" and k[1:].isdigit()}, key=lambda k: (k[0], int(k[1:])))
    tmp = views_csv.with_suffix(".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=["file"] + cols)
        w.writeheader()
        w.writerows({"file": r["file"], **{c: r[c] for c in cols}} for r in rows)
    os.replace(tmp, views_csv)

    kinds = list(YARDSTICK_LEVELS)
    results: Dict[str, Dict[str, float]] = {"NIQE": pair_figures(rows, "niqe", kinds, lower_better=True)}
    costs: Dict[str, float] = {"NIQE": float("nan")}
    for s in args.resized:
        for d in args.detail:
            cost = gflops(s) + gflops(d)
            if cost > args.max_gflops:
                continue
            name = f"{s}+{d}" if d else f"{s}"
            for r in rows:
                r["_pair"] = float(r[f"r{s}"]) if not d else 0.5 * (float(r[f"r{s}"]) + float(r[f"d{d}"]))
            results[name], costs[name] = pair_figures(rows, "_pair", kinds), cost
    cmd = "python research/probes/view_size_grid.py " + " ".join(argv if argv is not None else sys.argv[1:])
    lines = [f"# View sizes of `{args.weights.name}` on the yardstick's {args.arm} arm", "",
             f"Made by: `{cmd}`", "",
             f"{len({r['photo'] for r in rows})} photos, {len(rows)} images. `S+D`: the mean of the resized view (S px)"
             " and the detail view (centre D px square at native resolution). Worst = the lowest of the six types."
             " No intervals.", "",
             "| views | GFLOPs | " + " | ".join(k.replace(":", ", ").replace("_", " ") for k in FIGURES) + " |",
             "|---" * (len(FIGURES) + 2) + "|"]
    for name, figs in results.items():
        cost = "" if name == "NIQE" else f"{costs[name]:.3f}"
        lines.append(f"| {name} | {cost} | " + " | ".join(f"{figs[k]:.3f}" for k in FIGURES) + " |")
    bands = {kind: {c: by_band(rows, c, kind) for c in cols} for kind in ("gaussian_noise", "jpeg")}
    for kind in bands:
        bands[kind]["niqe"] = by_band(rows, "niqe", kind, lower_better=True)
        lines += ["", f"Single views: clean photo above its {kind.replace('_', ' ')} level 1, by the photo's short side"
                  " (photos per band in brackets; `r`: resized view, `d`: detail view):", "",
                  "| view | " + " | ".join(f"{b['band']} px ({b['photos']})" for b in bands[kind]["niqe"]) + " |",
                  "|---" * (len(BANDS) + 1) + "|"]
        for c, figs in bands[kind].items():
            lines.append(f"| {c} | " + " | ".join(f"{b['clean_beats_1']:.2f}" for b in figs) + " |")
    atomic_write_text(args.out.with_suffix(".md"), "\n".join(lines) + "\n")
    atomic_write_json(args.out.with_suffix(".json"), {"command": cmd, "gflops": costs, "figures": results, "bands": bands})
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
