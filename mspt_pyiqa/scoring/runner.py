"""The scoring loop: files -> DataLoader workers (decode, detect, align, resize) -> backend -> rows.

Results are kept in memory and written atomically to the output file every
``save_every`` seconds and at the end (also on Ctrl-C), so an interrupted run loses at most
that much work and ``resume`` picks up where the file stops.
"""
from __future__ import annotations

import dataclasses
import logging
import time
from collections import defaultdict
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
from tqdm import tqdm

from mspt_pyiqa.scoring.cells import path_key
from mspt_pyiqa.scoring.dataset import make_loader
from mspt_pyiqa.scoring.lifeline import quiet_signals
from mspt_pyiqa.scoring.output import save_rows
from mspt_pyiqa.scoring.preprocess import Prepared, PreprocessConfig
from mspt_pyiqa.scoring.writer import DONE_STATUSES, Row, error_row, read_results, set_percentiles, write_results

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class ScoreJob:
    """Everything one scoring run needs (built by :mod:`mspt_pyiqa.cli.score`)."""

    files: Sequence[str]
    output: Path
    prep: PreprocessConfig
    backend: Callable[..., np.ndarray]  # backend(x) or, with a detail view, backend(x, detail)
    missing: Sequence[str] = ()
    batch_size: int = 16
    workers: int = 1
    resume: bool = False
    save_every: float = 30.0
    progress: bool = True
    #: score -> its percentile among the release's clean photos (``--percentile``); ``None``: no column.
    percentile_of: Optional[Callable[[float], float]] = None


def score_prepared(batch: Sequence[Prepared], backend: Callable[..., np.ndarray]) -> List[Row]:
    """Rows for a batch of prepared files; inputs of equal shape go through the backend together.

    Files prepared with a detail view (:attr:`Prepared.details`) go through ``backend(x, detail)``
    with their detail views stacked in the same order; others through ``backend(x)``. Inputs are
    grouped by the shapes of both views: a model that never enlarges (``enlarge=False``) gives
    small images their own sizes and, below the detail size, a detail view of the resized view's shape.
    """
    groups: Dict[Tuple[Tuple[int, ...], ...], List[Tuple[int, int]]] = defaultdict(list)
    for bi, item in enumerate(batch):
        for fi, t in enumerate(item.inputs):
            detail_shape = tuple(item.details[fi].shape) if item.details else ()
            groups[(tuple(t.shape), detail_shape)].append((bi, fi))
    scores: Dict[Tuple[int, int], float] = {}
    failures: Dict[Tuple[int, int], str] = {}
    for members in groups.values():
        x = np.stack([batch[bi].inputs[fi] for bi, fi in members])
        with_detail = bool(batch[members[0][0]].details)
        try:
            if with_detail:
                out = backend(x, np.stack([batch[bi].details[fi] for bi, fi in members]))
            else:
                out = backend(x)
        except Exception as err:  # e.g. out of memory: these files fail, the run goes on
            for key in members:
                failures[key] = f"inference failed: {type(err).__name__}: {err}"
            continue
        for key, s in zip(members, out.tolist()):
            scores[key] = s
    rows: List[Row] = []
    for bi, item in enumerate(batch):
        if item.status != "ok":
            rows.append(error_row(item.path, item.status, item.message))
            continue
        for fi, box in enumerate(item.boxes):
            s = scores.get((bi, fi))
            if s is None or not np.isfinite(s):
                msg = failures.get((bi, fi), "non-finite score")
                rows.append({"path": item.path, "face": fi, "box": box, "score": None, "status": "error", "message": msg})
            else:
                rows.append({"path": item.path, "face": fi, "box": box, "score": float(s), "status": "ok", "message": item.message})
    return rows


class ResultsNotSaved(RuntimeError):
    """The results file could not be written; the rows are in ``where`` (a fallback file or ``-``)."""

    def __init__(self, rows: List[Row], output: Path, where: Path) -> None:
        super().__init__(f"results could not be written to {output}; saved in {where}")
        self.rows, self.output, self.where = rows, output, where


def _previous_rows(job: ScoreJob) -> Dict[str, List[Row]]:
    """Rows of finished files (ok / no_face) of an earlier run, by :func:`~.cells.path_key`."""
    if not (job.resume and Path(job.output).is_file() and Path(job.output).stat().st_size):
        return {}
    kept: Dict[str, List[Row]] = defaultdict(list)
    for r in read_results(job.output):
        kept[path_key(r["path"])].append(r)
    return {k: rs for k, rs in kept.items() if all(r["status"] in DONE_STATUSES for r in rs)}


def run_job(job: ScoreJob) -> List[Row]:
    """Score ``job.files``; write and return all rows (earlier ones kept when resuming).

    Files are matched to an earlier run's rows by their resolved absolute path, so
    ``imgs/a.jpg`` and ``$PWD/imgs/a.jpg`` are one file (its rows take the current spelling).
    A failed checkpoint write is logged and retried at the next one; if the final write
    fails the rows go to a fallback file and :class:`ResultsNotSaved` says where. On any
    exception (Ctrl-C, SIGTERM, a crash) what was scored is saved first, then it propagates.
    """
    prev = _previous_rows(job)
    keys = {f: path_key(f) for f in job.files}
    current = set(keys.values())
    todo = [f for f in job.files if keys[f] not in prev]
    if prev:
        logger.info("resume: %d file(s) already in %s, %d to score", len(job.files) - len(todo), job.output, len(todo))
    new: Dict[str, List[Row]] = defaultdict(list)
    for spec in job.missing:
        if path_key(spec) not in prev:
            new[spec].append(error_row(spec, "not_found", f"{spec}: no such file, folder or matching glob"))

    def collect() -> List[Row]:
        rows = [r for k, rs in prev.items() if k not in current for r in rs]
        for f in job.files:
            rows += [{**r, "path": f} for r in prev[keys[f]]] if keys[f] in prev else new.get(f, [])
        for spec in job.missing:
            rows += new.get(spec, [])
        return set_percentiles(rows, job.percentile_of)  # resumed rows too: the column follows this run

    loader = make_loader(todo, job.prep, job.batch_size, job.workers)
    last_save = time.monotonic()
    bar = tqdm(total=len(todo), unit="img", desc="scoring", disable=not job.progress or not todo, dynamic_ncols=True)
    try:
        for batch in loader:
            for row in score_prepared(batch, job.backend):
                new[row["path"]].append(row)
            bar.update(len(batch))
            if time.monotonic() - last_save > job.save_every:
                _checkpoint(collect(), job.output)
                last_save = time.monotonic()
    except BaseException as err:
        with quiet_signals():
            where = save_rows(collect(), job.output)
        saved = job.output if where is None else where
        if isinstance(err, KeyboardInterrupt):
            logger.warning("%s: %d file(s) saved in %s; rerun with --resume", err or "interrupted", len(new), saved)
        else:
            logger.error("scoring stopped by %s: %s; %d file(s) saved in %s", type(err).__name__, err, len(new), saved)
        raise
    finally:
        bar.close()
    rows = collect()
    with quiet_signals():
        where = save_rows(rows, job.output)
    if where is not None:
        raise ResultsNotSaved(rows, Path(job.output), where)
    return rows


def _checkpoint(rows: List[Row], output: Path) -> None:
    """Save a checkpoint; a write error is logged and scoring goes on (the next one retries)."""
    try:
        with quiet_signals():
            write_results(rows, output)
    except OSError as err:
        logger.warning("checkpoint of %s failed (%s); scoring goes on and the next checkpoint retries",
                       output, err.strerror or err)
