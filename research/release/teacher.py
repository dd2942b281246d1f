"""The release trainer's teacher: :class:`~mspt_pyiqa.archs.teacher_arch.MobileNetV2IQA` with the
``(score, features)`` output its code expects (same weights layout, so its ``teacher.pth`` files load)."""
from __future__ import annotations

from typing import Tuple

import torch

from mspt_pyiqa.archs.teacher_arch import FEATURE_DIM, MobileNetV2IQA, fetch_mobilenet_v2_imagenet

__all__ = ["FEATURE_DIM", "MobileNetV2Teacher", "fetch_mobilenet_v2_imagenet"]


class MobileNetV2Teacher(MobileNetV2IQA):
    """``MobileNetV2Teacher(weights_path, split_block)``; ``forward(x) -> (score (N, 1), features (N, 1280))``."""

    def __init__(self, weights_path=None, split_block: int = 14) -> None:
        super().__init__(imagenet_weights=str(weights_path) if weights_path is not None else None, split_block=split_block)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:  # type: ignore[override]
        return self.upper(self.lower(x))
