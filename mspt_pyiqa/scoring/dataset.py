"""Batches of prepared files: in this process (``workers=0``) or in DataLoader workers.

``workers=0`` needs no torch (the onnxruntime path stays free of it); ``workers > 0`` uses
``torch.utils.data.DataLoader`` with a forkserver context. Either way the batches come in
file order, each a list of :class:`~mspt_pyiqa.scoring.preprocess.Prepared`.
"""
from __future__ import annotations

import functools
import multiprocessing
import multiprocessing.context
import os
from typing import Iterable, Iterator, List, Sequence

import cv2

from mspt_pyiqa.scoring.lifeline import bind_to_parent
from mspt_pyiqa.scoring.preprocess import Prepared, PreprocessConfig, Preprocessor

_GUARD_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_forkguard")


class ScoreDataset:
    """Map-style dataset of file paths; item ``i`` is the prepared file ``files[i]``."""

    def __init__(self, files: Sequence[str], cfg: PreprocessConfig) -> None:
        self.files = list(files)
        self.prep = Preprocessor(cfg)

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> Prepared:
        return self.prep(self.files[i])


def collate_prepared(batch: List[Prepared]) -> List[Prepared]:
    """Keep items as they are: faces per image vary, so stacking happens per shape later."""
    return batch


def _worker_init(_: int, owner: int = 0) -> None:
    import torch

    # Workers die with the run's process (kill -9 included), never outlive it as orphans.
    if owner:
        bind_to_parent(owner)
    # Workers share the machine's cores with the network: one thread each.
    torch.set_num_threads(1)
    cv2.setNumThreads(1)


def _worker_context() -> multiprocessing.context.BaseContext:
    """forkserver, not fork: forking a process whose OpenCV / OpenMP thread pools have run
    (YuNet, resizes) can deadlock the children. The server starts clean once, imports this
    module (torch, OpenCV) once, and forks each worker from there, so workers start fast.
    :mod:`mspt_forkserver_guard` (in ``_forkguard/``), imported before it without importing
    this package, makes the server die with this process from its first moment."""
    ctx = multiprocessing.get_context("forkserver")
    # The forkserver finds modules through PYTHONPATH (it is a fresh interpreter); appended
    # last, the folder (which holds only the guard) shadows nothing.
    paths = os.environ.get("PYTHONPATH", "").split(os.pathsep) if os.environ.get("PYTHONPATH") else []
    if _GUARD_DIR not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join(paths + [_GUARD_DIR])
    ctx.set_forkserver_preload(["mspt_forkserver_guard", __name__])
    return ctx


def _in_process(dataset: ScoreDataset, batch_size: int) -> Iterator[List[Prepared]]:
    for start in range(0, len(dataset), batch_size):
        yield [dataset[i] for i in range(start, min(start + batch_size, len(dataset)))]


def make_loader(files: Sequence[str], cfg: PreprocessConfig, batch_size: int, workers: int) -> Iterable[List[Prepared]]:
    """Ordered batches over ``files`` (order is kept, so results can be written as they come)."""
    dataset = ScoreDataset(files, cfg)
    if workers <= 0:
        return _in_process(dataset, max(1, batch_size))
    from torch.utils.data import DataLoader

    return DataLoader(
        dataset,
        batch_size=max(1, batch_size),
        shuffle=False,
        num_workers=workers,
        collate_fn=collate_prepared,
        worker_init_fn=functools.partial(_worker_init, owner=os.getpid()),
        multiprocessing_context=_worker_context(),
        persistent_workers=False,
        prefetch_factor=2,
    )
