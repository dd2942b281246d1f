"""``mspt-face report SCORES.csv|DIR -o report.html``: a page to look at the faces behind the scores.

The input is an ``mspt-face score`` results file (.csv / .json), a folder of images (scored
first into ``<report>_scores.csv`` beside the page, resumed on a rerun with the same model
settings), or the output folder
of ``mspt-face compare`` (its page is rebuilt). The page is one HTML file; thumbnails are
inside it or in ``<report>_files/`` beside it. Nothing is fetched from a network.

Exit status: 0 written; 1 no score in the input; 2 usage or model error; 130 on Ctrl-C.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
from pathlib import Path

from mspt_pyiqa.cli.compare import add_model_arguments, add_page_arguments, scoring_machinery
from mspt_pyiqa.cli.score import EXIT_INTERRUPTED, EXIT_NOTHING, EXIT_OK, EXIT_USAGE

logger = logging.getLogger("mspt_pyiqa.report")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", help="results file of mspt-face score (.csv/.json), a folder of images, or a compare output folder")
    p.add_argument("-o", "--output", default="report.html", help="the HTML page (default: %(default)s)")
    p.add_argument("--title", help="page title (default: from the input)")
    add_page_arguments(p)
    add_model_arguments(p)


def _compare_page(args: argparse.Namespace) -> int:
    import pandas as pd

    from mspt_pyiqa.compare.run import CompareConfig, CompareResult, write_compare_report
    folder = Path(args.input)
    meta = json.loads((folder / "compare.json").read_text(encoding="utf-8"))
    text_cols = {"key": str, "method": str, "path": str, "status": str, "message": str, "box": str}
    per_image = pd.read_csv(folder / "per_image.csv", dtype=text_cols, keep_default_na=False, na_values={"mspt_face": [""]})
    names = [m["name"] for m in meta["methods"]]
    result = CompareResult(names, meta["metrics"], per_image, meta["summary"], meta["pairs"], meta["unmatched"])
    cfg = CompareConfig(specs=[], out_dir=folder, thumbs=args.thumbs, thumb_size=args.thumb_size, workers=max(1, args.workers))
    page = write_compare_report(result, Path(args.output), cfg)
    print(f"report: {page}")
    return EXIT_OK


def run(args: argparse.Namespace) -> int:
    from mspt_pyiqa.compare.html import write_page
    from mspt_pyiqa.compare.report import rows_report
    from mspt_pyiqa.scoring.writer import read_results, summarize
    from mspt_pyiqa.weights import WeightsError

    src, page = Path(args.input), Path(args.output)
    if page.suffix.lower() not in (".html", ".htm"):
        logger.error("output %s: use a .html file name", page)
        return EXIT_USAGE
    if src.is_dir() and (src / "compare.json").is_file():
        return _compare_page(args)
    try:
        if src.is_dir():
            from mspt_pyiqa.scoring.inputs import expand_inputs

            files, _ = expand_inputs([str(src)])
            if not files:
                logger.error("%s: no image files in this folder", src)
                return EXIT_USAGE
            from mspt_pyiqa.compare.scores import settings_match
            from mspt_pyiqa.utils.io import atomic_write_json

            make_job, run_job, settings = scoring_machinery(args)
            cache = page.with_name(page.stem + "_scores.csv")
            settings_file = page.with_name(page.stem + "_scores.json")
            resume = settings_match(settings_file, settings)  # other model settings: score afresh
            atomic_write_json(settings_file, settings)
            rows = run_job(make_job(files, cache, resume))
        elif src.is_file():
            rows = read_results(src)
        else:
            logger.error("%s: no such results file or folder", src)
            return EXIT_USAGE
    except ValueError as err:
        logger.error("%s: %s", src, err)
        return EXIT_USAGE
    except (WeightsError, OSError) as err:
        logger.error("%s", err)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    if not rows:
        logger.error("%s: no rows", src)
        return EXIT_NOTHING
    name = os.path.basename(os.path.normpath(str(src))) if src.is_dir() else src.stem
    title = args.title or f"mspt-face report: {name}"
    data = rows_report(rows, title, page, args.thumbs, args.thumb_size, max(1, args.workers), name=name)
    write_page(page, data)
    s = summarize(rows)
    print(f"report: {page} ({s['images']} images, {s['faces_scored']} faces scored, {s['failed']} failed)")
    return EXIT_OK if s["faces_scored"] else EXIT_NOTHING
