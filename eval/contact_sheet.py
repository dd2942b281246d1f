"""Contact sheet: one face at every degradation kind x severity level -> docs/degradations.png.

The face is cropped from ``skimage.data.astronaut()`` (public domain, NASA; ships with
scikit-image), never from ../shared. Each tile is degraded at the tile size (spatial
parameters scale with the image size, see mspt_pyiqa.degrade) with a fixed seed, and is
annotated with the severity-derived label (mspt_pyiqa.corpus.labels, 1 = pristine).

    OMP_NUM_THREADS=1 python eval/contact_sheet.py [--tile 144] [--out docs/degradations.png]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np
from PIL import Image, ImageDraw

from mspt_pyiqa.corpus.labels import SeverityLabeler
from mspt_pyiqa.corpus.sampler import DEFAULT_LEVELS
from mspt_pyiqa.degrade import KINDS, apply_with_parts

REPO = Path(__file__).resolve().parents[1]
FACE_BOX = (20, 240, 140, 360)  # rows, cols of the astronaut's face in the 512x512 image
LABEL_W = 118
HEADER_H = 30


def astronaut_face(size: int) -> np.ndarray:
    """The astronaut's face, RGB uint8 ``(size, size, 3)``."""
    from skimage import data

    r0, r1, c0, c1 = FACE_BOX
    return cv2.resize(data.astronaut()[r0:r1, c0:c1], (size, size), interpolation=cv2.INTER_AREA)


def render(tile: int, levels: Sequence[float], seed: int) -> Image.Image:
    """The sheet: rows = kinds, columns = pristine + levels; label q under each tile."""
    face = astronaut_face(tile)
    labeler = SeverityLabeler()
    cols, rows = 1 + len(levels), len(KINDS)
    cell_h = tile + 14
    sheet = Image.new("RGB", (LABEL_W + cols * tile, HEADER_H + rows * cell_h), "white")
    draw = ImageDraw.Draw(sheet)
    for c, s in enumerate([0.0] + list(levels)):
        draw.text((LABEL_W + c * tile + 4, 8), "pristine" if c == 0 else f"level {c}  s={s:g}", fill="black")
    for r, kind in enumerate(KINDS):
        y = HEADER_H + r * cell_h
        draw.text((4, y + tile // 2 - 6), kind, fill="black")
        for c, s in enumerate([0.0] + list(levels)):
            img, parts = apply_with_parts(face, kind, s, np.random.default_rng(seed))
            sheet.paste(Image.fromarray(img), (LABEL_W + c * tile, y))
            draw.text((LABEL_W + c * tile + 4, y + tile + 1), f"q={labeler(parts):.2f}", fill="black")
    return sheet


def main(argv: Sequence[str] = ()) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tile", type=int, default=144, help="tile size in px")
    ap.add_argument("--levels", type=float, nargs="+", default=list(DEFAULT_LEVELS))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "degradations.png")
    args = ap.parse_args(list(argv) or None)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(args.out.name + ".tmp.png")
    render(args.tile, args.levels, args.seed).save(tmp, optimize=True)
    tmp.replace(args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
