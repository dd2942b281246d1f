"""From score rows to :class:`~mspt_pyiqa.compare.html.ReportData`, thumbnails included.

Used by ``mspt-face report`` (one results file: one method, one item per scored face) and
by ``mspt-face compare`` (several methods, one item per matched relative path).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from mspt_pyiqa.compare.html import ReportData
from mspt_pyiqa.compare.thumbs import make_thumbnails
from mspt_pyiqa.scoring.writer import Row

AUTO_INLINE_MAX = 1000  # 'auto' thumbnails: inline up to this many, a folder beside the page above


def thumbs_folder(page: Path) -> Path:
    """The folder beside ``page`` for its thumbnails: ``<stem>_files``."""
    return page.with_name(page.stem + "_files")


def resolve_mode(mode: str, count: int) -> str:
    if mode == "auto":
        return "inline" if count <= AUTO_INLINE_MAX else "folder"
    return mode


def attach_thumbnails(data: ReportData, paths: Sequence[Sequence[Optional[str]]], boxes: Sequence[Sequence[str]],
                      page: Path, mode: str = "auto", size: int = 96, workers: int = 2) -> str:
    """Fill ``data.thumbs`` (M, n) from image ``paths`` (None: no image) and ``boxes``; returns the mode used."""
    flat = [(p, b) for col_p, col_b in zip(paths, boxes) for p, b in zip(col_p, col_b) if p]
    mode = resolve_mode(mode, len(set(flat)))
    srcs = iter(make_thumbnails(flat, mode, thumbs_folder(page), size=size, workers=workers))
    data.thumbs = [[next(srcs) if p else None for p in col] for col in paths]
    return mode


def display_keys(rows: Sequence[Row]) -> List[str]:
    """Item names: paths relative to the deepest folder common to all rows, ``#face`` added for
    images with several faces (``--detect``)."""
    counts: Dict[str, int] = {}
    for r in rows:
        counts[r["path"]] = counts.get(r["path"], 0) + 1
    try:
        root = os.path.commonpath([os.path.dirname(os.path.abspath(r["path"])) for r in rows]) if rows else ""
    except ValueError:  # paths on different drives
        root = ""
    keys = []
    for r in rows:
        name = Path(os.path.relpath(os.path.abspath(r["path"]), root)).as_posix() if root else r["path"]
        keys.append(f"{name}#{r['face']}" if counts[r["path"]] > 1 and r.get("face") is not None else name)
    return keys


def rows_report(rows: Sequence[Row], title: str, page: Path, mode: str = "auto", size: int = 96,
                workers: int = 2, name: str = "mspt_face") -> ReportData:
    """One item per row of a results file (each face of ``--detect`` runs is an item: ``path#face``);
    ``name`` labels the set of scores (the input's name)."""
    data = ReportData(
        title=title, methods=[name], keys=display_keys(rows),
        scores=[[r["score"] if r["status"] == "ok" else None for r in rows]],
        status=[[r["status"] for r in rows]],
        messages=[[r.get("message") or "" for r in rows]],
        thumbs=[[None] * len(rows)],
    )
    boxes = [[r.get("box") or "" for r in rows]]  # the scored region (whole image without --detect)
    attach_thumbnails(data, [[r["path"] for r in rows]], boxes, page, mode, size, workers)
    return data
