"""The one home of atomic file writes, JSON/YAML dumps and markdown tables.

Every file the package writes for a user (results, reports, checkpoints, caches) goes through
:func:`atomic_write`: the bytes land in a temporary file in the destination folder, are flushed
to disk, and replace the destination with ``os.replace``. A kill, a full disk or an exception
therefore leaves either the old file or the new one, never half of one, and no temporary file
behind (it is removed on any error). Temporary names start with ``.<name>.`` and end with
``.tmp`` so :func:`clean_stale_temps` can find ones a ``kill -9`` left behind.

This module imports only the standard library (plus yaml lazily), so the fast CLI paths can use it.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import stat
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterator, List, Mapping, Optional, Sequence, Union

PathLike = Union[str, "os.PathLike[str]"]

TEMP_SUFFIX = ".tmp"


def _umask_mode() -> int:
    """File mode a plain ``open(path, 'w')`` would get (0o666 less the process umask)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


@contextlib.contextmanager
def atomic_write(path: PathLike, mode: str = "w", encoding: Optional[str] = "utf-8",
                 newline: Optional[str] = None) -> Iterator[Any]:
    """Open a temporary file beside ``path``; on a clean exit it atomically replaces ``path``.

    Args:
        path: destination file; its folder is created if missing.
        mode: ``"w"`` (text) or ``"wb"`` (bytes).
        encoding / newline: as for :func:`open` in text mode (ignored for bytes).

    The new file gets the permissions a plain ``open`` would give it (umask respected,
    not ``mkstemp``'s 0600). On any exception the temporary file is removed and ``path``
    is left as it was.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write mode must be 'w' or 'wb', not {mode!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
    try:
        os.fchmod(fd, _umask_mode())
        if mode == "wb":
            f = os.fdopen(fd, "wb")
        else:
            f = os.fdopen(fd, "w", encoding=encoding, newline=newline)
        with f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: PathLike, text: str, encoding: str = "utf-8",
                      errors: str = "strict") -> Path:
    """Write ``text`` to ``path`` atomically; returns ``Path(path)``."""
    with atomic_write(path, "wb") as f:
        f.write(text.encode(encoding, errors))
    return Path(path)


def atomic_write_bytes(path: PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns ``Path(path)``."""
    with atomic_write(path, "wb") as f:
        f.write(data)
    return Path(path)


def atomic_save(path: PathLike, writer: Callable[[Any], None]) -> Path:
    """Call ``writer(binary_file)`` on a temporary file, then replace ``path`` (e.g. ``torch.save``)."""
    with atomic_write(path, "wb") as f:
        writer(f)
    return Path(path)


def json_safe(obj: Any) -> Any:
    """``obj`` with NaN/inf as ``None``, paths as strings and mapping keys as strings (strict JSON)."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Mapping):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if hasattr(obj, "item") and callable(obj.item) and getattr(obj, "ndim", 1) == 0:
        return json_safe(obj.item())  # numpy / torch scalars
    return obj


def dumps_json(obj: Any, indent: int = 1) -> str:
    """Strict JSON text (NaN/inf as ``null``) with a trailing newline."""
    return json.dumps(json_safe(obj), indent=indent, default=str) + "\n"


def atomic_write_json(path: PathLike, obj: Any, indent: int = 1) -> Path:
    """Write ``obj`` as strict JSON (NaN/inf as ``null``) atomically."""
    return atomic_write_text(path, dumps_json(obj, indent=indent))


def atomic_write_yaml(path: PathLike, obj: Any) -> Path:
    """Write ``obj`` as YAML (``yaml.safe_dump``, key order kept) atomically."""
    import yaml  # lazy: keeps this module import-light

    return atomic_write_text(path, yaml.safe_dump(json_safe(obj), sort_keys=False))


def clean_stale_temps(folder: PathLike, name: str, older_than_s: float = 0.0) -> List[Path]:
    """Remove temporary files :func:`atomic_write` left for ``folder/name`` (after a ``kill -9``).

    Only files named ``.<name>.*.tmp`` (this module's own pattern) older than ``older_than_s``
    are removed; returns the removed paths.
    """
    folder = Path(folder)
    removed: List[Path] = []
    if not folder.is_dir():
        return removed
    now = time.time()
    for p in folder.glob(f".{name}.*{TEMP_SUFFIX}"):
        try:
            st = p.lstat()
            if stat.S_ISREG(st.st_mode) and now - st.st_mtime >= older_than_s:
                p.unlink()
                removed.append(p)
        except OSError:
            continue
    return removed


def _cell(value: Any, floatfmt: str) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else format(value, floatfmt)
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(rows: Sequence[Mapping[str, Any]], columns: Optional[Sequence[str]] = None,
                   floatfmt: str = ".4f", align_right_numbers: bool = True) -> str:
    """A GitHub markdown table of ``rows`` (dicts) over ``columns`` (default: the first row's keys).

    Floats are formatted with ``floatfmt``; missing cells are empty; ``|`` in cells is escaped.
    """
    if columns is None:
        columns = list(rows[0].keys()) if rows else []
    if not columns:
        return ""
    head = "| " + " | ".join(str(c) for c in columns) + " |"

    def is_num(c: str) -> bool:
        vals = [r.get(c) for r in rows if r.get(c) not in (None, "")]
        return bool(vals) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals)

    rule = "|" + "|".join(("---:" if align_right_numbers and is_num(c) else "---") for c in columns) + "|"
    body = ["| " + " | ".join(_cell(r.get(c, ""), floatfmt) for c in columns) + " |" for r in rows]
    return "\n".join([head, rule] + body) + "\n"
