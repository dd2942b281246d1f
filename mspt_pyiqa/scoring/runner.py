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
from typing import Callable, Dict, List, Sequence, Tuple

import numpy as np
from tqdm import tqdm

from mspt_pyiqa.scoring.dataset import make_loader
from mspt_pyiqa.scoring.preprocess import Prepared, PreprocessConfig
from mspt_pyiqa.scoring.writer import DONE_STATUSES, Row, error_row, read_results, write_results

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class ScoreJob:
    """Everything one scoring run needs (built by :mod:`mspt_pyiqa.cli.score`)."""

    files: Sequence[str]
    output: Path
    prep: PreprocessConfig
    backend: Callable[[np.ndarray], np.ndarray]
    missing: Sequence[str] = ()
    batch_size: int = 16
    workers: int = 1
    resume: bool = False
    save_every: float = 30.0
    progress: bool = True


def score_prepared(batch: Sequence[Prepared], backend: Callable[[np.ndarray], np.ndarray]) -> List[Row]:
    """Rows for a batch of prepared files; inputs of equal shape go through the backend together."""
    groups: Dict[Tuple[int, ...], List[Tuple[int, int]]] = defaultdict(list)
    for bi, item in enumerate(batch):
        for fi, t in enumerate(item.inputs):
            groups[tuple(t.shape)].append((bi, fi))
    scores: Dict[Tuple[int, int], float] = {}
    failures: Dict[Tuple[int, int], str] = {}
    for members in groups.values():
        x = np.stack([batch[bi].inputs[fi] for bi, fi in members])
        try:
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


def _previous_rows(job: ScoreJob) -> Dict[str, List[Row]]:
    """Rows of finished files (ok / no_face) of an earlier run, by path."""
    if not (job.resume and Path(job.output).is_file()):
        return {}
    kept: Dict[str, List[Row]] = defaultdict(list)
    for r in read_results(job.output):
        kept[r["path"]].append(r)
    return {p: rs for p, rs in kept.items() if all(r["status"] in DONE_STATUSES for r in rs)}


def run_job(job: ScoreJob) -> List[Row]:
    """Score ``job.files``; write and return all rows (earlier ones kept when resuming)."""
    done = _previous_rows(job)
    todo = [f for f in job.files if f not in done]
    if done:
        logger.info("resume: %d file(s) already in %s, %d to score", len(job.files) - len(todo), job.output, len(todo))
    new: Dict[str, List[Row]] = defaultdict(list)
    for spec in job.missing:
        new[spec].append(error_row(spec, "not_found", f"{spec}: no such file, folder or matching glob"))

    def collect() -> List[Row]:
        order = list(dict.fromkeys(list(done) + list(job.files) + list(job.missing)))
        return [r for p in order for r in (done.get(p) or new.get(p) or [])]

    loader = make_loader(todo, job.prep, job.batch_size, job.workers)
    last_save = time.monotonic()
    bar = tqdm(total=len(todo), unit="img", desc="scoring", disable=not job.progress or not todo, dynamic_ncols=True)
    try:
        for batch in loader:
            for row in score_prepared(batch, job.backend):
                new[row["path"]].append(row)
            bar.update(len(batch))
            if time.monotonic() - last_save > job.save_every:
                write_results(collect(), job.output)
                last_save = time.monotonic()
    except KeyboardInterrupt:
        write_results(collect(), job.output)
        logger.warning("interrupted: %d file(s) saved in %s; rerun with --resume", len(new), job.output)
        raise
    finally:
        bar.close()
    rows = collect()
    write_results(rows, job.output)
    return rows
