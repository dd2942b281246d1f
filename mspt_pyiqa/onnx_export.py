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

A network with a detail view (``net.detail_size`` D, :func:`mspt_pyiqa.preprocess.detail_view`)
gets a second input ``detail``: float32 ``(N, 3, D, D)``, RGB in [0, 1], the centre D x D square
of each image at its own resolution, its corner on a 16 px grid (``preprocess.detail_box``; cut
before the resize; an image with a short side below D enlarged to D first), dynamic N only; the metadata then holds ``mspt_detail_size``. The graph
averages both views' pooled features before the head, as ``MSPTNet`` does. Without a detail
view the graph has the one input above and no ``mspt_detail_size``.

A network that never enlarges (``net.enlarge`` false, :func:`mspt_pyiqa.preprocess.target_short_side`)
is exported with the metadata ``mspt_enlarge = "0"``: its input size is a maximum, an image whose short
side is at or below it is fed at its own size, and (with a detail view) an image whose short side is
below D gives its resized view as ``detail``, so ``detail`` then has dynamic height and width too.
Without the key (every export before it, and every network that enlarges) images are always resized
to the input size.

Exported with the TorchScript exporter (``dynamo=False``): it needs no extra package
(the torch.export-based one needs ``onnxscript``) and handles the dynamic axes.
"""
from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import Dict, Optional

import onnx
import torch
from torch import nn

from mspt_pyiqa.scoring.backends import ONNX_DETAIL_NAME, ONNX_DETAIL_SIZE_KEY, ONNX_ENLARGE_KEY, ONNX_INPUT_NAME
from mspt_pyiqa.utils.io import atomic_write_bytes
from mspt_pyiqa.weights import release_input_size

logger = logging.getLogger(__name__)

DEFAULT_OPSET = 17
# Input names and the detail-size key: one spelling, shared with the onnxruntime backend that reads them.
INPUT_NAME = ONNX_INPUT_NAME
DETAIL_NAME = ONNX_DETAIL_NAME
OUTPUT_NAME = "score"
DETAIL_SIZE_KEY = ONNX_DETAIL_SIZE_KEY
ENLARGE_KEY = ONNX_ENLARGE_KEY


class _NormalisedNet(nn.Module):
    """MSPTNet minus its resize: ``(N, 3, H, W)`` in [0, 1] at the input size -> ``(N, 1)``."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.model = net.model
        self.register_buffer("mean", net.mean.detach().clone())
        self.register_buffer("std", net.std.detach().clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model((x - self.mean) / self.std)


class _NormalisedDetailNet(_NormalisedNet):
    """MSPTNet with a detail view, minus its resize and crop: ``(x, detail)`` -> ``(N, 1)``.

    ``x``: the resized view; ``detail``: the detail views, both in [0, 1]. Same arithmetic as
    ``MSPTNet.view_features``: the mean of the two views' pooled features, then the head.
    """

    def _pooled(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.forward_head(self.model.forward_features((x - self.mean) / self.std), pre_logits=True)

    def forward(self, x: torch.Tensor, detail: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return self.model.get_classifier()(0.5 * (self._pooled(x) + self._pooled(detail)))


def checked_detail_size(value: object) -> Optional[int]:
    """``value`` as a detail size (positive int) or ``None``; ``ValueError`` saying what is wrong otherwise."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"detail_size must be a positive integer number of pixels or None, got {value!r}")
    return int(value)


def export_onnx(net: nn.Module, path: Path, opset: int = DEFAULT_OPSET, metadata: Dict[str, str] = None) -> Path:
    """Write ``net`` (an eval-mode :class:`~mspt_pyiqa.archs.MSPTNet`) to ``path`` atomically and check it."""
    path = Path(path)
    size = int(net.test_img_size or release_input_size())
    detail = checked_detail_size(getattr(net, "detail_size", None))
    enlarge = getattr(net, "enlarge", True)
    if not isinstance(enlarge, bool):
        raise ValueError(f"enlarge must be True or False, got {enlarge!r}")
    dynamic_axes = {INPUT_NAME: {0: "batch", 2: "height", 3: "width"}, OUTPUT_NAME: {0: "batch"}}
    if detail is None:
        wrapper: nn.Module = _NormalisedNet(net).eval().cpu()
        example = (torch.rand(1, 3, size, size),)
        input_names = [INPUT_NAME]
    else:
        wrapper = _NormalisedDetailNet(net).eval().cpu()
        example = (torch.rand(1, 3, size, size), torch.rand(1, 3, detail, detail))
        input_names = [INPUT_NAME, DETAIL_NAME]
        # A network that never enlarges feeds small images' resized view as their detail view: any size.
        dynamic_axes[DETAIL_NAME] = {0: "batch"} if enlarge else {0: "batch", 2: "detail_height", 3: "detail_width"}
    buf = io.BytesIO()
    with torch.no_grad():
        torch.onnx.export(
            wrapper,
            example,
            buf,
            dynamo=False,
            input_names=input_names,
            output_names=[OUTPUT_NAME],
            dynamic_axes=dynamic_axes,
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
    if not enlarge:  # only then: exports of networks that enlarge stay as they were
        meta[ENLARGE_KEY] = "0"
        meta["mspt_input"] = ("RGB float32 in [0, 1], short side reduced (antialiased) to mspt_input_size when larger; "
                              "an image with a smaller short side at its own size")
    if detail is not None:
        meta[DETAIL_SIZE_KEY] = str(detail)
        meta["mspt_detail_input"] = (f"second input '{DETAIL_NAME}': RGB float32 in [0, 1], the centre {detail}x{detail} "
                                     f"square of the image at its own resolution, corner snapped down to a multiple of 16 px (short side below {detail}: "
                                     + (f"enlarged to {detail} first)" if enlarge else "the same array as 'input')"))
    meta.update(metadata or {})
    for k, v in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = k, v
    onnx.checker.check_model(model)
    atomic_write_bytes(path, model.SerializeToString())
    logger.info("exported ONNX model to %s (input short side %s%d px, dynamic batch/height/width%s)", path,
                "" if enlarge else "at most ", size, "" if detail is None else f"; detail view {detail}x{detail} px")
    return path


def read_metadata(path: Path) -> Dict[str, str]:
    """``metadata_props`` of an exported model."""
    model = onnx.load(str(path), load_external_data=False)
    return {p.key: p.value for p in model.metadata_props}
