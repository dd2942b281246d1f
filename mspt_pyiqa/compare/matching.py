"""Method inputs (image folders or score files) matched image by image on their relative paths.

A method is given either as a folder of images (every image below it, recursive; key = the
path relative to the folder, ``/``-separated) or as an ``mspt-face score`` results file
(``.csv`` / ``.json``; key = the path relative to the deepest folder common to all its
rows). Two methods' images are the *same input* when their keys are equal. Keys present in
some methods but not all are reported as unmatched (:func:`unmatched`), never dropped
silently: they appear in the per-image table with status ``missing`` for the other methods.
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from mspt_pyiqa.scoring.writer import Row

SCORE_SUFFIXES = (".csv", ".json")


class CompareInputError(ValueError):
    """A method argument that cannot be used (one line naming the file and the problem)."""


@dataclasses.dataclass
class MethodInput:
    """One method: ``name``, what was given (``spec``), ``kind`` (``folder`` or ``scores``),
    ``files`` (key -> image path) and, for a score file, its rows by key (first face)."""

    name: str
    spec: str
    kind: str
    files: Dict[str, str]
    rows: Optional[Dict[str, Row]] = None


def _key(path: str, root: str) -> str:
    return Path(os.path.relpath(path, root)).as_posix()


def _folder_method(name: str, spec: str) -> MethodInput:
    from mspt_pyiqa.scoring.inputs import expand_inputs

    files, _ = expand_inputs([spec])
    if not files:
        raise CompareInputError(f"{spec}: no image files in this folder")
    return MethodInput(name, spec, "folder", {_key(f, spec): f for f in files})


def _scores_method(name: str, spec: str) -> MethodInput:
    from mspt_pyiqa.scoring.writer import read_results

    try:
        rows = read_results(Path(spec))
    except (OSError, ValueError) as err:
        raise CompareInputError(f"{spec}: cannot read score file: {err}") from err
    if not rows:
        raise CompareInputError(f"{spec}: score file has no rows")
    paths = list(dict.fromkeys(r["path"] for r in rows))
    root = os.path.commonpath([os.path.dirname(os.path.abspath(p)) for p in paths])
    by_key: Dict[str, Row] = {}
    files: Dict[str, str] = {}
    for r in rows:  # first face row of each file (the largest face with --detect)
        k = _key(os.path.abspath(r["path"]), root)
        if k not in by_key or (r.get("face") or 0) < (by_key[k].get("face") or 0):
            by_key[k] = r
            files[k] = r["path"]
    return MethodInput(name, spec, "scores", files, by_key)


def _unique_names(specs: Sequence[str], names: Optional[Sequence[str]]) -> List[str]:
    if names:
        if len(names) != len(specs):
            raise CompareInputError(f"--names: {len(names)} name(s) for {len(specs)} method(s)")
        out = list(names)
    else:
        out = []
        for s in specs:
            p = Path(s.rstrip("/\\") or s)
            out.append(p.stem if p.suffix.lower() in SCORE_SUFFIXES else p.name or str(p))
    for i, n in enumerate(out):  # de-duplicate: a, a -> a, a_2
        if out[:i].count(n):
            out[i] = f"{n}_{out[:i].count(n) + 1}"
    bad = [n for n in out if not n or "/" in n or "\\" in n or n.startswith(".")]
    if bad:
        raise CompareInputError(f"method name(s) {bad} cannot be used as file names; pass --names")
    return out


def load_methods(specs: Sequence[str], names: Optional[Sequence[str]] = None) -> List[MethodInput]:
    """One :class:`MethodInput` per spec (folder or score file), in the given order."""
    if len(specs) < 2:
        raise CompareInputError("compare needs at least two methods (folders or score files)")
    methods = []
    for name, spec in zip(_unique_names(specs, names), specs):
        if os.path.isdir(spec):
            methods.append(_folder_method(name, spec))
        elif os.path.isfile(spec) and spec.lower().endswith(SCORE_SUFFIXES):
            methods.append(_scores_method(name, spec))
        elif os.path.exists(spec):
            raise CompareInputError(f"{spec}: not a folder or a .csv/.json score file")
        else:
            raise CompareInputError(f"{spec}: no such folder or score file")
    return methods


def all_keys(methods: Sequence[MethodInput]) -> List[str]:
    """Every key of any method, sorted."""
    keys = set()
    for m in methods:
        keys.update(m.files)
    return sorted(keys)


def unmatched(methods: Sequence[MethodInput]) -> List[Dict[str, str]]:
    """Rows ``{key, present_in, missing_in}`` (names joined by ``;``) for keys not in every method."""
    out = []
    for k in all_keys(methods):
        have = [m.name for m in methods if k in m.files]
        if len(have) < len(methods):
            out.append({"key": k, "present_in": ";".join(have),
                        "missing_in": ";".join(m.name for m in methods if k not in m.files)})
    return out
