"""Expand ``mspt-face score`` arguments into a sorted, de-duplicated list of files.

Each argument is, in this order of interpretation:

* ``@LIST`` or an existing ``*.txt`` / ``*.lst`` file: a text file with one path (or
  folder, or glob) per line; blank lines and lines starting with ``#`` are skipped;
  relative entries are relative to the list file's folder;
* an existing folder: every file with an image extension below it (recursive);
* an existing file: used as given, whatever its extension (a non-image gets a status row);
* otherwise a glob pattern (``**`` recursive); a pattern that matches nothing, or a path
  that does not exist, is reported as ``not_found``.
"""
from __future__ import annotations

import glob
import os
from pathlib import Path
from typing import Dict, Iterable, List, Tuple

from mspt_pyiqa.imageio import is_probably_image

LIST_SUFFIXES = (".txt", ".lst")


def _norm(p: str) -> str:
    return os.path.normpath(p)


def _walk(folder: str) -> List[str]:
    out = []
    for root, dirs, files in os.walk(folder, followlinks=False):
        dirs.sort()
        out.extend(os.path.join(root, f) for f in sorted(files) if is_probably_image(f))
    return out


def _expand_one(spec: str, missing: List[str], depth: int) -> List[str]:
    if spec.startswith("@") or (spec.lower().endswith(LIST_SUFFIXES) and os.path.isfile(spec)):
        list_file = spec[1:] if spec.startswith("@") else spec
        if not os.path.isfile(list_file):
            missing.append(spec)
            return []
        if depth > 4:
            raise ValueError(f"list file {list_file}: lists nested more than 4 deep")
        base = os.path.dirname(list_file)
        out: List[str] = []
        for line in Path(list_file).read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                entry = line if os.path.isabs(line) else os.path.join(base, line)
                out.extend(_expand_one(entry, missing, depth + 1))
        return out
    if os.path.isdir(spec):
        return _walk(spec)
    if os.path.lexists(spec):
        return [spec]
    matches = sorted(glob.glob(spec, recursive=True))
    if not matches:
        missing.append(spec)
    out = []
    for m in matches:
        out.extend(_walk(m) if os.path.isdir(m) else [m])
    return out


def expand_inputs(specs: Iterable[str]) -> Tuple[List[str], List[str]]:
    """``(files, missing)``: files in first-seen order without duplicates; specs that matched nothing."""
    missing: List[str] = []
    seen: Dict[str, None] = {}
    for spec in specs:
        for f in _expand_one(str(spec), missing, 0):
            seen.setdefault(_norm(f), None)
    return list(seen), missing
