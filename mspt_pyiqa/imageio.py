"""Robust image loading for scoring: one function, a clear status for every bad file.

:func:`load_image` returns an RGB ``(H, W, 3)`` uint8 array or raises :class:`ImageLoadError`
whose ``status`` is one of :data:`LOAD_STATUSES` and whose message names the file and the
problem. What it does with unusual files (each case is recorded in ``LoadedImage.notes``):

* EXIF orientation is applied (``ImageOps.exif_transpose``): the image is scored upright;
* grayscale (L, 1) is repeated to RGB; 16-bit grayscale (I;16*, I) is scaled to 8 bits
  (``/ 257``); 16-bit RGB(A) PNGs are reduced to 8 bits by Pillow itself;
* CMYK, YCbCr, LAB, HSV are converted to RGB by Pillow (embedded ICC profiles are ignored);
* palette images are expanded; **alpha (RGBA, LA, transparent palette) is composited on
  white** (a transparent background becomes a white studio background, not black);
* animated / multi-page files: the first frame;
* tiny images (short side < ``min_side``, default 32 px) are refused (``too_small``): there is
  no face detail left to assess;
* a JPEG whose compressed data is damaged but still decodes (libjpeg reports "Corrupt JPEG
  data: ..." and fills the lost blocks) is scored as decoded, status ``ok``, with the note
  ``damaged JPEG data, scored as decoded (...)``: a viewer shows the same picture, and the
  score measures it. A file that ends early or cannot be decoded is ``corrupt``;
* huge images are checked *before* decoding (``max_pixels``, default 2**27 = 134 Mpx, about
  11,585 px square, 400 MB decoded): larger ones are refused (``too_large``), so a
  decompression bomb never allocates. Images over ``max_side`` (when given) are reduced:
  JPEGs are decoded at a reduced DCT scale (``draft``), the rest area-averaged.
"""
from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import sys
import tempfile
import warnings
from pathlib import Path
from typing import List, Optional, Tuple, Union

import cv2
import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

DEFAULT_MIN_SIDE = 32
DEFAULT_MAX_PIXELS = 2**27

LOAD_STATUSES = ("not_found", "not_image", "corrupt", "too_small", "too_large", "unsupported")
_WHITE = 255


