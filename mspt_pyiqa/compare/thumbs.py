"""Small JPEG thumbnails for the HTML report: inline ``data:`` URIs or files in a folder beside it.

A thumbnail is the scored region (the ``box`` of the score row when it is not the whole
image; otherwise the whole upright image) reduced so its long side is ``size`` px, JPEG
quality 80: about 2-4 kB at 96 px. Decoding goes through :func:`mspt_pyiqa.imageio.load_image`
(EXIF orientation, CMYK / 16-bit / alpha handled, decompression-bomb guard); a file that
cannot be read gets no thumbnail (``None``), its row still shows its status.

Folder thumbnails are named by a hash of (path, size, mtime, box, thumbnail size), so a
rerun reuses them.
"""
from __future__ import annotations

import base64
import hashlib
import io
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

from PIL import Image

from mspt_pyiqa.utils.io import atomic_write_bytes

Request = Tuple[str, str]  # (image path, box "x,y,w,h" or "")


def _jpeg(path: str, box: str, size: int) -> Optional[bytes]:
    from mspt_pyiqa.imageio import ImageLoadError, load_image

    try:
        loaded = load_image(path, min_side=1, max_side=max(4 * size, 1024))
    except (ImageLoadError, OSError, ValueError):
        return None
    img = Image.fromarray(loaded.rgb)
    if box:
        try:
            x, y, w, h = (float(v) for v in box.split(","))
        except ValueError:
            x = y = w = h = 0.0
        scale = max(img.size) / max(max(loaded.source_size), 1)  # the reduction load_image applied
        if w > 0 and h > 0 and (round(w * scale), round(h * scale)) != img.size:
            img = img.crop((int(x * scale), int(y * scale), int((x + w) * scale), int((y + h) * scale)))
    img.thumbnail((size, size), Image.BILINEAR, reducing_gap=2.0)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=80, optimize=True)
    return buf.getvalue()


def _name(path: str, box: str, size: int) -> str:
    try:
        st = os.stat(path)
        stamp = f"{st.st_size}:{st.st_mtime_ns}"
    except OSError:
        stamp = "missing"
    digest = hashlib.sha1(f"{os.path.abspath(path)}|{stamp}|{box}|{size}".encode("utf-8")).hexdigest()[:20]
    return f"{digest}.jpg"


def make_thumbnails(
    requests: Sequence[Request],
    mode: str,
    folder: Optional[Path] = None,
    size: int = 96,
    workers: int = 2,
) -> List[Optional[str]]:
    """``src`` strings for ``<img>`` (same order as ``requests``), ``None`` where there is no thumbnail.

    ``mode``: ``inline`` (``data:image/jpeg;base64,...``), ``folder`` (files written to
    ``folder``; the returned ``src`` is ``<folder name>/<file>``, relative to the page which
    lives beside the folder) or ``none`` (all ``None``).
    """
    if mode == "none":
        return [None] * len(requests)
    if mode not in ("inline", "folder"):
        raise ValueError(f"thumbnail mode must be inline, folder or none, not {mode!r}")
    if mode == "folder":
        if folder is None:
            raise ValueError("folder thumbnails need a folder")
        folder.mkdir(parents=True, exist_ok=True)

    def one(req: Request) -> Optional[str]:
        path, box = req
        if mode == "folder":
            name = _name(path, box, size)
            target = folder / name
            if not target.is_file():
                data = _jpeg(path, box, size)
                if data is None:
                    return None
                atomic_write_bytes(target, data)
            return f"{folder.name}/{name}"
        data = _jpeg(path, box, size)
        return None if data is None else "data:image/jpeg;base64," + base64.b64encode(data).decode("ascii")

    unique = list(dict.fromkeys(requests))
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        srcs = dict(zip(unique, pool.map(one, unique)))
    return [srcs[r] for r in requests]
