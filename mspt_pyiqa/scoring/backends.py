"""Inference backends: a batch ``(N, 3, H, W)`` float32 NumPy array in [0, 1] (already
resized) -> ``(N,)`` float32 scores, higher is better.

Both take exactly the arrays made by :mod:`mspt_pyiqa.scoring.preprocess`; the torch one
runs MSPTNet (whose own resize is then a no-op), the onnxruntime one the exported graph and
imports neither torch nor timm nor pyiqa.

A model with a detail view (``detail_size`` not ``None``: the release's, the checkpoint's or
the ONNX metadata's ``mspt_detail_size``) is called as ``backend(x, detail)``, ``detail`` the
detail views ``(N, 3, D, D)`` cut from the full-resolution images (with ``enlarge`` false, images
smaller than D give ``x`` itself)
(:func:`mspt_pyiqa.scoring.preprocess.to_detail_input`); without them it refuses to score,
since cutting them from the already resized ``x`` would give other scores.
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import numpy as np

from mspt_pyiqa.reference import ONNX_METADATA_KEY, Reference, ReferenceError

if TYPE_CHECKING:
    import torch

logger = logging.getLogger(__name__)

#: Names of the ONNX graph's inputs (:mod:`mspt_pyiqa.onnx_export`, not imported here: it needs torch).
ONNX_INPUT_NAME = "input"
ONNX_DETAIL_NAME = "detail"
ONNX_DETAIL_SIZE_KEY = "mspt_detail_size"
#: "0": the input size is a maximum (smaller images at their own size); "1" or absent: every image resized to it.
ONNX_ENLARGE_KEY = "mspt_enlarge"


def _check_detail(detail_size: Optional[int], x: np.ndarray, detail: Optional[np.ndarray], enlarge: bool = True) -> None:
    """``ValueError`` when ``detail`` does not fit the model (missing, unexpected or the wrong shape).

    ``enlarge=False``: detail views of ``x``'s own shape are accepted too (an image whose short side
    is below ``detail_size`` has its resized view as its detail view, :func:`mspt_pyiqa.preprocess.detail_view`).
    """
    if detail_size is None:
        if detail is not None:
            raise ValueError("this model has no detail view; call it without detail views")
        return
    if detail is None:
        raise ValueError(f"this model has a {detail_size} px detail view: give the detail views of the "
                         "full-resolution images (mspt_pyiqa.scoring.preprocess.to_detail_input)")
    want = (x.shape[0], x.shape[1], detail_size, detail_size)
    if tuple(detail.shape) == want:
        return
    if not enlarge and tuple(detail.shape) == tuple(x.shape) and min(x.shape[2:]) < detail_size:
        return
    also = "" if enlarge else f" or {tuple(x.shape)} (images smaller than {detail_size} px)"
    raise ValueError(f"detail views of shape {tuple(detail.shape)}, expected {want}{also}")


class TorchBackend:
    """MSPTNet in eval mode under ``torch.inference_mode``."""

    name = "torch"

    def __init__(self, net: "torch.nn.Module", device: str = "cpu", reference: Optional["Reference"] = None) -> None:
        import torch

        self.reference = reference  # what scores mean for this release (None: unknown, e.g. own weights)

        self.device = torch.device(device)
        self.net = net.eval().to(self.device)
        self.input_size = int(net.test_img_size)
        self.resize_mode = str(net.resize_mode)
        self.detail_size: Optional[int] = getattr(net, "detail_size", None)
        self.enlarge: bool = bool(getattr(net, "enlarge", True))

    def __call__(self, x: np.ndarray, detail: Optional[np.ndarray] = None) -> np.ndarray:
        import torch

        _check_detail(self.detail_size, x, detail, self.enlarge)
        with torch.inference_mode():
            t = torch.from_numpy(np.ascontiguousarray(x)).to(self.device)
            if detail is None:
                out = self.net(t)
            else:
                out = self.net(t, detail=torch.from_numpy(np.ascontiguousarray(detail)).to(self.device))
            return out.float().view(-1).cpu().numpy()


class OnnxBackend:
    """An exported model (:mod:`mspt_pyiqa.onnx_export`) in an onnxruntime session."""

    name = "onnxruntime"

    def __init__(self, path: Path, device: str = "cpu", threads: Optional[int] = None) -> None:
        try:
            import onnxruntime as ort
        except ImportError as err:
            raise ValueError("--backend onnxruntime needs onnxruntime: pip install 'mspt-pyiqa[onnx]'") from err

        opts = ort.SessionOptions()
        # Threads: as asked, else $OMP_NUM_THREADS (as torch would), else onnxruntime's own choice (0).
        opts.intra_op_num_threads = int(threads or os.environ.get("OMP_NUM_THREADS") or 0)
        opts.inter_op_num_threads = 1
        providers = ["CPUExecutionProvider"]
        if str(device).startswith("cuda"):
            if "CUDAExecutionProvider" not in ort.get_available_providers():
                raise ValueError("--device cuda with --backend onnxruntime needs onnxruntime-gpu")
            providers.insert(0, "CUDAExecutionProvider")
        if not Path(path).is_file():
            raise ValueError(f"ONNX model {path} does not exist")
        try:
            self.session = ort.InferenceSession(str(path), sess_options=opts, providers=providers)
        except Exception as err:  # onnxruntime's own error types (InvalidProtobuf, Fail, ...): one clear line
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise ValueError(f"{path}: not a usable ONNX model ({type(err).__name__}: {first})") from err
        # The export's metadata (mspt_pyiqa.onnx_export), read through the session: no onnx import.
        meta = dict(self.session.get_modelmeta().custom_metadata_map)
        if "mspt_input_size" not in meta:
            raise ValueError(f"{path} is not an mspt-face ONNX export (no mspt_input_size metadata)")
        self.input_size = int(meta["mspt_input_size"])
        self.resize_mode = meta.get("mspt_resize_mode", "bilinear")
        self.reference: Optional[Reference] = None
        if ONNX_METADATA_KEY in meta:
            try:
                self.reference = Reference.from_dict(json.loads(meta[ONNX_METADATA_KEY]), f"{path} metadata")
            except (ValueError, ReferenceError) as err:
                logger.warning("ignoring the score reference in %s: %s", path, err)
        raw_enlarge = meta.get(ONNX_ENLARGE_KEY, "1")  # files exported before the key: always enlarged
        if raw_enlarge not in ("0", "1"):
            raise ValueError(f"{path}: metadata {ONNX_ENLARGE_KEY}={raw_enlarge!r} is not '0' or '1'")
        self.enlarge: bool = raw_enlarge == "1"
        names = [i.name for i in self.session.get_inputs()]
        self.detail_size: Optional[int] = None
        if ONNX_DETAIL_SIZE_KEY in meta:
            raw = meta[ONNX_DETAIL_SIZE_KEY]
            if not raw.isdigit() or int(raw) < 1:
                raise ValueError(f"{path}: metadata {ONNX_DETAIL_SIZE_KEY}={raw!r} is not a positive number of pixels")
            if ONNX_DETAIL_NAME not in names or ONNX_INPUT_NAME not in names or len(names) != 2:
                raise ValueError(f"{path}: metadata {ONNX_DETAIL_SIZE_KEY}={raw} but the graph's inputs are {names}, "
                                 f"not {ONNX_INPUT_NAME!r} and {ONNX_DETAIL_NAME!r}; export it again (mspt-face export)")
            self.detail_size = int(raw)
            self._input = ONNX_INPUT_NAME
        elif len(names) != 1:
            raise ValueError(f"{path}: the graph has inputs {names} but no {ONNX_DETAIL_SIZE_KEY} metadata; "
                             "export it again (mspt-face export)")
        else:
            self._input = names[0]

    def __call__(self, x: np.ndarray, detail: Optional[np.ndarray] = None) -> np.ndarray:
        _check_detail(self.detail_size, x, detail, self.enlarge)
        feeds = {self._input: np.ascontiguousarray(x, dtype=np.float32)}
        if detail is not None:
            feeds[ONNX_DETAIL_NAME] = np.ascontiguousarray(detail, dtype=np.float32)
        out = self.session.run(None, feeds)[0]
        return np.asarray(out, dtype=np.float32).reshape(-1)
