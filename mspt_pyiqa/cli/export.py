"""``mspt-face export OUT.onnx``: MSPT as an ONNX graph (see :mod:`mspt_pyiqa.onnx_export`).

The graph takes ``(N, 3, H, W)`` RGB in [0, 1] already resized so that the short side is
the input size stored in its metadata (``mspt_input_size``); batch, height and width are
dynamic. The antialiased resize is not in the graph (no ONNX operator does it); use the
same resize as ``mspt_pyiqa.preprocess.resize_to_test_size`` (``mspt-face score --backend
onnxruntime`` does).
"""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

logger = logging.getLogger("mspt_pyiqa.export")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("output", help="ONNX file to write")
    p.add_argument("--weights", help="MSPT checkpoint (default: the released weights of the catalog)")
    p.add_argument("--input-size", type=int, help="short side (default: from the checkpoint or catalog)")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset (default: %(default)s)")
    p.add_argument("--no-check", action="store_true", help="skip the onnxruntime-vs-torch check after export")


def run(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from mspt_pyiqa.onnx_export import export_onnx
    from mspt_pyiqa.scoring.backends import OnnxBackend
    from mspt_pyiqa.scoring.model import build_net
    from mspt_pyiqa.weights import WeightsError

    try:
        net = build_net(args.weights, args.input_size)
    except (WeightsError, ValueError) as err:
        logger.error("%s", err)
        return 2
    from mspt_pyiqa.reference import ReferenceError, onnx_metadata
    from mspt_pyiqa.scoring.model import default_release

    try:  # released weights carry their name and score reference into the ONNX metadata
        meta = {} if args.weights else onnx_metadata(default_release())
    except ReferenceError as err:
        logger.warning("exporting without a score reference: %s", err)
        meta = {}
    path = export_onnx(net, Path(args.output), opset=args.opset, metadata=meta)
    size = int(net.test_img_size)
    if not args.no_check:
        # Quick self-check on random input of two shapes (batch 2, square and landscape).
        gen = torch.Generator().manual_seed(0)
        worst = 0.0
        ort_backend = OnnxBackend(path)
        for shape in ((2, 3, size, size), (2, 3, size, size + size // 3)):
            x = torch.rand(shape, generator=gen)
            with torch.inference_mode():
                ref = net(x).view(-1).numpy()
            worst = max(worst, float(np.abs(ort_backend(x) - ref).max()))
        print(f"max |onnxruntime - torch| on random inputs: {worst:.2e}")
    print(f"wrote {path} (input: RGB [0,1], short side {size} px; dynamic batch, height, width)")
    return 0
