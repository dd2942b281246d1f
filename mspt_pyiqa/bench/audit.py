"""Rows of a benchmark dataset file that are left out, each named with its line and reason.

A dataset file is read row by row (:mod:`mspt_pyiqa.bench.datasets`); a row is left out
(``dropped``) when its MOS cell is empty, not a number, NaN or infinite, or when its image
already appeared on an earlier row (the first row is kept; a second, different MOS is named
in the reason). Every left-out row is logged and listed in ``results.json`` and
``leaderboard.md``. A dataset whose kept MOS values are all equal is refused: correlations
with a constant are undefined.
"""
from __future__ import annotations

import dataclasses
import logging
import math
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class RawRow:
    """One data row as read: ``line`` (1-based line of the file), image path, MOS cell, reference, info."""

    line: int
    path: Path
    mos: Any
    ref: Optional[Path] = None
    info: Dict[str, str] = dataclasses.field(default_factory=dict)


def parse_mos(cell: Any) -> Tuple[Optional[float], str]:
    """``(value, "")`` for a finite number, else ``(None, reason)``."""
    if cell is None or (isinstance(cell, str) and not cell.strip()):
        return None, "MOS cell is empty"
    try:
        value = float(cell)
    except (TypeError, ValueError):
        return None, f"MOS {str(cell)[:40]!r} is not a number"
    if math.isnan(value):
        return None, "MOS is NaN"
    if not math.isfinite(value):
        return None, f"MOS is {value}"
    return value, ""


def keep_rows(rows: List[RawRow]) -> Tuple[List[RawRow], List[Dict[str, Any]], List[float]]:
    """``(kept rows, dropped rows, their MOS values)``; dropped rows are dicts ``line, path, reason``."""
    kept: List[RawRow] = []
    values: List[float] = []
    dropped: List[Dict[str, Any]] = []
    first: Dict[str, Tuple[int, float]] = {}
    for r in rows:
        value, reason = parse_mos(r.mos)
        key = str(r.path)
        if value is not None and key in first:
            line, mos = first[key]
            same = "the same MOS" if mos == value else f"MOS {value:g} here, {mos:g} there"
            reason = f"duplicate of line {line} ({same}); the first is kept"
        if reason:
            dropped.append({"line": r.line, "path": key, "reason": reason})
            continue
        first[key] = (r.line, value)
        kept.append(r)
        values.append(value)
    return kept, dropped, values


def log_dropped(name: str, source: Path, dropped: List[Dict[str, Any]]) -> None:
    """One warning per left-out row, then the count."""
    for d in dropped:
        logger.warning("dataset %s: %s line %d (%s) left out: %s", name, source, d["line"], d["path"], d["reason"])
    if dropped:
        logger.warning("dataset %s: %d row(s) of %s left out (listed in results.json and leaderboard.md)",
                       name, len(dropped), source)


def check_spread(name: str, values: List[float]) -> None:
    """``ValueError`` when every kept MOS is the same value (no statistic is defined)."""
    if values and len(set(values)) < 2:
        raise ValueError(f"dataset {name}: every one of its {len(values)} MOS values is {values[0]:g}; "
                         "correlations with a constant MOS are undefined")
