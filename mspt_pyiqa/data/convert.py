"""``python -m mspt_pyiqa.data.convert LAYOUT ...``: write the common meta-info CSV.

Examples::

    python -m mspt_pyiqa.data.convert pyiqa --meta datasets/meta_info/meta_info_CGFIQADataset.csv \
        --images datasets/CGFIQA --split-column official_split --out data/cgfiqa.csv
    python -m mspt_pyiqa.data.convert vquala --root datasets/VQualA_FIQA --out data/vquala.csv
    python -m mspt_pyiqa.data.convert folder --images my_faces --csv scores.csv \
        --path-column file --mos-column score --mos-range 1 5 --out data/mine.csv
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import List, Optional

from mspt_pyiqa.data import converters
from mspt_pyiqa.data.meta import MetaInfoError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m mspt_pyiqa.data.convert", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="layout", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--out", required=True, type=Path, help="output meta-info CSV")
        p.add_argument("--mos-range", nargs=2, type=float, metavar=("LOW", "HIGH"), help="raw score range, mapped to [0, 1]")
        p.add_argument("--lower-better", action="store_true", help="raw scores are lower-is-better")
        p.add_argument("--source-set", default="", help="value of the source_set column")

    p = sub.add_parser("pyiqa", help="pyiqa meta-info CSV (GFIQA-20k, CGFIQA-40k, ...)")
    p.add_argument("--meta", required=True, type=Path)
    p.add_argument("--images", required=True, type=Path, help="folder the CSV's paths are relative to")
    p.add_argument("--split-column", help="e.g. official_split (CGFIQA-40k)")
    common(p)
    p = sub.add_parser("vquala", help="VQualA 2025 FIQA layout (train.csv without header, train/, val/)")
    p.add_argument("--root", required=True, type=Path)
    p.add_argument("--val-ratio", type=float, default=0.1, help="share of train.csv held out as val")
    p.add_argument("--seed", type=int, default=0)
    common(p)
    p = sub.add_parser("folder", help="image folder + CSV with named columns")
    p.add_argument("--images", required=True, type=Path)
    p.add_argument("--csv", required=True, type=Path)
    p.add_argument("--path-column", required=True)
    p.add_argument("--mos-column", required=True)
    p.add_argument("--split-column")
    p.add_argument("--val-ratio", type=float, default=0.1)
    p.add_argument("--test-ratio", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=0)
    common(p)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    norm = dict(mos_range=args.mos_range, lower_better=args.lower_better, source_set=args.source_set)
    try:
        if args.layout == "pyiqa":
            frame = converters.convert_pyiqa_meta(args.meta, args.images, args.out, split_column=args.split_column, **norm)
        elif args.layout == "vquala":
            frame = converters.convert_vquala(args.root, args.out, val_ratio=args.val_ratio, seed=args.seed, **norm)
        else:
            frame = converters.convert_folder_csv(
                args.images, args.csv, args.out, args.path_column, args.mos_column, split_column=args.split_column,
                val_ratio=args.val_ratio, test_ratio=args.test_ratio, seed=args.seed, **norm,
            )
    except MetaInfoError as err:
        logging.error("%s", err)
        return 2
    print(f"{args.out}: {len(frame)} images, splits {frame['split'].value_counts().to_dict()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
