"""Does a checkpoint order its own training ladders? Clean photo vs one level, large photos only.

A probe that misses a yardstick figure either never fitted the pairs it was trained on (the views
cannot see the damage, or the data mix drowns it) or fitted them and does not generalise (more
photos would help). This reads the native ladders a stage trained on (``ladders.csv`` with
``detail_img``), keeps the ladders of ``--kind`` degraded at a short side of at least
``--min-short`` px, and prints how often the clean photo scores above the ``--value`` level, for
the two-view score and for each view alone (``MSPTNet(..., return_views=True)``: resized view,
then detail view). No intervals; a few hundred ladders.

    python research/probes/train_fit.py --weights runs/mspt_face_v12_probe_card224.pth \\
        --ladders runs/native_ladders/320/ladders.csv --kind jpeg --value 40 --min-short 600
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Optional

import numpy as np
import pandas as pd
import torch
from PIL import Image

from mspt_pyiqa.archs import MSPTNet


def _load(path: Path) -> torch.Tensor:
    return torch.from_numpy(np.array(Image.open(path).convert("RGB"))).permute(2, 0, 1).float().div(255.0)


def fit_table(net: MSPTNet, ladders: Path, kind: str, value: float, min_short: int) -> pd.DataFrame:
    """One row per ladder: set, short side, score gap clean - level (two views, resized, detail)."""
    root = ladders.parent
    frame = pd.read_csv(ladders)
    frame = frame[(frame["degradation"] == kind) & (frame["short_side"] >= min_short)]
    rows = []
    for _, g in frame.groupby("ladder_id"):
        clean = g[g["level"] == 0].iloc[0]
        level = g[pd.to_numeric(g["value"], errors="coerce") == value]
        if level.empty:
            continue
        level = level.iloc[0]
        x = torch.stack([_load(root / clean["dist_img"]), _load(root / level["dist_img"])])
        d = torch.stack([_load(root / clean["detail_img"]), _load(root / level["detail_img"])])
        with torch.no_grad():
            s, v = net(x, detail=d, return_views=True)
        rows.append({"set": str(g["source_id"].iloc[0]).split("/")[0], "short_side": int(g["short_side"].iloc[0]),
                     "gap": float(s[0] - s[1]), "gap_resized": float(v[0, 0] - v[1, 0]), "gap_detail": float(v[0, 1] - v[1, 1])})
    return pd.DataFrame(rows)


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--weights", required=True, type=Path)
    p.add_argument("--ladders", type=Path, default=Path("runs/native_ladders/320/ladders.csv"))
    p.add_argument("--kind", default="jpeg")
    p.add_argument("--value", type=float, default=40.0, help="the level's setting (JPEG quality 40, noise sigma 5...)")
    p.add_argument("--min-short", type=int, default=600)
    p.add_argument("--size", type=int, default=320)
    p.add_argument("--detail", type=int, default=320)
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    net = MSPTNet(pretrained=False, pretrained_model_path=str(a.weights), test_img_size=a.size, detail_size=a.detail).eval()
    t = fit_table(net, a.ladders, a.kind, a.value, a.min_short)
    shares = {c: round(float((t[c] > 0).mean()), 3) for c in ("gap", "gap_resized", "gap_detail")}
    per_set = t.groupby("set")["gap"].apply(lambda g: round(float((g > 0).mean()), 3)).to_dict()
    print(f"{a.weights}: {len(t)} {a.kind} ladders >= {a.min_short} px; clean above {a.value:g}: two views {shares['gap']}, "
          f"resized {shares['gap_resized']}, detail {shares['gap_detail']}; two views per set {per_set}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
