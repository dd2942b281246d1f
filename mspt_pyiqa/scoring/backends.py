"""Inference backends: a batch ``(N, 3, H, W)`` float32 in [0, 1] (already resized) -> ``(N,)`` scores.

Both take exactly the tensors made by :mod:`mspt_pyiqa.scoring.preprocess`; the torch one
runs MSPTNet (whose own resize is then a no-op), the onnxruntime one the exported graph.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

import numpy as np
import torch

logger = logging.getLogger(__name__)


class TorchBackend:
    """MSPTNet in eval mode under ``torch.inference_mode``."""

    name = "torch"

    def __init__(self, net: torch.nn.Module, device: str = "cpu") -> None:
        self.device = torch.device(device)
        self.net = net.eval().to(self.device)
        self.input_size = int(net.test_img_size)
        self.resize_mode = str(net.resize_mode)

    def __call__(self, x: torch.Tensor) -> np.ndarray:
        with torch.inference_mode():
            return self.net(x.to(self.device)).float().view(-1).cpu().numpy()


class OnnxBackend:
    """An exported model (:mod:`mspt_pyiqa.onnx_export`) in an onnxruntime session."""

    name = "onnxruntime"

    def __init__(self, path: Path, device: str = "cpu", threads: Optional[int] = None) -> None:
        import onnxruntime as ort

        from mspt_pyiqa.onnx_export import INPUT_NAME, read_metadata

        meta = read_metadata(path)
        if "mspt_input_size" not in meta:
            raise ValueError(f"{path} is not an mspt-face ONNX export (no mspt_input_size metadata)")
        self.input_size = int(meta["mspt_input_size"])
        self.resize_mode = meta.get("mspt_resize_mode", "bilinear")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = int(threads or torch.get_num_threads())
        opts.inter_op_num_threads = 1
        providers = ["CPUExecutionProvider"]
        if str(device).startswith("cuda"):
            if "CUDAExecutionProvider" not in ort.get_available_providers():
                raise ValueError("--device cuda with --backend onnxruntime needs onnxruntime-gpu")
            providers.insert(0, "CUDAExecutionProvider")
        self.session = ort.InferenceSession(str(path), sess_options=opts, providers=providers)
        self._input = INPUT_NAME

    def __call__(self, x: torch.Tensor) -> np.ndarray:
        out = self.session.run(None, {self._input: x.detach().cpu().float().numpy()})[0]
        return np.asarray(out, dtype=np.float32).reshape(-1)
