"""The one resize policy shared by the network, the datasets and the ONNX export.

Policy: the **short side** of the image is resized to ``test_img_size`` pixels, keeping the
aspect ratio (pyiqa's own ``test_img_size`` convention, e.g. topiq_nr-face), with
antialiasing when downsampling; no crop. Face crops are square, so a 512x512 face becomes
``test_img_size`` x ``test_img_size``. Sizes are rounded to the nearest pixel.

**Never enlarge**: a release with ``enlarge: false`` treats its input size as a maximum: a
smaller image is scored at its own size (no resize at all), a larger one is reduced as above, so
the short side becomes ``min(test_img_size, short side)`` (:func:`target_short_side`); with a
detail view, both views of an image whose short side is below ``detail_size`` are then the same
image (the resized view), so it gets the one-view score. Why: a 320 px release that enlarges
224 px face crops to 320 px loses their JPEG / noise order, which the same weights keep when they
score the crops at their own 224 px. ``enlarge: true`` (the default) is the policy above, that of
every release before the field.

Two implementations of the same policy:

* :func:`resize_to_test_size`: torch tensors ``(N, C, H, W)`` (``F.interpolate`` with
  ``antialias=True``), what ``MSPTNet.forward`` applies;
* :func:`resize_array_to_test_size`: a NumPy image ``(H, W, C)`` through Pillow's
  ``BILINEAR`` resize of 32-bit float planes, for the onnxruntime path that never imports
  torch. Both use the same triangle filter widened by the scale factor; they agree to within
  :data:`NUMPY_RESIZE_TOLERANCE` (max absolute difference on [0, 1] images, float32 rounding;
  checked in ``tests/test_first_use_resize.py`` on photos and noise).

**Detail view** (releases whose metadata sets ``detail_size``): besides the whole image resized
to ``test_img_size``, the network sees the centre ``detail_size`` x ``detail_size`` square of
the image **at its own resolution**, its corner on a 16 px grid (:func:`detail_box`) (:func:`detail_view`; an image whose short side is below
``detail_size`` is first enlarged to it by the same resize; with ``enlarge: false`` it is not, see
above). Why: a photo with a 1,024 px short
side resized to 320 px has its pixel noise averaged down about threefold (sigma 5/255 becomes
about 1.6) and its JPEG blocks shrunk below a pixel; the resized view cannot see damage that
the file plainly shows, while the crop sees it at 1:1. Blur and low resolution are judged on
the whole face, which the resized view keeps. :func:`detail_view_array` is the NumPy twin.

This module imports torch only inside the torch functions.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Optional, Tuple

import numpy as np

if TYPE_CHECKING:
    import torch

# Max |numpy - torch| of the two implementations on [0, 1] images (measured worst case ~1.4e-5 on noise).
NUMPY_RESIZE_TOLERANCE = 5e-5


def target_size(height: int, width: int, short_side: int) -> Tuple[int, int]:
    """Output ``(H, W)`` for an input of ``(height, width)`` whose short side becomes ``short_side``."""
    if height <= width:
        return short_side, max(1, int(round(width * short_side / height)))
    return max(1, int(round(height * short_side / width))), short_side


def target_short_side(height: int, width: int, test_img_size: int, enlarge: bool = True) -> int:
    """The short side an image of ``(height, width)`` is resized to: ``test_img_size``, or with
    ``enlarge=False`` (input size as a maximum) ``min(test_img_size, short side)``."""
    size = int(test_img_size)
    return size if enlarge else min(size, int(min(height, width)))


def resize_to_test_size(x: "torch.Tensor", test_img_size: Optional[int], mode: str = "bilinear",
                        enlarge: bool = True) -> "torch.Tensor":
    """Resize ``(N, C, H, W)`` so that ``min(H, W) == test_img_size``; no-op when it already is.

    ``enlarge=False``: an input whose short side is at or below ``test_img_size`` is returned as
    is (:func:`target_short_side`). Values keep their range up to interpolation overshoot
    (bicubic can leave [0, 1] slightly).
    """
    if test_img_size is None:
        return x
    import torch.nn.functional as F

    h, w = int(x.shape[-2]), int(x.shape[-1])
    size = target_size(h, w, target_short_side(h, w, test_img_size, enlarge))
    if size == (h, w):
        return x
    return F.interpolate(x, size=size, mode=mode, align_corners=False, antialias=True)


def resize_array_to_test_size(image: np.ndarray, test_img_size: Optional[int], mode: str = "bilinear",
                              enlarge: bool = True) -> np.ndarray:
    """NumPy twin of :func:`resize_to_test_size` for one image.

    Args:
        image: ``(H, W, C)`` float32, values in [0, 1] (any float range works).
        test_img_size: target short side; ``None`` or equal to the short side: returned as is.
        mode: only ``"bilinear"`` (Pillow's bicubic kernel differs from torch's).
        enlarge: ``False``: a short side at or below ``test_img_size`` is kept (returned as is).

    Returns:
        ``(h, w, C)`` float32 with ``min(h, w) == test_img_size`` (``enlarge=False``: at most that).
    """
    if mode != "bilinear":
        raise ValueError(f"the NumPy resize implements bilinear only, not {mode!r}; use the torch backend")
    if test_img_size is None:
        return image
    from PIL import Image

    h, w = image.shape[:2]
    th, tw = target_size(h, w, target_short_side(h, w, test_img_size, enlarge))
    if (th, tw) == (h, w):
        return image
    planes = [
        np.asarray(Image.fromarray(np.ascontiguousarray(image[:, :, c], dtype=np.float32)).resize((tw, th), Image.BILINEAR))
        for c in range(image.shape[2])
    ]
    return np.stack(planes, axis=2)


#: The detail view's top-left corner is snapped down to a multiple of this many px. JPEG codes
#: 8 x 8 blocks (16 x 16 with 4:2:0 chroma) and WebP 16 x 16 macroblocks from the file's origin;
#: on a 16 px grid the block edges fall at the same place in every crop, where the network's
#: strides see them. Measured on the native-scale yardstick's real-world photos (no retraining):
#: the clean photo scored above its quality-40 JPEG for 0.88 of them with the exact centre, 1.00
#: snapped to 16 px, 0.79-0.84 with the grid shifted by 1 or 3 px (research/experiment_log.md).
DETAIL_GRID = 16


def detail_box(height: int, width: int, size: int) -> Tuple[int, int, int, int]:
    """``(top, left, h, w)`` of the ``size`` square in an image of ``(height, width)``: the centred
    square with its corner snapped down to a multiple of :data:`DETAIL_GRID` px.

    The image must already have ``min(height, width) >= size`` (enlarge it first).
    """
    if min(height, width) < size:
        raise ValueError(f"detail view of {size} px needs a short side >= {size}, got {height}x{width}")
    top, left = (height - size) // 2, (width - size) // 2
    return top - top % DETAIL_GRID, left - left % DETAIL_GRID, size, size


def detail_view(x: "torch.Tensor", size: int, mode: str = "bilinear", enlarge: bool = True,
                test_img_size: Optional[int] = None) -> "torch.Tensor":
    """Centre ``size`` x ``size`` crop of ``(N, C, H, W)`` at the image's own resolution.

    An input whose short side is below ``size`` is first enlarged to it with
    :func:`resize_to_test_size` (so a small face is seen whole). Values keep their range.
    Returns ``(N, C, size, size)``.

    ``enlarge=False`` (input size as a maximum): an input whose short side is below ``size`` is
    not enlarged; its detail view is its resized view, ``resize_to_test_size(x, test_img_size,
    enlarge=False)`` (smaller than ``size``), so both views agree.
    """
    if int(size) < 1:
        raise ValueError(f"detail_size must be a positive integer, got {size!r}")
    size = int(size)
    if min(x.shape[-2:]) < size:
        if not enlarge:
            return resize_to_test_size(x, test_img_size, mode=mode, enlarge=False)
        x = resize_to_test_size(x, size, mode=mode)
    top, left, h, w = detail_box(int(x.shape[-2]), int(x.shape[-1]), size)
    return x[..., top:top + h, left:left + w]


def detail_view_array(image: np.ndarray, size: int, mode: str = "bilinear", enlarge: bool = True,
                      test_img_size: Optional[int] = None) -> np.ndarray:
    """NumPy twin of :func:`detail_view` for one ``(H, W, C)`` float32 image; returns ``(size, size, C)``
    (``enlarge=False`` and a short side below ``size``: the resized view, as :func:`detail_view`)."""
    if int(size) < 1:
        raise ValueError(f"detail_size must be a positive integer, got {size!r}")
    size = int(size)
    if min(image.shape[:2]) < size:
        if not enlarge:
            return resize_array_to_test_size(image, test_img_size, mode=mode, enlarge=False)
        image = resize_array_to_test_size(image, size, mode=mode)
    top, left, h, w = detail_box(int(image.shape[0]), int(image.shape[1]), size)
    return image[top:top + h, left:left + w]
