"""First preload module of the scoring DataLoader forkserver (standard library only).

Imported before anything heavy, it asks Linux to SIGKILL the forkserver when the scoring
process dies (``PR_SET_PDEATHSIG``), ``kill -9`` included, even while the forkserver is still
importing torch: otherwise it notices its parent's death only after its preload. Workers
forked from it follow it (``mspt_pyiqa.scoring.lifeline.bind_to_parent``). No effect
elsewhere than Linux.
"""
import ctypes
import ctypes.util
import signal
import sys

if sys.platform.startswith("linux"):
    try:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        _libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
