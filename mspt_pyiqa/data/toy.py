"""A tiny generated face-quality dataset in the common meta-info CSV layout (tests, smoke runs).

Each image is a drawn face-like pattern (skin ellipse, eyes, mouth, textured background)
degraded at a random severity in [0, 1]; ``mos = 1 - severity`` (higher is better), so a
network can learn it in a few iterations. Stage k uses its own degradation family
(1: Gaussian blur, 2: Gaussian noise, 3: JPEG), mirroring the synthetic corpus' staging.
Command line: ``python -m mspt_pyiqa.data.toy OUT_DIR [--per-stage 12] [--size 128]``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Dict, List, Optional

import cv2
import numpy as np
import pandas as pd

from mspt_pyiqa.data.meta import write_meta_csv

DEGRADATIONS = {1: "blur", 2: "noise", 3: "jpeg"}


def draw_face(rng: np.random.Generator, size: int) -> np.ndarray:
    """A clean (size, size, 3) uint8 RGB face-like drawing with fine texture (what blur/noise destroy)."""
    img = (rng.uniform(0, 255, (size // 8, size // 8, 3))).astype(np.uint8)
    img = cv2.resize(img, (size, size), interpolation=cv2.INTER_CUBIC)
    c = size // 2
    skin = tuple(int(v) for v in rng.uniform([150, 100, 80], [240, 190, 160]))
    cv2.ellipse(img, (c, c), (int(size * 0.3), int(size * 0.4)), 0, 0, 360, skin, -1)
    for dx in (-1, 1):
        cv2.circle(img, (c + dx * size // 8, c - size // 10), max(2, size // 20), (30, 30, 30), -1)
    cv2.ellipse(img, (c, c + size // 6), (size // 8, size // 24), 0, 0, 180, (120, 20, 30), max(1, size // 64))
    # Fine hair-like strokes: high-frequency detail for the quality cue.
    for _ in range(size // 2):
        x, y = rng.integers(0, size, 2)
        cv2.line(img, (int(x), int(y)), (int(x + rng.integers(-6, 7)), int(y + rng.integers(-6, 7))), tuple(int(v) for v in rng.integers(0, 255, 3)), 1)
    return img


def degrade(img: np.ndarray, kind: str, severity: float, rng: np.random.Generator) -> np.ndarray:
    """Degrade a uint8 RGB image; severity in [0, 1] (0 = untouched)."""
    if kind == "blur":
        sigma = 0.1 + 3.0 * severity
        return cv2.GaussianBlur(img, (0, 0), sigma)
    if kind == "noise":
        noisy = img.astype(np.float32) + rng.normal(0, 60 * severity, img.shape)
        return np.clip(noisy, 0, 255).astype(np.uint8)
    if kind == "jpeg":
        quality = int(round(95 - 90 * severity))
        ok, buf = cv2.imencode(".jpg", img[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
        return cv2.imdecode(buf, cv2.IMREAD_COLOR)[:, :, ::-1]
    raise ValueError(f"unknown degradation {kind!r}")


def make_toy_stages(out_dir: Path, per_stage: int = 12, n_val: int = 4, size: int = 128, seed: int = 0, stages=(1, 2, 3)) -> Dict[int, Path]:
    """Write ``stage<k>/images/*.png`` and ``stage<k>/meta.csv`` (common columns); return the CSVs."""
    out_dir = Path(out_dir)
    csvs: Dict[int, Path] = {}
    for stage in stages:
        rng = np.random.default_rng(seed * 1000 + stage)
        root = out_dir / f"stage{stage}"
        (root / "images").mkdir(parents=True, exist_ok=True)
        rows: List[dict] = []
        # Evenly spread severities (shuffled): every split spans the quality range.
        severities = rng.permutation(np.linspace(0.0, 1.0, per_stage))
        for i, sev in enumerate(severities):
            clean = draw_face(rng, size)
            img = degrade(clean, DEGRADATIONS[stage], float(sev), rng)
            name = f"images/s{stage}_{i:03d}.png"
            cv2.imwrite(str(root / name), img[:, :, ::-1])
            rows.append({
                "dist_img": name, "mos": round(1.0 - float(sev), 6), "ref_img": "", "source_id": f"toy{i}", "source_set": "toy",
                "degradation": DEGRADATIONS[stage], "severity": float(sev), "level": int(round(sev * 4)), "stage": stage,
                "seed": seed * 1000 + stage * 100 + i, "split": "val" if i < n_val else "train",
            })
        csvs[stage] = write_meta_csv(pd.DataFrame(rows), root / "meta.csv")
    return csvs


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mspt_pyiqa.data.toy", description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--per-stage", type=int, default=12)
    parser.add_argument("--val", type=int, default=4)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    for stage, csv in make_toy_stages(args.out, args.per_stage, args.val, args.size, args.seed).items():
        print(f"stage {stage}: {csv}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
