"""Text of results-file cells: bytes-safe paths and spreadsheet-safe CSV cells.

File names on Linux are bytes; Python holds the bytes that are not valid UTF-8 as lone
surrogates (``os.fsdecode``, "surrogateescape"), which no UTF-8 file can store. Results
files therefore hold an *escaped form* of every path, reversible and plain UTF-8:

* a backslash is written ``\\\\`` (two backslashes);
* a byte that is not valid UTF-8 is written ``\\xNN`` (two lowercase hex digits);
* a control character (code < 32 or 127: tab, newline...) is written ``\\xNN`` too.

Every other character is written as it is. :func:`unescape_path` gives back the exact
name (``os.fsencode`` of it is the original bytes), so ``--resume`` and ``--merge`` find the
file again. Messages are escaped the same way (for reading only, never parsed back).

CSV only: a cell a spreadsheet would run as a formula (first character ``=``, ``+``,
``-``, ``@``, tab or carriage return) gets a leading ``'`` (OWASP's rule for CSV injection);
so that the rule can be undone exactly, a cell that already starts with ``'`` gets one too.
:func:`unneutralise` removes one leading ``'`` when reading a CSV back. JSON is not changed.
"""
from __future__ import annotations

import os
import re
from typing import Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_ESCAPE_RE = re.compile(r"\\(\\|x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4})")


def escape_path(path: Any) -> str:
    """The escaped form of a path (str with surrogate-escaped bytes, bytes or ``os.PathLike``)."""
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    text = os.fspath(path) if isinstance(path, os.PathLike) else str(path)
    out = []
    for ch in text:
        code = ord(ch)
        if ch == "\\":
            out.append("\\\\")
        elif 0xDC80 <= code <= 0xDCFF:  # an undecodable byte (surrogateescape)
            out.append(f"\\x{code - 0xDC00:02x}")
        elif code < 32 or code == 127:
            out.append(f"\\x{code:02x}")
        elif 0xD800 <= code <= 0xDFFF:  # any other lone surrogate (not from a file name)
            out.append(f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)


def _unescape_one(m: "re.Match[str]") -> str:
    body = m.group(1)
    if body == "\\":
        return "\\"
    code = int(body[1:], 16)
    if body[0] == "x" and code >= 0x80:
        return chr(0xDC00 + code)  # back to the surrogate-escaped byte
    return chr(code)


def unescape_path(text: str) -> str:
    """Inverse of :func:`escape_path`: the path as ``os`` functions take it."""
    return _ESCAPE_RE.sub(_unescape_one, str(text)) if "\\" in str(text) else str(text)


def escape_text(text: Any) -> str:
    """A message made writable as UTF-8: undecodable bytes and control characters as ``\\xNN``.

    Unlike :func:`escape_path`, backslashes stay as they are (messages are not parsed back).
    """
    out = []
    for ch in str(text):
        code = ord(ch)
        if 0xDC80 <= code <= 0xDCFF:
            out.append(f"\\x{code - 0xDC00:02x}")
        elif (code < 32 and ch != "\t") or code == 127:
            out.append(f"\\x{code:02x}")
        elif 0xD800 <= code <= 0xDFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)


def neutralise(cell: str) -> str:
    """CSV cell that no spreadsheet runs as a formula (OWASP: prefix ``'``); see the module doc."""
    return "'" + cell if cell.startswith(FORMULA_START) or cell.startswith("'") else cell


def unneutralise(cell: str) -> str:
    """Inverse of :func:`neutralise` (one leading ``'`` removed)."""
    return cell[1:] if cell.startswith("'") else cell


def path_key(path: str) -> str:
    """The key two spellings of one file share: the absolute path with symlinks resolved.

    ``imgs/a.jpg`` typed in one run and ``$PWD/imgs/a.jpg`` in the next give the same key.
    Specs that are not files (a glob that matched nothing) are normalised the same way.
    """
    try:
        return os.path.realpath(os.path.abspath(path))
    except (OSError, ValueError):
        return os.path.normpath(path)
