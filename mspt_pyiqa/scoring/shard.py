"""Split a collection across processes or machines, and merge their results files.

Split: shard ``i`` of ``n`` takes files ``i, i+n, i+2n, ...`` of the expanded input list
(sorted, de-duplicated: identical on every machine given the same arguments), so the
shards are disjoint and their union is the whole list. Under ``torchrun`` the rank and world
size come from ``RANK`` / ``WORLD_SIZE``.

Merge: concatenates shard files, refuses duplicates (a file in two shards, compared by
resolved absolute path) and, given the expected file list, reports every file that no shard holds.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from mspt_pyiqa.scoring.cells import escape_path, path_key
from mspt_pyiqa.scoring.writer import Row, read_results


def parse_shard(text: str) -> Tuple[int, int]:
    """``"i/n"`` -> ``(i, n)`` with ``0 <= i < n``."""
    try:
        i_str, n_str = text.split("/")
        i, n = int(i_str), int(n_str)
    except ValueError as err:
        raise ValueError(f"--shard expects I/N (e.g. 0/4), got {text!r}") from err
    if n < 1 or not 0 <= i < n:
        raise ValueError(f"--shard {text}: need 0 <= I < N")
    return i, n


def torchrun_shard() -> Optional[Tuple[int, int]]:
    """``(rank, world_size)`` when launched by torchrun with more than one process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return (int(os.environ.get("RANK", "0")), world) if world > 1 else None


def select_shard(files: Sequence[str], index: int, count: int) -> List[str]:
    return list(files[index::count])


def shard_output(output: Path, index: int, count: int) -> Path:
    """``scores.csv`` -> ``scores.part1of4.csv`` (the file shard ``index`` writes under torchrun)."""
    output = Path(output)
    return output.with_name(f"{output.stem}.part{index}of{count}{output.suffix}")


class MergeError(ValueError):
    """Shard files overlap or miss files."""


def merge_parts(parts: Sequence[Path], expected: Optional[Sequence[str]] = None) -> List[Row]:
    """Rows of all ``parts``; raise :class:`MergeError` on a file in two parts or a missing expected path.

    Files are compared by their resolved absolute path (:func:`~.cells.path_key`), so
    parts written from different working folders or spellings still match.
    """
    owner: Dict[str, Path] = {}
    rows: List[Row] = []
    duplicates = []
    for part in parts:
        if not Path(part).is_file():
            raise MergeError(f"shard results file {part}: no such file")
        part_rows = read_results(Path(part))
        for path in dict.fromkeys(r["path"] for r in part_rows):
            key = path_key(path)
            if key in owner:
                duplicates.append(f"{escape_path(path)} (in {owner[key]} and {part})")
            owner[key] = Path(part)
        rows.extend(part_rows)
    if duplicates:
        raise MergeError(f"{len(duplicates)} file(s) appear in more than one shard: " + "; ".join(duplicates[:10]))
    if expected is not None:
        lost = [escape_path(p) for p in expected if path_key(p) not in owner]
        if lost:
            raise MergeError(f"{len(lost)} file(s) are in no shard: " + "; ".join(lost[:10]))
    return rows
