"""The NumPy/Pillow resize of the onnxruntime path equals the torch resize MSPTNet applies."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from mspt_pyiqa.preprocess import NUMPY_RESIZE_TOLERANCE, resize_array_to_test_size, resize_to_test_size


def _torch_resize(img: np.ndarray, size: int) -> np.ndarray:
    x = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))[None]
    return resize_to_test_size(x, size)[0].numpy().transpose(1, 2, 0)


@pytest.mark.parametrize("h, w, size", [(512, 512, 224), (350, 350, 224), (340, 300, 224), (100, 120, 224),
                                        (427, 640, 224), (224, 224, 224), (1000, 700, 448), (33, 47, 448)])
def test_numpy_resize_matches_torch_on_noise(h: int, w: int, size: int) -> None:
    img = np.random.default_rng(h * w).random((h, w, 3), dtype=np.float32)
    a, b = _torch_resize(img, size), resize_array_to_test_size(img, size)
    assert a.shape == b.shape and min(b.shape[:2]) == size and b.dtype == np.float32
    assert float(np.abs(a - b).max()) < NUMPY_RESIZE_TOLERANCE


def test_numpy_resize_matches_torch_on_photos() -> None:
    from skimage import data

    for photo in (data.astronaut(), data.coffee(), data.rocket()):
        img = photo.astype(np.float32) / 255.0
        for size in (224, 448):
            assert float(np.abs(_torch_resize(img, size) - resize_array_to_test_size(img, size)).max()) < NUMPY_RESIZE_TOLERANCE


def test_numpy_resize_edge_cases() -> None:
    img = np.zeros((64, 80, 3), np.float32)
    assert resize_array_to_test_size(img, None) is img and resize_array_to_test_size(img, 64) is img
    with pytest.raises(ValueError, match="bilinear only, not 'bicubic'"):
        resize_array_to_test_size(img, 32, mode="bicubic")
