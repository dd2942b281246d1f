"""Checks of ``mspt-face score`` options made before any file is read (usage errors, exit 2).

Each check returns problems as one-line strings naming the option, or raises ``ValueError``
with such a line, so a typo is refused up front instead of giving every file the same
error row (or a traceback after the work).
"""
from __future__ import annotations

import argparse
import importlib.util
from typing import List, Optional

# option -> (smallest allowed value, what it means); None: the option may be left out.
_MINIMUMS = {
    "input_size": (16, "px"),
    "detail_size": (16, "px"),
    "batch_size": (1, "image(s)"),
    "workers": (0, "process(es)"),
    "detect_side": (16, "px"),
    "face_size": (16, "px"),
    "max_faces": (1, "face(s)"),
    "min_size": (1, "px"),
    "max_pixels": (1, "pixel(s)"),
    "max_side": (16, "px"),
    "save_every": (0, "s"),
    "table_rows": (0, "row(s)"),
}


def option_problems(args: argparse.Namespace) -> List[str]:
    """Every out-of-range numeric option of ``args`` (all of them, not just the first)."""
    problems = []
    for name, (low, unit) in _MINIMUMS.items():
        value = getattr(args, name, None)
        if value is not None and not value >= low:  # 'not >=' also catches NaN
            problems.append(f"--{name.replace('_', '-')} {value}: must be at least {low} {unit}")
    thr = getattr(args, "det_threshold", None)
    if thr is not None and not 0.0 <= thr <= 1.0:
        problems.append(f"--det-threshold {thr}: must be between 0 and 1")
    return problems


def check_device(device: str) -> str:
    """``device`` resolved (``auto`` -> cuda or cpu); ``ValueError`` when this machine lacks it."""
    if device == "cpu":  # the common case needs no torch (the onnxruntime path stays torch-free)
        return device
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError) as err:
        raise ValueError(f"--device {device}: not a device name (cpu, cuda, cuda:N or auto)") from err
    if dev.type == "cpu":
        return device
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"--device {device}: no CUDA GPU is available on this machine (use --device cpu)")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"--device {device}: this machine has {torch.cuda.device_count()} CUDA GPU(s)")
        return device
    raise ValueError(f"--device {device}: only cpu and cuda devices are supported")


def check_backend(backend: str, onnx_model: Optional[str]) -> None:
    """``ValueError`` when the packages a backend needs are missing or its model file is."""
    if backend != "onnxruntime":
        return
    needed = ["onnxruntime"] + ([] if onnx_model else ["onnx"])  # exporting needs onnx too
    absent = [m for m in needed if importlib.util.find_spec(m) is None]
    if absent:
        raise ValueError(f"--backend onnxruntime needs the Python package(s) {', '.join(absent)} "
                         f"(pip install {' '.join(absent)})")
    if onnx_model is not None:
        from pathlib import Path

        if not Path(onnx_model).is_file():
            raise ValueError(f"--onnx-model {onnx_model}: no such file")


def check_detector(model: str, threshold: float, detect_side: int) -> None:
    """Load the YuNet model and run it once on a blank image; ``ValueError`` naming the file if that fails."""
    import numpy as np

    from mspt_pyiqa.face.detector import YuNetDetector

    try:
        YuNetDetector(model, score_threshold=threshold, detect_side=detect_side).detect(np.zeros((64, 64, 3), np.uint8))
    except Exception as err:  # cv2.error or a broken file: the same for every image, so refuse now
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(f"--detector-model {model}: not a usable YuNet model ({first})") from err
