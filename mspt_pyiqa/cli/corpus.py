"""``mspt-face corpus``: build the synthetic face-quality corpus (images + pyiqa CSVs).

    mspt-face corpus build --faces ../shared/data/faces --out /data/mspt_corpus
    mspt-face corpus build --faces ... --out ... --stages stage1 --levels   # test-split ladders
    mspt-face corpus native-ladders --faces ../shared/data/faces --out /data/native --size 224 --size 336
    mspt-face corpus metric-views --meta /data/c224/stage3_224_levels_train.csv --out /data/c224_views \
        --size 320 --detail-size 320 --ladders                             # as a 320 px release sees it
    mspt-face corpus show-stage stage2                                     # print a config

Images and CSVs go to ``--out`` (keep it outside the repository).
"""
from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import yaml

log = logging.getLogger("mspt_pyiqa.corpus")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``mspt-face corpus``."""
    sub = parser.add_subparsers(dest="corpus_command", required=True, metavar="ACTION")
    b = sub.add_parser("build", help="write degraded images and per-stage meta-info CSVs")
    b.add_argument("--faces", required=True, type=Path, help="folder of clean faces (manifest.csv optional)")
    b.add_argument("--out", required=True, type=Path, help="output folder (outside the repository)")
    b.add_argument("--stages", nargs="+", default=["stage1", "stage2", "stage3"],
                   help="built-in stage names or YAML config paths (default: all three)")
    b.add_argument("--seed", type=int, default=0, help="seed for draws, degradations and splits")
    b.add_argument("--levels", action="store_true",
                   help="instead of random draws: every test-split photo at every kind x level")
    b.add_argument("--levels-split", default="test", choices=["train", "val", "test"],
                   help="with --levels: whose photos (train: ladders for the ranking term of mspt-face train)")
    b.add_argument("--samples-per-source", type=int, default=None, help="override the configs' value")
    b.add_argument("--limit", type=int, default=None, help="use only N photos per source set (quick builds)")
    b.add_argument("--workers", type=int, default=1, help="processes (identical output for any value)")
    b.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    n = sub.add_parser("native-ladders", help="training ladders degraded at native resolution, at each stage size")
    n.add_argument("--faces", required=True, type=Path, help="folder of clean faces (manifest.csv optional)")
    n.add_argument("--out", required=True, type=Path, help="output folder (outside the repository)")
    n.add_argument("--size", type=int, action="append", required=True,
                   help="stage input size in px (repeat for several: --size 224 --size 336)")
    n.add_argument("--photos", type=int, default=None, help="train photos to use, balanced across the clean sets (default: all)")
    n.add_argument("--realworld-photos", type=int, default=0,
                   help="All-Age-Faces train photos added to anchors.csv at their own resolution (default 0)")
    n.add_argument("--seed", type=int, default=0, help="seed for photo order, native sizes and degradations")
    n.add_argument("--detail-size", type=int, default=None,
                   help="also write each image's detail view (the centre square of this many px at native resolution), "
                        "for a release with a detail view")
    n.add_argument("--kind", action="append", default=None, metavar="KIND",
                   help="ladder kind to write (repeat for several; default: all of gaussian_noise, jpeg, "
                        "gaussian_blur, motion_blur, resample, chain)")
    n.add_argument("--photometric-anchors", type=int, default=0, metavar="N",
                   help="also add N versions of every train photo with exposure, contrast, saturation or colour-cast "
                        "damage to anchors.csv, so a teacher's scores on them are held (default 0)")
    n.add_argument("--workers", type=int, default=1, help="processes (identical output for any value)")
    n.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    m = sub.add_parser("metric-views", help="write a meta-info CSV's images as a release of a given input size sees them")
    m.add_argument("--meta", required=True, type=Path, help="meta-info CSV (e.g. a corpus stage or its --levels ladders)")
    m.add_argument("--out", required=True, type=Path, help="output folder (outside the repository)")
    m.add_argument("--size", required=True, type=int, help="the release's input size in px (short side)")
    m.add_argument("--detail-size", type=int, default=None, help="also write each image's detail view of this many px")
    m.add_argument("--ladders", action="store_true",
                   help="the CSV is the corpus's --levels layout: write explicit ladders for train.ladder")
    m.add_argument("--dataroot", type=Path, default=None, help="folder the CSV's paths are relative to (default: its own)")
    m.add_argument("--workers", type=int, default=1, help="processes (identical output for any value)")
    m.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    s = sub.add_parser("show-stage", help="print a stage config as YAML")
    s.add_argument("stage", help="built-in stage name or YAML path")


def run(args: argparse.Namespace) -> int:
    """Run the chosen action; exit status 0 on success, 1 if a build had bad source photos,
    2 on a configuration or input error."""
    from mspt_pyiqa.corpus.config import load_stage
    from mspt_pyiqa.corpus.sources import SourceImageError

    try:
        if args.corpus_command == "show-stage":
            sys.stdout.write(yaml.safe_dump(load_stage(args.stage), sort_keys=False))
            return 0
        repo = Path(__file__).resolve().parents[2]
        out = args.out.resolve()
        if (repo / ".git").exists() and (out == repo or repo in out.parents):
            log.error("--out %s is inside the repository %s; write corpus data elsewhere", out, repo)
            return 2
        if args.corpus_command == "native-ladders":
            from mspt_pyiqa.corpus.native_ladders import build_native_ladders

            t0 = time.perf_counter()
            res = build_native_ladders(args.faces, out, args.size, photos=args.photos, realworld_photos=args.realworld_photos,
                                       seed=args.seed, workers=args.workers, progress=not args.no_progress,
                                       detail_size=args.detail_size, photometric_anchors=args.photometric_anchors,
                                       **({"kinds": tuple(args.kind)} if args.kind else {}))
            print(f"{res['photos']} photos, {res['ladders']} ladders, {res['anchors']} anchors, "
                  f"{res['images_written']} images written, {time.perf_counter() - t0:.1f} s; "
                  + ", ".join(f"{k} px: {v}" for k, v in res["csv"].items()))
            return 0
        if args.corpus_command == "metric-views":
            from mspt_pyiqa.corpus.metric_views import build_metric_views

            t0 = time.perf_counter()
            res = build_metric_views(args.meta, out, args.size, detail_size=args.detail_size, ladders=args.ladders,
                                     dataroot=args.dataroot, workers=args.workers, progress=not args.no_progress)
            print(f"{res['csv']}: {res['rows']} rows, {res['images']} images, {res['files_written']} files written, "
                  f"{time.perf_counter() - t0:.1f} s")
            return 0
        from mspt_pyiqa.corpus.builder import build_stage

        configs = [load_stage(s) for s in args.stages]
        n_errors = 0
        for cfg in configs:
            t0 = time.perf_counter()
            res = build_stage(args.faces, out, cfg, seed=args.seed, levels_mode=args.levels, levels_split=args.levels_split,
                              samples_per_source=args.samples_per_source, limit=args.limit,
                              progress=not args.no_progress, workers=args.workers)
            n_errors += len(res.errors)
            print(f"{res.csv_path}: {res.rows} rows, {res.written} images written, {res.resumed} rows resumed, "
                  f"{len(res.errors)} bad source photos, {time.perf_counter() - t0:.1f} s")
        return 1 if n_errors else 0
    except (FileNotFoundError, ValueError, SourceImageError) as e:
        log.error("%s", e)
        return 2
