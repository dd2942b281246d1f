"""Open a report page in headless Chromium (Playwright driving the system ``chromium``), offline.

For tests and the README screenshot; needs the ``playwright`` package (the ``test`` extra) and a
Chromium executable (Debian package ``chromium``; ``$MSPT_CHROMIUM`` points elsewhere). No
browser download: Playwright starts the given executable. Every request the page makes is
recorded so callers can check that none leaves ``file:`` / ``data:``.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator, List, Optional, Tuple

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def find_chromium() -> Optional[str]:
    """Path of a Chromium executable: ``$MSPT_CHROMIUM``, then ``chromium`` / ``chromium-browser`` on PATH."""
    env = os.environ.get("MSPT_CHROMIUM")
    if env and os.access(env, os.X_OK):
        return env
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


def unavailable_reason() -> Optional[str]:
    """Why a headless browser cannot run here (None when it can)."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install 'mspt-pyiqa[test]')"
    if find_chromium() is None:
        return "no Chromium executable (apt-get install chromium, or set MSPT_CHROMIUM)"
    return None


@contextlib.contextmanager
def open_page(page_file: Path, width: int = 1200, height: int = 900) -> Iterator[Tuple[Any, List[str], List[str]]]:
    """``(page, requests, errors)``: ``page_file`` loaded from disk and its script finished.

    ``requests``: every URL the page asked for; ``errors``: console errors and uncaught exceptions.
    """
    from playwright.sync_api import sync_playwright

    exe = find_chromium()
    if exe is None:
        raise RuntimeError(unavailable_reason())
    with tempfile.TemporaryDirectory(prefix="mspt_chromium_") as profile, sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(profile, executable_path=exe, args=CHROMIUM_ARGS,
                                                     headless=True, viewport={"width": width, "height": height})
        try:
            page = ctx.new_page()
            requests: List[str] = []
            errors: List[str] = []
            page.on("request", lambda r: requests.append(r.url))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(Path(page_file).resolve().as_uri())
            page.wait_for_selector("body[data-ready='1']", timeout=30000)
            yield page, requests, errors
        finally:
            ctx.close()
