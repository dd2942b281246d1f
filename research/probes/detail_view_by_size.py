"""Probe: what each view of a two-view MSPT sees on the native-scale yardstick, by photo size.

For every image of one arm of the yardstick's cache (``eval/native_scale.py`` writes it), scores
the *resized view* (the image resized to ``--size`` px, short side) and the *detail view* (its
centre ``--size`` square at the image's own resolution, :func:`mspt_pyiqa.preprocess.detail_view`)
separately with one checkpoint, and their mean, which is exactly what ``MSPTNet(detail_size=S)``
scores. Reports the yardstick's figures per view (order, clean above level 1, SRCC; no intervals)
and, for Gaussian noise and JPEG, the share of photos whose clean image beats level 1 per band of
the photo's short side. ``--zoom Z`` cuts the detail view from the image first resized to a short
side of at most Z px (a bounded zoom) instead of the native resolution.

    python research/probes/detail_view_by_size.py --weights runs/mspt_face_v12_probe448.pth \\
        --arm realworld --size 320 --out research/reports/detail_view_by_size_probe448

Reads the cache's ``scores.csv`` for the image list and its NIQE column; writes ``<out>.md`` and ``<out>.json``.
"""
from __future__ import annotations

import argparse
import csv
import os
import sys
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np
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

BANDS = ((256, 400), (400, 600), (600, 800), (800, 1025))
VIEWS = {"resized": "resized view", "detail": "detail view", "both": "mean of the two (the two-view score)"}


def score_views(rows: List[Dict[str, str]], cache: Path, weights: Path, size: int, zoom: Optional[int]) -> None:
    """Add ``resized``, ``detail`` and ``both`` scores to every row (in place)."""
    net = MSPTNet(test_img_size=None, detail_size=None, pretrained_model_path=str(weights)).eval()
    for r in tqdm(rows, desc="scoring views", unit="img"):
        x = to_tensor(decode((cache / r["file"]).read_bytes())).unsqueeze(0)
        source = resize_to_test_size(x, zoom) if zoom and min(x.shape[-2:]) > zoom else x
        with torch.no_grad():
            g = float(net(resize_to_test_size(x, size)))
            d = float(net(detail_view(source, size)))
        r["resized"], r["detail"], r["both"] = g, d, 0.5 * (g + d)


def by_band(rows: List[Dict[str, object]], column: str, kind: str, lower_better: bool = False) -> List[Dict[str, object]]:
    """Share of photos whose clean image scores better than ``kind``'s level 1, per short-side band."""
    sign = -1.0 if lower_better else 1.0
    out = []
    for lo, hi in BANDS:
        pairs: Dict[str, Dict[str, float]] = {}
        for r in rows:
            if lo <= int(r["short"]) < hi and (r["kind"] == "clean" or (r["kind"] == kind and str(r["level"]) == "1")):
                pairs.setdefault(str(r["photo"]), {})[str(r["kind"])] = sign * float(r[column])
        wins = [p["clean"] > p[kind] for p in pairs.values() if len(p) == 2]
        out.append({"band": f"{lo}-{hi - 1}", "photos": len(wins), "clean_beats_1": float(np.mean(wins)) if wins else float("nan")})
    return out


def common_args(p: argparse.ArgumentParser) -> None:
    """``--weights``, ``--cache`` and ``--arm`` (shared with ``view_size_grid.py``)."""
    p.add_argument("--weights", type=Path, required=True, help="MSPT checkpoint")
    p.add_argument("--cache", type=Path, default=REPO / "runs" / "native_scale" / "levels-d233da39ed",
                   help="the yardstick's cache folder (scores.csv + images/)")
    p.add_argument("--arm", default="realworld", choices=["native", "realworld"])


def arm_rows(cache: Path, arm: str) -> List[Dict[str, str]]:
    """The rows of one arm of the yardstick cache's ``scores.csv``; exits if NIQE is missing."""
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1") or 1))  # 1 by default: a busy core stalls more threads
    with open(cache / "scores.csv", newline="", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["arm"] == arm]
    if any("niqe" not in r or r["niqe"] in ("", None) for r in rows):
        raise SystemExit("the cache has no NIQE score for every image: run eval/native_scale.py on it first")
    return rows


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    common_args(p)
    p.add_argument("--size", type=int, default=320, help="side of both views (px)")
    p.add_argument("--zoom", type=int, default=None, help="cut the detail view from the image resized to at most this short side")
    p.add_argument("--out", type=Path, required=True, help="report path without extension")
    args = p.parse_args(argv)
    rows = arm_rows(args.cache, args.arm)
    score_views(rows, args.cache, args.weights, args.size, args.zoom)
    kinds = list(YARDSTICK_LEVELS)
    figures: Dict[str, Dict[str, float]] = {}
    for col in list(VIEWS) + ["niqe"]:
        figs = native_figures.figures(rows, col, col == "niqe", kinds, n_boot=0)
        figures[col] = {f"{f['figure']}:{f['kind']}": round(float(f["value"]), 3) for f in figs}
    bands = {kind: {col: by_band(rows, col, kind, col == "niqe") for col in list(VIEWS) + ["niqe"]}
             for kind in ("gaussian_noise", "jpeg")}
    cmd = "python research/probes/detail_view_by_size.py " + " ".join(argv if argv is not None else sys.argv[1:])
    lines = [f"# Two views of `{args.weights.name}` on the yardstick's {args.arm} arm, by photo size", "",
             f"Made by: `{cmd}`", "",
             f"{len({r['photo'] for r in rows})} photos, {len(rows)} images; views of {args.size} px"
             + (f"; detail view cut after resizing to at most {args.zoom} px" if args.zoom else "; detail view at native resolution")
             + ". No intervals (the yardstick's report has them for the two-view score).", "",
             "| figure | " + " | ".join(VIEWS[c] for c in VIEWS) + " | NIQE |", "|---" * (len(VIEWS) + 2) + "|"]
    for key in ("order:gaussian_noise", "order:jpeg", "order:all", "clean_beats_1:gaussian_noise", "clean_beats_1:jpeg",
                "clean_beats_1:all", "srcc:all"):
        lines.append(f"| {key.replace(':', ', ').replace('_', ' ')} | " + " | ".join(f"{figures[c][key]:.3f}" for c in list(VIEWS) + ["niqe"]) + " |")
    for kind, label in (("gaussian_noise", "sigma 5/255 noise"), ("jpeg", "JPEG quality 40")):
        lines += ["", f"Clean photo above its {label}, by the photo's short side (photos per band in brackets):", "",
                  "| view | " + " | ".join(f"{b['band']} px ({b['photos']})" for b in bands[kind]["both"]) + " |",
                  "|---" * (len(BANDS) + 1) + "|"]
        for col in list(VIEWS) + ["niqe"]:
            lines.append(f"| {VIEWS.get(col, 'NIQE')} | " + " | ".join(f"{b['clean_beats_1']:.2f}" for b in bands[kind][col]) + " |")
    atomic_write_text(args.out.with_suffix(".md"), "\n".join(lines) + "\n")
    atomic_write_json(args.out.with_suffix(".json"), {"command": cmd, "figures": figures, "bands": bands})
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
