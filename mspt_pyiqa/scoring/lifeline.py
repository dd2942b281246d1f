"""Signals and process lifetimes of a scoring run.

* :func:`terminate_as_interrupt`: SIGTERM (``timeout``, Slurm, ``docker stop``) and SIGHUP
  (a closed terminal) raise :class:`Terminated`, a ``KeyboardInterrupt``, so the run saves
  what it scored exactly as on Ctrl-C; the exit status is then ``128 + signal``
  (143 for SIGTERM, 129 for SIGHUP; 130 for Ctrl-C).
* :func:`quiet_signals`: block those signals while the results are being saved.
* :func:`bind_to_parent`: called in every DataLoader worker. The worker dies with the
  process that owns the run, ``kill -9`` included: on Linux the kernel sends it SIGKILL when
  its parent (the forkserver) dies (``PR_SET_PDEATHSIG``), and a daemon thread checks twice
  a second that the run's process is still there and kills the worker when it is not.
"""
from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import sys
import threading
import time
from typing import Iterator, List, Optional

HANDLED = (signal.SIGTERM, signal.SIGHUP)
_PR_SET_PDEATHSIG = 1


class Terminated(KeyboardInterrupt):
    """The run was asked to stop by a signal (``signum``); handled like Ctrl-C."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"terminated by {signal.Signals(signum).name}")
        self.signum = signum


def exit_status(err: KeyboardInterrupt) -> int:
    """128 + the signal number: 130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP."""
    return 128 + (err.signum if isinstance(err, Terminated) else int(signal.SIGINT))


_received: List[int] = []


def received_signal() -> Optional[int]:
    """The first stop signal this process received inside :func:`terminate_as_interrupt` (or None).

    When a whole process group is signalled (Slurm, a closed terminal), the workers die too and
    the DataLoader may report that first; the exit status still follows the signal.
    """
    return _received[0] if _received else None


def _raise_terminated(signum: int, _frame: object) -> None:
    _received.append(signum)
    raise Terminated(signum)


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM and SIGHUP raise :class:`Terminated` in the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {s: signal.signal(s, _raise_terminated) for s in HANDLED}
    _received.clear()
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


@contextlib.contextmanager
def quiet_signals() -> Iterator[None]:
    """Hold SIGINT, SIGTERM and SIGHUP back (delivered after the block) while results are saved."""
    sigs = {signal.SIGINT, *HANDLED}
    try:
        old = signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
    except (AttributeError, OSError, ValueError):
        yield
        return
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _set_pdeathsig(sig: int = signal.SIGKILL) -> bool:
    """Ask Linux to send ``sig`` to this process when its parent dies (False elsewhere)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _start_time(pid: int) -> Optional[str]:
    """Start time of ``pid`` from /proc (tells a live process from a new one with a reused id)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            data = fh.read()
        fields = data[data.rindex(b")") + 2:].split()
        return None if fields[0] == b"Z" else fields[19].decode()
    except (OSError, ValueError, IndexError):
        return None


def alive(pid: int, start: Optional[str] = None) -> bool:
    """Whether ``pid`` runs (and, given its start time, is still the same process); zombies are dead."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    if os.path.isdir("/proc"):
        now = _start_time(pid)
        return now is not None and (start is None or now == start)
    return True


def _watch(owner: int, start: Optional[str], period_s: float) -> None:
    while alive(owner, start):
        time.sleep(period_s)
    os.kill(os.getpid(), signal.SIGKILL)


def bind_to_parent(owner_pid: int, period_s: float = 0.5) -> None:
    """Make this (worker) process die when ``owner_pid`` or its own parent dies (see module doc)."""
    parent = os.getppid()
    _set_pdeathsig(signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os.kill(os.getpid(), signal.SIGKILL)
    start = _start_time(owner_pid)
    threading.Thread(target=_watch, args=(owner_pid, start, period_s), daemon=True, name="mspt-lifeline").start()
