"""Does the detail view's call depend on where the 8 x 8 JPEG grid falls in the crop?

Eval only, on the native-scale yardstick's cached images (``runs/native_scale/levels-*``): for every
photo of an arm, the clean photo, its level-1 JPEG (quality 40) and its level-1 Gaussian noise (sigma
5) are scored with the resized view plus a detail view whose corner is placed at: the exact centre
(the crop before ``preprocess.DETAIL_GRID``), the centre snapped down to a multiple of 16 px (the
product's ``detail_box``), or snapped plus 1, 3 or 4 px. Printed and written as a table: the share of
photos whose clean photo scores above each level-1 image.

    python research/probes/detail_crop_phase.py --weights runs/mspt_face_v12_probe_card224.pth \\
        --out research/reports/detail_crop_phase_probe_card224.md
"""
from __future__ import annotations

import argparse
import glob
import sys
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np
import torch
from PIL import Image

from mspt_pyiqa.archs import MSPTNet
from mspt_pyiqa.preprocess import DETAIL_GRID, resize_to_test_size
from mspt_pyiqa.utils.io import atomic_write_text

#: Corner placements: None = exact centre; k = centre snapped to DETAIL_GRID, plus k px.
PLACEMENTS: Dict[str, Optional[int]] = {"exact centre": None, "snapped to 16 px": 0, "snapped + 1 px": 1,
                                        "snapped + 3 px": 3, "snapped + 4 px": 4}
LEVEL_FILES = {"jpeg": "jpeg_1.jpg", "gaussian_noise": "gaussian_noise_1.png"}


def _load(path: str) -> torch.Tensor:
    return torch.from_numpy(np.array(Image.open(path).convert("RGB"))).permute(2, 0, 1).float().div(255.0).unsqueeze(0)


def corner(length: int, size: int, shift: Optional[int]) -> int:
    """The crop's start along one side of ``length`` px for a placement (see :data:`PLACEMENTS`)."""
    centre = (length - size) // 2
    if shift is None:
        return centre
    return min(centre - centre % DETAIL_GRID + shift, length - size)


def shares(net: MSPTNet, photos: List[str], size: int) -> Dict[str, Dict[str, float]]:
    head = net.model.get_classifier()
    gaps: Dict[str, Dict[str, List[float]]] = {p: {k: [] for k in LEVEL_FILES} for p in PLACEMENTS}
    for folder in photos:
        imgs = {"clean": _load(f"{folder}/clean_0.png"), **{k: _load(f"{folder}/{f}") for k, f in LEVEL_FILES.items()}}
        with torch.no_grad():
            pooled = {k: net._pooled(x) for k, x in imgs.items()}
            for name, shift in PLACEMENTS.items():
                scores = {}
                for k, x in imgs.items():
                    if min(x.shape[-2:]) < size:
                        x = resize_to_test_size(x, size)
                    top, left = corner(x.shape[-2], size, shift), corner(x.shape[-1], size, shift)
                    detail = net._pooled(x[..., top:top + size, left:left + size], resize=False)
                    scores[k] = float(head(0.5 * (pooled[k] + detail)))
                for k in LEVEL_FILES:
                    gaps[name][k].append(scores["clean"] - scores[k])
    return {p: {k: float((np.array(v) > 0).mean()) for k, v in g.items()} for p, g in gaps.items()}


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--weights", required=True, type=Path)
    p.add_argument("--cache", type=Path, default=Path("runs/native_scale/levels-d233da39ed"))
    p.add_argument("--arm", default="realworld", choices=["realworld", "native"])
    p.add_argument("--size", type=int, default=320, help="resized view and detail view, px")
    p.add_argument("--out", required=True, type=Path, help="markdown report")
    a = p.parse_args(argv)
    torch.set_num_threads(2)
    net = MSPTNet(pretrained=False, pretrained_model_path=str(a.weights), test_img_size=a.size, detail_size=a.size).eval()
    photos = sorted(glob.glob(str(a.cache / "images" / a.arm / "*" / "*")))
    if not photos:
        p.error(f"no photos under {a.cache / 'images' / a.arm}")
    table = shares(net, photos, a.size)
    lines = [f"# Detail-crop placement: `{a.weights.name}` on the yardstick's {a.arm} arm", "",
             f"Made by: `python research/probes/detail_crop_phase.py --weights {a.weights} --arm {a.arm} --out {a.out}`", "",
             f"{len(photos)} photos; resized view {a.size} px + detail view {a.size} px. Cells: share of photos whose clean "
             "photo scores above its level 1 (JPEG quality 40; Gaussian noise sigma 5/255). No intervals.", "",
             "| detail crop corner | JPEG | noise |", "|---|---|---|"]
    lines += [f"| {name} | {v['jpeg']:.2f} | {v['gaussian_noise']:.2f} |" for name, v in table.items()]
    atomic_write_text(a.out, "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
