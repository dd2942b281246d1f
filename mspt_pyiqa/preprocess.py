"""The one resize policy shared by the network, the datasets and the ONNX export.

Policy: the **short side** of the image is resized to ``test_img_size`` pixels, keeping the
aspect ratio (pyiqa's own ``test_img_size`` convention, e.g. topiq_nr-face), with
antialiasing when downsampling; no crop. Face crops are square, so a 512x512 face becomes
``test_img_size`` x ``test_img_size``. Sizes are rounded to the nearest pixel.
"""
from __future__ import annotations

from typing import Optional, Tuple

import torch
import torch.nn.functional as F


def target_size(height: int, width: int, short_side: int) -> Tuple[int, int]:
    """Output ``(H, W)`` for an input of ``(height, width)`` whose short side becomes ``short_side``."""
    if height <= width:
        return short_side, max(1, int(round(width * short_side / height)))
    return max(1, int(round(height * short_side / width))), short_side


def resize_to_test_size(x: torch.Tensor, test_img_size: Optional[int], mode: str = "bilinear") -> torch.Tensor:
    """Resize ``(N, C, H, W)`` so that ``min(H, W) == test_img_size``; no-op when it already is.

    Values keep their range up to interpolation overshoot (bicubic can leave [0, 1] slightly).
    """
    if test_img_size is None:
        return x
    h, w = x.shape[-2:]
    size = target_size(h, w, int(test_img_size))
    if size == (h, w):
        return x
    return F.interpolate(x, size=size, mode=mode, align_corners=False, antialias=True)
