"""``mspt-face score PATH...``: score face images (files, folders, globs, list files).

Exit status: 0 when at least one face was scored (in the results file, resumed rows
included); 1 when nothing was scored; 2 for a usage, model or merge error; 3 with
``--strict`` when any file failed (``no_face`` is an outcome, not a failure); 130 on Ctrl-C.
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

EXIT_OK, EXIT_NOTHING, EXIT_USAGE, EXIT_STRICT, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


def default_workers() -> int:
    """Decode worker processes by core count. Up to 2 cores: 0 (decode in the main process;
    measured faster there, eval/reports/start_time.md: worker processes only compete with the
    network for the cores). Above: one per core beyond the first, at most 4 (not measured here;
    ``eval/start_time.py --workers 0 1 2 4`` measures any machine)."""
    cores = os.cpu_count() or 1
    return 0 if cores <= 2 else min(4, cores - 1)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="*", help="image files, folders (recursive), globs, or @list.txt / *.txt list files")
    p.add_argument("-o", "--output", default="mspt_face_scores.csv", help="results file, .csv or .json (default: %(default)s)")
    io = p.add_argument_group("model")
    io.add_argument("--weights", help="MSPT checkpoint (default: the released weights of the catalog)")
    io.add_argument("--input-size", type=int, help="short side the network sees (default: from the checkpoint or catalog)")
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


def _finish(rows: List[dict], args: argparse.Namespace, output: Path, reference: object = None) -> int:
    from mspt_pyiqa.scoring.writer import format_summary, format_table, summarize

    if args.table_rows > 0 and rows:
        print(format_table(rows, args.table_rows))
    s = summarize(rows)
    print(format_summary(s))
    if reference is not None:  # what the scores mean: the release's reference points
        from mspt_pyiqa.reference import summary_lines

        print("\n".join(summary_lines(reference, [r["score"] for r in rows if r["status"] == "ok"])))
    print(f"results: {output}")
    if s["faces_scored"] == 0:
        return EXIT_NOTHING
    if args.strict and s["failed"]:
        return EXIT_STRICT
    return EXIT_OK


def _merge(args: argparse.Namespace) -> int:
    from mspt_pyiqa.scoring.inputs import expand_inputs
    from mspt_pyiqa.scoring.shard import MergeError, merge_parts
    from mspt_pyiqa.scoring.writer import write_results

    expected: Optional[List[str]] = None
    if args.paths:
        files, missing = expand_inputs(args.paths)
        expected = files + missing
    try:
        rows = merge_parts([Path(p) for p in args.merge], expected)
    except (MergeError, OSError, ValueError) as err:
        logger.error("merge failed: %s", err)
        return EXIT_USAGE
    write_results(rows, Path(args.output))
    return _finish(rows, args, Path(args.output))


def run(args: argparse.Namespace) -> int:
    from mspt_pyiqa.face.detector import resolve_detector_model
    from mspt_pyiqa.scoring.inputs import expand_inputs
    from mspt_pyiqa.scoring.model import build_backend
    from mspt_pyiqa.scoring.preprocess import PreprocessConfig
    from mspt_pyiqa.scoring.runner import ScoreJob, run_job
    from mspt_pyiqa.scoring.shard import merge_parts, parse_shard, select_shard, shard_output, torchrun_shard
    from mspt_pyiqa.scoring.writer import output_format, write_results

    if args.merge:
        return _merge(args)
    if not args.paths:
        logger.error("nothing to score: give image files, folders, globs or list files")
        return EXIT_USAGE
    try:
        output_format(Path(args.output))
        shard = parse_shard(args.shard) if args.shard else None
    except ValueError as err:
        logger.error("%s", err)
        return EXIT_USAGE
    distributed = shard is None and torchrun_shard() is not None
    if distributed:
        shard = torchrun_shard()

    all_files, all_missing = expand_inputs(args.paths)
    missing = all_missing
    files, output = all_files, Path(args.output)
    if shard is not None:
        files = select_shard(all_files, *shard)
        missing = missing if shard[0] == 0 else []  # reported once, by shard 0
        if distributed:
            output = shard_output(output, *shard)
        logger.info("shard %d/%d: %d of %d files -> %s", shard[0], shard[1], len(files), len(all_files), output)

    try:
        detector = str(resolve_detector_model(args.detector_model)) if args.faces != "crop" else None
        backend = build_backend(args.backend, args.weights, args.input_size, args.device, args.onnx_model)
    except (RuntimeError, ValueError, OSError) as err:  # WeightsError / DetectorError are RuntimeErrors
        logger.error("%s", err)
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
    )
    logger.info("scoring %s with %s on %s, input %d px, faces: %s", plural(len(files), "file"), backend.name,
                args.device, backend.input_size, args.faces)
    try:
        rows = run_job(job)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    if not distributed:
        return _finish(rows, args, output, getattr(backend, "reference", None))

    import torch.distributed as dist
    from datetime import timedelta

    # Every rank has written its part; rank 0 checks and merges them into --output.
    dist.init_process_group("gloo", timeout=timedelta(hours=24))
    try:
        dist.barrier()
        if shard[0] != 0:
            return EXIT_OK
        parts = [shard_output(Path(args.output), i, shard[1]) for i in range(shard[1])]
        merged = merge_parts(parts, all_files + all_missing)
        write_results(merged, Path(args.output))
        return _finish(merged, args, Path(args.output))
    finally:
        dist.destroy_process_group()
