"""Provenance of a run folder: the commit of the code that made it."""
from __future__ import annotations

import subprocess
from pathlib import Path


def git_commit(start: Path) -> str:
    """Commit hash of the repository holding ``start`` (``-dirty`` if modified), or ``unknown``."""
    try:
        cwd = str(Path(start).resolve().parent)
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd, capture_output=True, text=True, timeout=10).stdout.strip()
        return head + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
