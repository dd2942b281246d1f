"""The results file as a resource: checked before any work, locked while written, never lost.

* :func:`check_output` runs before the first image: the name is ``.csv`` / ``.json``, the
  folder exists or can be made and a file can be created in it, the file is not one of the
  inputs, and an existing file is a results file (``--resume`` reads it; without it the
  file would be replaced, which is refused for anything that is not a results file).
* :class:`OutputLock`: an exclusive ``flock`` on ``.<name>.lock`` beside the results file,
  taken without waiting; a second writer of the same file fails at once, naming the first
  one's process id. The lock file is removed when released.
* :func:`save_rows`: the atomic write; when it fails (full disk, folder gone read-only) the
  rows go to a fallback file (temporary folder, then home, then the working folder), and
  as a last resort to standard output, so nothing scored is lost to an output error.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import Iterable, List, Optional, Sequence

from mspt_pyiqa.scoring.cells import path_key
from mspt_pyiqa.scoring.writer import Row, output_format, read_results, results_text, write_results
from mspt_pyiqa.utils.io import clean_stale_temps

logger = logging.getLogger(__name__)


class OutputError(ValueError):
    """The results file cannot be used (a usage error: reported before any work)."""


class OutputLocked(OutputError):
    """Another process holds the lock of the results file."""


def _probe_folder(folder: Path) -> None:
    """Create and remove a temporary file in ``folder`` (the way the atomic writer will)."""
    blocker = next((p for p in [folder, *folder.parents] if p.exists()), None)
    if blocker is not None and not blocker.is_dir():
        raise OutputError(f"cannot use output folder {folder}: {blocker} is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputError(f"cannot create the output folder {folder}: {err.strerror or err}") from err
    if not folder.is_dir():
        raise OutputError(f"output folder {folder} is not a folder")
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".mspt_face_probe.", suffix=".tmp")
    except OSError as err:
        raise OutputError(f"cannot write in the output folder {folder}: {err.strerror or err}") from err
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(tmp)


def check_output(output: Path, inputs: Iterable[str] = (), resume: bool = False) -> None:
    """Raise :class:`OutputError` (one line, naming the file) when ``output`` cannot be used.

    Args:
        output: the results file (``-o``).
        inputs: the files to be scored; the results file must not be one of them.
        resume: ``--resume``: an existing file must be a results file (it is read back).
    """
    output = Path(output)
    try:
        output_format(output)
    except ValueError as err:
        raise OutputError(str(err)) from err
    if output.is_dir():
        raise OutputError(f"output {output} is a folder; give a file name ending in .csv or .json")
    _probe_folder(output.parent if str(output.parent) else Path("."))
    key = path_key(str(output))
    if any(path_key(f) == key for f in inputs):
        raise OutputError(f"output {output} is also one of the files to score; choose another -o")
    if output.exists():
        if not output.is_file():
            raise OutputError(f"output {output} exists and is not a regular file")
        if output.stat().st_size == 0:
            return
        try:
            read_results(output)
        except (ValueError, OSError) as err:
            if resume:
                raise OutputError(f"--resume: {err}") from err
            raise OutputError(f"{err}; refusing to replace it (remove it or choose another -o)") from err


class OutputLock:
    """Exclusive lock of a results file, as a context manager (see the module docstring)."""

    def __init__(self, output: Path) -> None:
        output = Path(output)
        self.output = output
        self.path = output.with_name(f".{output.name}.lock")
        self._fd: Optional[int] = None

    def acquire(self) -> "OutputLock":
        for _ in range(10):  # retry when the holder removed the file between our open and flock
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as err:
                holder = ""
                with contextlib.suppress(OSError, ValueError):
                    holder = os.pread(fd, 32, 0).decode("ascii").strip()
                os.close(fd)
                if err.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    who = f" (process {holder})" if holder else ""
                    raise OutputLocked(
                        f"{self.output} is being written by another mspt-face run{who}; "
                        "wait for it to finish or choose another -o"
                    ) from err
                raise OutputError(f"cannot lock {self.output} ({self.path}): {err.strerror or err}") from err
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                continue
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
            self._fd = fd
            return self
        raise OutputError(f"cannot lock {self.output}: lock file {self.path} keeps changing")

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            os.unlink(self.path)  # before unlocking: a waiter re-checks the inode and retries
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> "OutputLock":
        self.acquire()
        # We own the name now: temporary files of it are left-overs of a killed run.
        for p in clean_stale_temps(self.output.parent, self.output.name):
            logger.info("removed %s, left by an interrupted run", p)
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def fallback_candidates(output: Path) -> List[Path]:
    """Where rows go when ``output`` cannot be written: temp folder, home, working folder."""
    name = f"{Path(output).stem}.unsaved-{os.getpid()}{Path(output).suffix}"
    folders = [Path(tempfile.gettempdir()), Path.home(), Path.cwd()]
    out: List[Path] = []
    for f in folders:
        p = f / name
        if p not in out and path_key(str(p)) != path_key(str(output)):
            out.append(p)
    return out


def save_rows(rows: Sequence[Row], output: Path) -> Optional[Path]:
    """Write ``rows`` to ``output``; on failure to a fallback file (returned) or, last, to stdout.

    Returns ``None`` when ``output`` was written, else where the rows are (``Path('-')`` for stdout).
    """
    try:
        write_results(rows, output)
        return None
    except OSError as err:
        first = err
    for candidate in fallback_candidates(output):
        try:
            write_results(rows, candidate)
        except OSError:
            continue
        logger.error("cannot write %s (%s); the %d row(s) were saved to %s instead",
                     output, first.strerror or first, len(rows), candidate)
        return candidate
    logger.error("cannot write %s (%s) nor any fallback file; the %d row(s) follow on standard output",
                 output, first.strerror or first, len(rows))
    sys.stdout.write(results_text(rows, output_format(output)))
    sys.stdout.flush()
    return Path("-")
