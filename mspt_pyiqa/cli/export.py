"""``mspt-face export OUT.onnx``: MSPT as an ONNX graph (see :mod:`mspt_pyiqa.onnx_export`).

The graph takes ``(N, 3, H, W)`` RGB in [0, 1] already resized so that the short side is
the input size stored in its metadata (``mspt_input_size``); batch, height and width are
dynamic. The antialiased resize is not in the graph (no ONNX operator does it); use the
same resize as ``mspt_pyiqa.preprocess.resize_to_test_size`` (``mspt-face score --backend
onnxruntime`` does).

A model with a detail view (``--detail-size``, or the checkpoint's / catalog's) gets a second
input ``detail``: the centre D x D square of each image at its own resolution, ``(N, 3, D, D)``
(``mspt_pyiqa.preprocess.detail_view``); D is stored as ``mspt_detail_size``.

A model that never enlarges (``--no-enlarge``, or the checkpoint's / catalog's ``enlarge: false``)
is stored with ``mspt_enlarge = "0"``: its input size is a maximum, smaller images are fed at their
own size (and as their own detail view, below D); ``detail`` then has dynamic height and width.
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
    p.add_argument("--detail-size", type=int,
                   help="side in px of the detail view: the centre square of each image at its own resolution, "
                        "a second input of the graph (default: from the checkpoint or catalog; most releases have none)")
    p.add_argument("--no-enlarge", dest="enlarge", action="store_false", default=None,
                   help="never enlarge: treat the input size as a maximum, so an image smaller than it is scored at its own "
                        "size (with a detail view, both views then the same image); larger images are reduced as usual "
                        "(default: from the checkpoint or catalog; most releases enlarge)")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset (default: %(default)s)")
    p.add_argument("--no-check", action="store_true", help="skip the onnxruntime-vs-torch check after export")


def run(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from mspt_pyiqa.onnx_export import export_onnx
    from mspt_pyiqa.scoring.backends import OnnxBackend
    from mspt_pyiqa.scoring.model import build_net
    from mspt_pyiqa.weights import WeightsError

    if args.detail_size is not None and not args.detail_size >= 16:
        logger.error("--detail-size %s: must be at least 16 px", args.detail_size)
        return 2
    try:
        net = build_net(args.weights, args.input_size, args.detail_size, args.enlarge)
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
    detail = net.detail_size
    if not args.no_check:
        # Quick self-check on random input of two shapes (batch 2, square and landscape).
        gen = torch.Generator().manual_seed(0)
        worst = 0.0
        ort_backend = OnnxBackend(path)
        cases = [((2, 3, size, size), False), ((2, 3, size, size + size // 3), False)]
        if not net.enlarge:  # a small image at its own size, below D its own detail view
            small = max(1, min(size, detail or size) * 3 // 4)
            cases.append(((2, 3, small, small + 7), True))
        for shape, own_detail in cases:
            x = torch.rand(shape, generator=gen)
            d = None if detail is None else x if own_detail else torch.rand((shape[0], 3, detail, detail), generator=gen)
            with torch.inference_mode():
                ref = net(x, detail=d).view(-1).numpy()
            got = ort_backend(x.numpy()) if d is None else ort_backend(x.numpy(), d.numpy())
            worst = max(worst, float(np.abs(got - ref).max()))
        print(f"max |onnxruntime - torch| on random inputs: {worst:.2e}")
    extra = "" if detail is None else f"; second input 'detail': the centre {detail}x{detail} px at full resolution"
    side = f"short side {size} px" if net.enlarge else f"short side {size} px at most, smaller images at their own size"
    print(f"wrote {path} (input: RGB [0,1], {side}; dynamic batch, height, width{extra})")
    return 0
