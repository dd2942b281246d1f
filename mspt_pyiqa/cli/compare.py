"""``mspt-face compare A/ B/ [C/ ...] [--ref GT/] -o DIR``: paired comparison of restoration methods.

Each method is a folder of images (or an ``mspt-face score`` results file) holding the same
inputs, matched by relative path. Writes tables (CSV, JSON, markdown, optional LaTeX) and an
HTML report to DIR; score caches in ``DIR/scores/`` make a rerun resume.

Exit status: 0 done; 1 no image was scored by every method; 2 usage or model error; 130 on Ctrl-C.
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple

from mspt_pyiqa.cli.score import EXIT_INTERRUPTED, EXIT_NOTHING, EXIT_OK, EXIT_USAGE, default_workers
from mspt_pyiqa.scoring.faces import FACE_MODES

logger = logging.getLogger("mspt_pyiqa.compare")


def add_model_arguments(p: argparse.ArgumentParser) -> None:
    """The scoring options of ``score`` that ``compare`` and ``report`` share (same names and defaults)."""
    g = p.add_argument_group("scoring (as for mspt-face score)")
    g.add_argument("--weights", help="MSPT checkpoint (default: the released weights of the catalog)")
    g.add_argument("--input-size", type=int, help="short side the network sees (default: from the checkpoint or catalog)")
    g.add_argument("--detail-size", type=int,
                   help="side in px of the detail view: the centre square of each image at its own resolution, "
                        "seen by the network beside the resized image (default: from the checkpoint or catalog; "
                        "most releases have none)")
    g.add_argument("--no-enlarge", dest="enlarge", action="store_false", default=None,
                   help="never enlarge: treat the input size as a maximum, so an image smaller than it is scored at its own "
                        "size (with a detail view, both views then the same image); larger images are reduced as usual "
                        "(default: from the checkpoint or catalog; most releases enlarge)")
    g.add_argument("--backend", choices=("torch", "onnxruntime"), default="torch",
                   help="torch (default) or onnxruntime (with --onnx-model: no torch needed)")
    g.add_argument("--onnx-model", help="exported model for --backend onnxruntime")
    g.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto (default: %(default)s)")
    g.add_argument("--batch-size", type=int, default=16, help="images per batch (default: %(default)s)")
    g.add_argument("--workers", type=int, default=default_workers(), help="DataLoader worker processes (default: %(default)s)")
    g.add_argument("--faces", choices=FACE_MODES, default="auto",
                   help="as for mspt-face score: auto (aligned crops scored whole, other images detected and aligned), "
                        "crop or detect; with several faces the largest is compared (default: %(default)s)")
    g.add_argument("--detect", action="store_const", const="detect", dest="faces", help="same as --faces detect")
    g.add_argument("--detector-model", help="YuNet ONNX file (default: $MSPT_FACE_DETECTOR or the one shipped with the package)")
    g.add_argument("--min-size", type=int, default=32, help="refuse images with a shorter side (default: %(default)s px)")
    g.add_argument("--max-pixels", type=int, default=2**27, help="refuse larger images undecoded (default: %(default)s)")
    g.add_argument("--max-side", type=int, default=8192, help="reduce larger images to this long side (default: %(default)s)")
    g.add_argument("--no-progress", action="store_true", help="no progress bars")


def add_page_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("HTML report")
    g.add_argument("--thumbs", choices=("auto", "inline", "folder", "none"), default="auto",
                   help="thumbnails inside the page, in a folder beside it, or none; auto: inline up to 1000 (default: %(default)s)")
    g.add_argument("--thumb-size", type=int, default=96, help="thumbnail long side in px (default: %(default)s)")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("methods", nargs="+", metavar="METHOD", help="folders of restored images (or score .csv/.json files), one per method")
    p.add_argument("-o", "--output", required=True, help="output folder (tables, report.html, score caches)")
    p.add_argument("--names", help="comma-separated method names (default: folder names)")
    p.add_argument("--ref", help="folder of ground-truth images (same relative paths): adds full-reference metrics")
    p.add_argument("--fr-metrics", default="psnr,ssim",
                   help="pyiqa FR metrics with --ref (default: %(default)s; lpips only when its weights are on disk)")
    p.add_argument("--n-boot", type=int, default=1000, help="bootstrap draws for the intervals (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default: %(default)s)")
    p.add_argument("--latex", action="store_true", help="also write table.tex (booktabs)")
    p.add_argument("--no-report", action="store_true", help="skip report.html")
    add_page_arguments(p)
    add_model_arguments(p)


def scoring_machinery(args: argparse.Namespace) -> Tuple[Callable[[List[str], Path, bool], Any], Callable, Dict[str, Any]]:
    """``(make_job, run_job, settings)``: score jobs built from ``args``; the model is built on first use."""
    from mspt_pyiqa.scoring.preprocess import PreprocessConfig
    from mspt_pyiqa.scoring.runner import ScoreJob, run_job

    built: Dict[str, Any] = {}

    def backend_and_prep() -> Tuple[Any, PreprocessConfig]:
        if not built:
            from mspt_pyiqa.face.detector import resolve_detector_model
            from mspt_pyiqa.scoring.model import build_backend

            detector = str(resolve_detector_model(args.detector_model)) if args.faces != "crop" else None
            backend = build_backend(args.backend, args.weights, args.input_size, args.device, args.onnx_model,
                                    detail_size=getattr(args, "detail_size", None), enlarge=getattr(args, "enlarge", None))
            built["backend"] = backend
            built["prep"] = PreprocessConfig(
                input_size=backend.input_size, resize_mode=backend.resize_mode, faces=args.faces,
                detector_model=detector, min_side=args.min_size, max_pixels=args.max_pixels, max_side=args.max_side,
                detail_size=backend.detail_size, enlarge=backend.enlarge,
            )
        return built["backend"], built["prep"]

    def make_job(files: List[str], output: Path, resume: bool) -> ScoreJob:
        backend, prep = backend_and_prep()
        return ScoreJob(files=files, output=output, prep=prep, backend=backend, batch_size=args.batch_size,
                        workers=args.workers, resume=resume, progress=not args.no_progress and sys.stderr.isatty())

    return make_job, run_job, model_settings(args)


def model_settings(args: argparse.Namespace) -> Dict[str, Any]:
    """What makes cached scores reusable: model identity and preprocessing options."""
    from mspt_pyiqa.bench.runner import metric_key

    model = args.onnx_model if args.backend == "onnxruntime" and args.onnx_model else metric_key("mspt_face", args.weights)
    settings = {"model": model, "backend": args.backend, "input_size": args.input_size, "faces": args.faces,
                "detector_model": args.detector_model, "min_size": args.min_size, "max_pixels": args.max_pixels,
                "max_side": args.max_side}
    if getattr(args, "detail_size", None) is not None:  # only when given: caches of earlier runs stay valid
        settings["detail_size"] = args.detail_size
    if getattr(args, "enlarge", None) is not None:  # likewise: only --no-enlarge changes the cache key
        settings["enlarge"] = args.enlarge
    return settings


def run(args: argparse.Namespace) -> int:
    from mspt_pyiqa.compare.matching import CompareInputError
    from mspt_pyiqa.compare.run import CompareConfig, run_compare
    from mspt_pyiqa.compare.tables import pairs_markdown, summary_markdown
    from mspt_pyiqa.weights import WeightsError

    cfg = CompareConfig(
        specs=args.methods, out_dir=Path(args.output),
        names=[n.strip() for n in args.names.split(",")] if args.names else None,
        ref=args.ref, fr_metrics=[m.strip() for m in args.fr_metrics.split(",") if m.strip()],
        n_boot=args.n_boot, seed=args.seed, latex=args.latex, report=not args.no_report,
        thumbs=args.thumbs, thumb_size=args.thumb_size, workers=max(1, args.workers), device=args.device,
        progress=not args.no_progress and sys.stderr.isatty(),
    )
    if args.n_boot < 0:
        logger.error("--n-boot must be >= 0")
        return EXIT_USAGE
    if args.detail_size is not None and not args.detail_size >= 16:
        logger.error("--detail-size %s: must be at least 16 px", args.detail_size)
        return EXIT_USAGE
    try:
        make_job, run_job, settings = scoring_machinery(args)
        result = run_compare(cfg, make_job, run_job, settings)
    except CompareInputError as err:
        logger.error("%s", err)
        return EXIT_USAGE
    except (WeightsError, OSError) as err:
        logger.error("%s", err)
        return EXIT_USAGE
    except KeyboardInterrupt:
        logger.warning("interrupted; rerun the same command to resume from %s/scores", args.output)
        return EXIT_INTERRUPTED
    print(summary_markdown(result.summary))
    print(pairs_markdown(result.pairs))
    if result.unmatched:
        print(f"{len(result.unmatched)} file(s) not in every method: {Path(args.output) / 'unmatched.csv'}")
    print(f"results: {args.output} (table.md, summary.csv, pairs.csv, per_image.csv"
          f"{', report.html' if cfg.report else ''})")
    return EXIT_OK if result.summary and result.summary[0]["n"] > 0 else EXIT_NOTHING
