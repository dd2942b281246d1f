"""``mspt-face score PATH...``: score face images (files, folders, globs, list files).

Exit status: 0 when at least one face was scored (in the results file, resumed rows
included); 1 when nothing was scored; 2 for a usage, model or merge error (checked before
any file is read: options, output location and lock, device, backend, detector); 3 with
``--strict`` when any file failed (``no_face`` is an outcome, not a failure); 4 when the
results file could not be written at the end (the rows are in the fallback file the error
names); 128 + the signal on Ctrl-C (130), SIGTERM (143) or SIGHUP (129), after saving.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import List, Optional

from mspt_pyiqa.scoring.faces import FACE_MODES
from mspt_pyiqa.utils.text import plural

logger = logging.getLogger("mspt_pyiqa.score")

EXIT_OK, EXIT_NOTHING, EXIT_USAGE, EXIT_STRICT, EXIT_UNSAVED, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 130


def default_workers() -> int:
    """Decode worker processes by core count. Up to 2 cores: 0 (decode in the main process;
    measured faster there, eval/reports/start_time.md: worker processes only compete with the
    network for the cores). Above: one per core beyond the first, at most 4 (not measured here;
    ``eval/start_time.py --workers 0 1 2 4`` measures any machine)."""
    cores = os.cpu_count() or 1
    return 0 if cores <= 2 else min(4, cores - 1)


EPILOG = (
    "Exit status: 0 some face scored; 1 none; 2 usage error (checked before any image); "
    "3 --strict and a file failed; 4 results file not writable (rows saved to the fallback file named in the error); "
    "130 Ctrl-C, 143 SIGTERM, 129 SIGHUP (after saving). CSV cells starting with = + - @ get a leading '; "
    "file names that are not UTF-8 are written with \\xNN escapes."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.epilog = EPILOG
    p.add_argument("paths", nargs="*", help="image files, folders (recursive), globs, or @list.txt / *.txt list files")
    p.add_argument("-o", "--output", default="mspt_face_scores.csv", help="results file, .csv or .json (default: %(default)s)")
    io = p.add_argument_group("model")
    io.add_argument("--weights", help="MSPT checkpoint (default: the released weights of the catalog)")
    io.add_argument("--input-size", type=int, help="short side the network sees (default: from the checkpoint or catalog)")
    io.add_argument("--detail-size", type=int,
                    help="side in px of the detail view: the centre square of each image at its own resolution, "
                         "seen by the network beside the resized image (default: from the checkpoint or catalog; "
                         "most releases have none)")
    io.add_argument("--no-enlarge", dest="enlarge", action="store_false", default=None,
                    help="never enlarge: treat the input size as a maximum, so an image smaller than it is scored at its own "
                         "size (with a detail view, both views then the same image); larger images are reduced as usual "
                         "(default: from the checkpoint or catalog; most releases enlarge)")
    io.add_argument("--backend", choices=("torch", "onnxruntime"), default="torch",
                    help="torch: the PyTorch model; onnxruntime: an exported ONNX model, fastest to start "
                         "(needs the [onnx] extra; give --onnx-model to skip loading torch at all) (default: %(default)s)")
    io.add_argument("--onnx-model", help="exported model for --backend onnxruntime (mspt-face export; default: export the torch model now)")
    io.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto (default: %(default)s)")
    io.add_argument("--batch-size", type=int, default=16, help="images per batch (default: %(default)s)")
    io.add_argument("--workers", type=int, default=default_workers(), help="DataLoader worker processes (default: %(default)s)")
    face = p.add_argument_group("faces")
    face.add_argument("--faces", choices=FACE_MODES, default="auto",
                      help="auto: an image framed like an aligned face crop is scored whole, any other is searched for "
                           "faces, each aligned and scored; crop: every image is a face crop, scored whole; detect: "
                           "always find and align faces (default: %(default)s)")
    face.add_argument("--detect", action="store_const", const="detect", dest="faces", help="same as --faces detect")
    face.add_argument("--detector-model", help="YuNet ONNX file (default: $MSPT_FACE_DETECTOR, else the one shipped with the package)")
    face.add_argument("--det-threshold", type=float, default=0.9, help="YuNet score threshold (default: %(default)s)")
    face.add_argument("--detect-side", type=int, default=640,
                      help="detect on a copy with this long side; raise it for small faces in big photos (default: %(default)s)")
    face.add_argument("--face-size", type=int, default=512, help="aligned crop side in px (default: %(default)s)")
    face.add_argument("--max-faces", type=int, help="score at most this many faces per image, largest first")
    img = p.add_argument_group("input limits")
    img.add_argument("--min-size", type=int, default=32, help="refuse images with a shorter side (default: %(default)s px)")
    img.add_argument("--max-pixels", type=int, default=2**27, help="refuse larger images undecoded (default: %(default)s)")
    img.add_argument("--max-side", type=int, default=8192, help="reduce larger images to this long side (default: %(default)s)")
    run = p.add_argument_group("run")
    run.add_argument("--strict", action="store_true", help="exit 3 when any file failed")
    run.add_argument("--resume", action="store_true", help="skip files already scored (ok / no_face) in --output")
    run.add_argument("--shard", help="I/N: score only shard I of N (0-based); under torchrun RANK/WORLD_SIZE are used")
    run.add_argument("--merge", nargs="+", metavar="PART", help="merge shard results files into --output (PATHS, if given, must all be present)")
    run.add_argument("--save-every", type=float, default=30.0, help="seconds between checkpoints of --output (default: %(default)s)")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.add_argument("--table-rows", type=int, default=20, help="rows of the printed table (default: %(default)s)")
    out = p.add_argument_group("output")
    out.add_argument("--percentile", action="store_true",
                     help="add a column 'percentile' after 'score': where the score falls among the clean photos of "
                          "the release's reference file, 0-100 (a value of 30 means 30%% of those photos scored lower). "
                          "The file stores only the 0th, 1st, ..., 100th percentiles of those photos' scores: values in "
                          "between are interpolated linearly, below the lowest is 0 and above the highest 100. Needs the "
                          "catalog release or an ONNX export of it (not --weights)")


def _finish(rows: List[dict], args: argparse.Namespace, output: Path, reference: object = None) -> int:
    from mspt_pyiqa.scoring.cells import escape_path
    from mspt_pyiqa.scoring.writer import format_summary, format_table, summarize

    if args.table_rows > 0 and rows:
        print(format_table(rows, args.table_rows))
    s = summarize(rows)
    print(format_summary(s))
    if reference is not None:  # what the scores mean: the release's reference points
        from mspt_pyiqa.reference import summary_lines

        print("\n".join(summary_lines(reference, [r["score"] for r in rows if r["status"] == "ok"])))
    print(f"results: {escape_path(output)}")
    if s["faces_scored"] == 0:
        return EXIT_NOTHING
    if args.strict and s["failed"]:
        return EXIT_STRICT
    return EXIT_OK


def _save_merged(rows: List[dict], args: argparse.Namespace) -> int:
    """Write merged rows to ``--output`` (fallback file on a write error) and report."""
    from mspt_pyiqa.scoring.output import save_rows

    where = save_rows(rows, Path(args.output))
    code = _finish(rows, args, Path(args.output) if where is None else where)
    return code if where is None else EXIT_UNSAVED


def _merge(args: argparse.Namespace) -> int:
    from mspt_pyiqa.scoring.inputs import expand_inputs
    from mspt_pyiqa.scoring.output import OutputLock, check_output
    from mspt_pyiqa.scoring.shard import MergeError, merge_parts

    expected: Optional[List[str]] = None
    try:
        check_output(Path(args.output), args.merge)
        if args.paths:
            files, missing = expand_inputs(args.paths)
            expected = files + missing
        with OutputLock(Path(args.output)):
            rows = merge_parts([Path(p) for p in args.merge], expected)
            return _save_merged(rows, args)
    except (MergeError, OSError, ValueError) as err:
        logger.error("merge failed: %s", err)
        return EXIT_USAGE


def run(args: argparse.Namespace) -> int:
    """Score (or merge); SIGTERM / SIGHUP are handled like Ctrl-C: save, then exit 128 + signal."""
    from mspt_pyiqa.scoring.lifeline import exit_status, received_signal, terminate_as_interrupt

    with terminate_as_interrupt():
        try:
            return _run(args)
        except KeyboardInterrupt as err:
            return exit_status(err)
        except Exception as err:  # e.g. "DataLoader worker killed" when the whole group got SIGTERM
            signum = received_signal()
            if signum is None:
                raise
            logger.warning("stopped by signal %d (%s: %s)", signum, type(err).__name__, err)
            return 128 + signum


def _usage_checks(args: argparse.Namespace) -> Optional[str]:
    """The first usage problem of the options (all range problems in one line), or None."""
    from mspt_pyiqa.scoring.checks import check_backend, check_device, option_problems
    from mspt_pyiqa.scoring.writer import output_format

    problems = option_problems(args)
    if problems:
        return "; ".join(problems)
    try:
        output_format(Path(args.output))
        check_device(args.device)
        check_backend(args.backend, args.onnx_model)
    except ValueError as err:
        return str(err)
    return None


def _run(args: argparse.Namespace) -> int:
    from mspt_pyiqa.face.detector import resolve_detector_model
    from mspt_pyiqa.scoring.checks import check_detector
    from mspt_pyiqa.scoring.inputs import expand_inputs
    from mspt_pyiqa.scoring.model import build_backend
    from mspt_pyiqa.scoring.output import OutputError, OutputLock, check_output
    from mspt_pyiqa.scoring.preprocess import PreprocessConfig
    from mspt_pyiqa.scoring.runner import ResultsNotSaved, ScoreJob, run_job
    from mspt_pyiqa.scoring.shard import merge_parts, parse_shard, select_shard, shard_output, torchrun_shard

    if args.merge:
        return _merge(args)
    if not args.paths:
        logger.error("nothing to score: give image files, folders, globs or list files")
        return EXIT_USAGE
    problem = _usage_checks(args)
    if problem:
        logger.error("%s", problem)
        return EXIT_USAGE
    try:
        shard = parse_shard(args.shard) if args.shard else None
        all_files, all_missing = expand_inputs(args.paths)
    except ValueError as err:
        logger.error("%s", err)
        return EXIT_USAGE
    distributed = shard is None and torchrun_shard() is not None
    if distributed:
        shard = torchrun_shard()

    missing = all_missing
    files, output = all_files, Path(args.output)
    if shard is not None:
        files = select_shard(all_files, *shard)
        missing = missing if shard[0] == 0 else []  # reported once, by shard 0
        if distributed:
            output = shard_output(output, *shard)
        logger.info("shard %d/%d: %d of %d files -> %s", shard[0], shard[1], len(files), len(all_files), output)

    try:
        check_output(output, all_files, resume=args.resume)
        detector = str(resolve_detector_model(args.detector_model)) if args.faces != "crop" else None
        if detector:
            check_detector(detector, args.det_threshold, args.detect_side)
        backend = build_backend(args.backend, args.weights, args.input_size, args.device, args.onnx_model,
                                detail_size=args.detail_size, enlarge=args.enlarge)
    except (RuntimeError, ValueError, OSError, ImportError) as err:  # WeightsError / DetectorError are RuntimeErrors
        logger.error("%s", err)
        return EXIT_USAGE
    reference = getattr(backend, "reference", None)
    if args.percentile and reference is None:
        logger.error("--percentile needs the release's score reference, which %s does not have; drop "
                     "--percentile, or score with the catalog release (no --weights) or an ONNX export of it",
                     f"--weights {args.weights}" if args.weights and not args.onnx_model else "this model")
        return EXIT_USAGE
    prep = PreprocessConfig(
        input_size=backend.input_size,
        resize_mode=backend.resize_mode,
        faces=args.faces,
        resize_impl="numpy" if args.backend == "onnxruntime" else "torch",
        detector_model=detector,
        det_threshold=args.det_threshold,
        detect_side=args.detect_side,
        face_size=args.face_size,
        max_faces=args.max_faces,
        min_side=args.min_size,
        max_pixels=args.max_pixels,
        max_side=args.max_side,
        detail_size=backend.detail_size,
        enlarge=backend.enlarge,
    )
    job = ScoreJob(
        files=files,
        output=output,
        prep=prep,
        backend=backend,
        missing=missing,
        batch_size=args.batch_size,
        workers=args.workers,
        resume=args.resume,
        save_every=args.save_every,
        progress=not args.no_progress and sys.stderr.isatty(),
        percentile_of=reference.percentile if args.percentile else None,
    )
    try:
        lock = OutputLock(output).__enter__()
    except OutputError as err:
        logger.error("%s", err)
        return EXIT_USAGE
    try:
        logger.info("scoring %s with %s on %s, input %d px%s, faces: %s", plural(len(files), "file"), backend.name,
                    args.device, backend.input_size,
                    ("" if backend.enlarge else " at most") + ("" if backend.detail_size is None else
                                                                f", detail view {backend.detail_size} px"), args.faces)
        rows = run_job(job)
    except ResultsNotSaved as err:
        _finish(err.rows, args, err.where)
        return EXIT_UNSAVED
    finally:
        lock.release()
    if not distributed:
        return _finish(rows, args, output, reference)

    import torch.distributed as dist
    from datetime import timedelta

    # Every rank has written its part; rank 0 checks and merges them into --output.
    dist.init_process_group("gloo", timeout=timedelta(hours=24))
    try:
        dist.barrier()
        if shard[0] != 0:
            return EXIT_OK
        parts = [shard_output(Path(args.output), i, shard[1]) for i in range(shard[1])]
        try:
            with OutputLock(Path(args.output)):
                merged = merge_parts(parts, all_files + all_missing)
                return _save_merged(merged, args)
        except (OutputError, ValueError) as err:
            logger.error("merge failed: %s", err)
            return EXIT_USAGE
    finally:
        dist.destroy_process_group()
