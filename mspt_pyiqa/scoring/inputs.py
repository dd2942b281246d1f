"""Expand ``mspt-face score`` arguments into a sorted, de-duplicated list of files.

Each argument is, in this order of interpretation:

* ``@LIST`` or an existing ``*.txt`` / ``*.lst`` file: a text file with one path (or
  folder, or glob) per line; blank lines and lines starting with ``#`` are skipped;
  relative entries are relative to the list file's folder; a binary file (NUL bytes) or a
  list that includes itself is a usage error (:class:`InputError`); names that are not
  UTF-8 are kept as bytes;
* an existing folder: every file with an image extension below it (recursive); a folder
  named like an image (``x.jpg/``) below it gets a ``not_image`` row and is walked too;
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


class InputError(ValueError):
    """An argument that cannot be expanded (a usage error: a binary or cyclic list file)."""


def _walk(folder: str) -> List[str]:
    """Image files below ``folder``; a sub-folder named like an image (``x.jpg/``) is listed
    too, so it gets a row (``not_image``) instead of vanishing, and is walked as well."""
    out = []
    for root, dirs, files in os.walk(folder, followlinks=False):
        dirs.sort()
        names = sorted(files + [d for d in dirs if is_probably_image(d)])
        out.extend(os.path.join(root, f) for f in names if is_probably_image(f))
    return out


def _read_list(list_file: str) -> List[str]:
    """Lines of a list file; names that are not UTF-8 are kept byte for byte (surrogateescape)."""
    try:
        data = Path(list_file).read_bytes()
    except OSError as err:
        raise InputError(f"list file {list_file}: cannot be read ({err.strerror or err})") from err
    if b"\x00" in data:
        raise InputError(
            f"list file {list_file}: binary data, not a list of paths (files ending in .txt / .lst "
            "are read as lists of paths; rename an image that has such a name)"
        )
    return data.decode("utf-8", "surrogateescape").splitlines()


def _expand_one(spec: str, missing: List[str], stack: Tuple[str, ...]) -> List[str]:
    if spec.startswith("@") or (spec.lower().endswith(LIST_SUFFIXES) and os.path.isfile(spec)):
        list_file = spec[1:] if spec.startswith("@") else spec
        if not os.path.isfile(list_file):
            missing.append(spec)
            return []
        key = os.path.realpath(list_file)
        if key in stack:
            chain = " -> ".join(list(stack[stack.index(key):]) + [key])
            raise InputError(f"list file {list_file} includes itself ({chain})")
        if len(stack) > 4:
            raise InputError(f"list file {list_file}: lists nested more than 4 deep")
        base = os.path.dirname(list_file)
        out: List[str] = []
        for line in _read_list(list_file):
            line = line.strip()
            if line and not line.startswith("#"):
                entry = line if os.path.isabs(line) else os.path.join(base, line)
                out.extend(_expand_one(entry, missing, stack + (key,)))
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
        if os.path.isdir(m):
            out.extend(([m] if is_probably_image(m) else []) + _walk(m))
        else:
            out.append(m)
    return out


def expand_inputs(specs: Iterable[str]) -> Tuple[List[str], List[str]]:
    """``(files, missing)``: files in first-seen order without duplicates; specs that matched nothing.

    Raises :class:`InputError` for a list file that is binary or includes itself.
    """
    missing: List[str] = []
    seen: Dict[str, None] = {}
    for spec in specs:
        for f in _expand_one(str(spec), missing, ()):
            seen.setdefault(_norm(f), None)
    return list(seen), missing
