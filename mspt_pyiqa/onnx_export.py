"""Export MSPT to ONNX for onnxruntime / edge deployment.

What the graph contains: ImageNet normalisation + MobileNetV3-Small + regression head.
What it does not: the antialiased short-side resize. ``F.interpolate(..., antialias=True)``
has no ONNX operator (ONNX ``Resize`` does not antialias when downscaling), so the resize
stays in the pre-processing shared by both backends (:mod:`mspt_pyiqa.scoring.preprocess`).

Graph contract:

* input ``input``: float32 ``(N, 3, H, W)``, RGB in [0, 1], already resized so that
  ``min(H, W) == input_size`` (stored in the model metadata as ``mspt_input_size``);
  N, H and W are dynamic axes (the network is fully convolutional with global pooling;
  scores are only meaningful at the trained short side);
* output ``score``: float32 ``(N, 1)``, MSPT quality, higher is better.

Exported with the TorchScript exporter (``dynamo=False``): it needs no extra package
(the torch.export-based one needs ``onnxscript``) and handles the dynamic axes.
"""
from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import Dict

import onnx
import torch
from torch import nn

from mspt_pyiqa.utils.io import atomic_write_bytes
from mspt_pyiqa.weights import release_input_size

logger = logging.getLogger(__name__)

DEFAULT_OPSET = 17
INPUT_NAME = "input"
OUTPUT_NAME = "score"


class _NormalisedNet(nn.Module):
    """MSPTNet minus its resize: ``(N, 3, H, W)`` in [0, 1] at the input size -> ``(N, 1)``."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.model = net.model
        self.register_buffer("mean", net.mean.detach().clone())
        self.register_buffer("std", net.std.detach().clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model((x - self.mean) / self.std)


def export_onnx(net: nn.Module, path: Path, opset: int = DEFAULT_OPSET, metadata: Dict[str, str] = None) -> Path:
    """Write ``net`` (an eval-mode :class:`~mspt_pyiqa.archs.MSPTNet`) to ``path`` atomically and check it."""
    path = Path(path)
    size = int(net.test_img_size or release_input_size())
    wrapper = _NormalisedNet(net).eval().cpu()
    buf = io.BytesIO()
    with torch.no_grad():
        torch.onnx.export(
            wrapper,
            (torch.rand(1, 3, size, size),),
            buf,
            dynamo=False,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: {0: "batch", 2: "height", 3: "width"}, OUTPUT_NAME: {0: "batch"}},
            opset_version=opset,
        )
    model = onnx.load_from_string(buf.getvalue())
    meta = {
        "mspt_input_size": str(size),
        "mspt_resize_mode": str(getattr(net, "resize_mode", "bilinear")),
        "mspt_backbone": str(getattr(net, "backbone_name", "")),
        "mspt_score_direction": "higher is better",
        "mspt_input": "RGB float32 in [0, 1], short side resized (antialiased) to mspt_input_size",
    }
    meta.update(metadata or {})
    for k, v in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = k, v
    onnx.checker.check_model(model)
    atomic_write_bytes(path, model.SerializeToString())
    logger.info("exported ONNX model to %s (input short side %d px, dynamic batch/height/width)", path, size)
    return path


def read_metadata(path: Path) -> Dict[str, str]:
    """``metadata_props`` of an exported model."""
    model = onnx.load(str(path), load_external_data=False)
    return {p.key: p.value for p in model.metadata_props}