class ImageLoadError(Exception):
    """A file that cannot be scored; ``status`` is a short machine-readable kind."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclasses.dataclass
class LoadedImage:
    """Decoded image: ``rgb`` ``(H, W, 3)`` uint8, upright; ``notes`` say what was converted."""

    rgb: np.ndarray
    source_size: Tuple[int, int]  # (width, height) as stored in the file, before any reduction
    notes: List[str]


def _to_rgb8(img: Image.Image, notes: List[str]) -> np.ndarray:
    """Any Pillow mode -> (H, W, 3) uint8 RGB (see the module docstring for the rules)."""
    mode = img.mode
    if mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
        notes.append("palette expanded")
        mode = img.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        arr = np.asarray(img).astype(np.float64)
        arr = np.clip(np.round(arr / 257.0), 0, 255).astype(np.uint8)
        notes.append(f"16-bit grayscale ({mode}) scaled to 8 bits")
        return np.repeat(arr[:, :, None], 3, axis=2)
    if mode == "F":
        arr = np.asarray(img).astype(np.float64)
        if arr.size and np.nanmax(arr) <= 1.0:
            arr = arr * 255.0
        notes.append("float grayscale converted to 8 bits")
        return np.repeat(np.clip(np.nan_to_num(np.round(arr)), 0, 255).astype(np.uint8)[:, :, None], 3, axis=2)
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = np.asarray(img.convert("RGBA")).astype(np.float32)
        alpha = rgba[:, :, 3:4] / 255.0
        if alpha.min() < 1.0:
            notes.append("alpha composited on white")
        rgb = rgba[:, :, :3] * alpha + _WHITE * (1.0 - alpha)
        return np.clip(np.round(rgb), 0, 255).astype(np.uint8)
    if mode in ("1", "L"):
        notes.append("grayscale repeated to RGB")
        return np.repeat(np.asarray(img.convert("L"))[:, :, None], 3, axis=2)
    if mode != "RGB":
        notes.append(f"{mode} converted to RGB")
        img = img.convert("RGB")
    return np.asarray(img)


@contextlib.contextmanager
def _strict_decoding():
    """Decode strictly: pyiqa's AVA dataset module sets ``ImageFile.LOAD_TRUNCATED_IMAGES = True``
    when imported, after which Pillow silently accepts truncated files."""
    old = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        yield
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = old


def _decoder_warnings(data: bytes) -> List[str]:
    """libjpeg's warnings ("Corrupt JPEG data: ...") for a JPEG file's bytes, by a cheap 1/8-scale
    decode with OpenCV whose standard error is captured (Pillow does not report them).

    Lines that are not libjpeg's (another thread logging meanwhile) are written back to stderr.
    """
    buf = np.frombuffer(data, dtype=np.uint8)
    if buf.size == 0:
        return []
    with contextlib.suppress(Exception):
        sys.stderr.flush()
    saved = os.dup(2)
    try:
        with tempfile.TemporaryFile() as cap:
            os.dup2(cap.fileno(), 2)
            try:
                cv2.imdecode(buf, cv2.IMREAD_REDUCED_GRAYSCALE_8)
            finally:
                os.dup2(saved, 2)
            cap.seek(0)
            text = cap.read().decode("utf-8", "replace")
    finally:
        os.close(saved)
    found, other = [], []
    for line in text.splitlines():
        (found if "JPEG" in line or "jpeg" in line else other).append(line.strip())
    if other:
        os.write(2, ("\n".join(other) + "\n").encode())
    return [ln for ln in found if ln]


def load_image(
    path: Union[str, Path],
    min_side: int = DEFAULT_MIN_SIDE,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_side: Optional[int] = None,
) -> LoadedImage:
    """Decode ``path`` to upright RGB uint8; raise :class:`ImageLoadError` with a status otherwise."""
    path = Path(path)
    if not path.exists():
        raise ImageLoadError("not_found", f"{path}: no such file")
    if not path.is_file():
        raise ImageLoadError("not_image", f"{path}: not a regular file")
    notes: List[str] = []
    try:
        with warnings.catch_warnings(), _strict_decoding():
            # Our own max_pixels check below replaces Pillow's bomb warning.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                w, h = img.size
                if w * h > max_pixels:
                    raise ImageLoadError(
                        "too_large",
                        f"{path}: {w}x{h} = {w * h / 1e6:.0f} Mpx exceeds the limit of {max_pixels / 1e6:.0f} Mpx "
                        "(decompression-bomb guard); not decoded",
                    )
                if min(w, h) < min_side:
                    raise ImageLoadError("too_small", f"{path}: {w}x{h} is smaller than {min_side} px on a side")
                if getattr(img, "n_frames", 1) > 1:
                    notes.append("first frame of a multi-frame file")
                if max_side and max(w, h) > max_side and img.format == "JPEG":
                    r = max_side / max(w, h)
                    img.draft(img.mode, (math.ceil(w * r), math.ceil(h * r)))
                img.load()
                orientation = img.getexif().get(0x0112, 1)
                upright = ImageOps.exif_transpose(img)
                if orientation not in (None, 1):
                    notes.append(f"EXIF orientation {orientation} applied")
                rgb = _to_rgb8(upright, notes)
                if img.format == "JPEG":
                    damage = _decoder_warnings(path.read_bytes())
                    if damage:
                        notes.append(f"damaged JPEG data, scored as decoded ({'; '.join(dict.fromkeys(damage))})")
    except ImageLoadError:
        raise
    except Image.DecompressionBombError as err:
        raise ImageLoadError("too_large", f"{path}: {err}") from err
    except UnidentifiedImageError as err:
        raise ImageLoadError("not_image", f"{path}: not an image file Pillow can identify") from err
    except (OSError, SyntaxError, ValueError, EOFError) as err:
        # Truncated or damaged data: "image file is truncated", "broken data stream", ...
        raise ImageLoadError("corrupt", f"{path}: corrupt or truncated image ({err})") from err
    except MemoryError as err:
        raise ImageLoadError("too_large", f"{path}: out of memory while decoding") from err
    if max_side and max(rgb.shape[:2]) > max_side:
        r = max_side / max(rgb.shape[:2])
        size = (max(1, round(rgb.shape[1] * r)), max(1, round(rgb.shape[0] * r)))
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    if (rgb.shape[1], rgb.shape[0]) != (w, h) and rgb.shape[:2] != (w, h):
        notes.append(f"reduced from {w}x{h} to {rgb.shape[1]}x{rgb.shape[0]}")
    return LoadedImage(rgb=np.ascontiguousarray(rgb), source_size=(w, h), notes=notes)


def is_probably_image(path: Union[str, Path]) -> bool:
    """Whether a file name has an image extension (used when expanding folders)."""
    return os.path.splitext(str(path))[1].lower() in IMAGE_EXTENSIONS


IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".jpe", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".ppm", ".pgm", ".pnm", ".jfif"}
)
