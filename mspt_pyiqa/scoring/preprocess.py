"""Per-image preprocessing shared by the torch and onnxruntime backends.

One file -> zero or more network inputs ``(3, h, w)`` float32 in [0, 1] whose short side is
the model's input size (:func:`mspt_pyiqa.preprocess.resize_to_test_size`, antialiased, the
same function MSPTNet applies inside ``forward``). Both backends therefore see identical
tensors; the ONNX graph starts after this step (normalisation + network).

* whole-image mode: the image is the face crop (like the training photos);
* ``detect`` mode: every YuNet face is aligned to a ``face_size`` crop
  (:func:`mspt_pyiqa.face.align.align_face`) and then resized like a whole image,
  exactly what ``MSPTNet(align_crop_face=True)`` does to the main face.
"""
from __future__ import annotations

import dataclasses
from typing import List, Optional

import numpy as np
import torch

from mspt_pyiqa.imageio import DEFAULT_MAX_PIXELS, DEFAULT_MIN_SIDE, ImageLoadError, load_image
from mspt_pyiqa.preprocess import resize_to_test_size
from mspt_pyiqa.weights import release_input_size


@dataclasses.dataclass(frozen=True)
class PreprocessConfig:
    """How files become network inputs (every field maps to a ``score`` option)."""

    input_size: int = dataclasses.field(default_factory=release_input_size)  # the catalog's default release
    resize_mode: str = "bilinear"
    detect: bool = False
    detector_model: Optional[str] = None
    det_threshold: float = 0.9
    detect_side: int = 640
    face_size: int = 512
    max_faces: Optional[int] = None
    min_side: int = DEFAULT_MIN_SIDE
    max_pixels: int = DEFAULT_MAX_PIXELS
    max_side: Optional[int] = 8192


@dataclasses.dataclass
class Prepared:
    """Result for one file: ``inputs`` (one per face), with ``boxes`` ``"x,y,w,h"`` and a status."""

    path: str
    status: str
    message: str = ""
    inputs: List[torch.Tensor] = dataclasses.field(default_factory=list)
    boxes: List[str] = dataclasses.field(default_factory=list)


def to_network_input(image: np.ndarray, cfg: PreprocessConfig) -> torch.Tensor:
    """``(H, W, 3)`` uint8 or float [0, 1] -> ``(3, h, w)`` float32 [0, 1], short side = input size."""
    x = torch.from_numpy(np.require(image, requirements=["C", "W"])).permute(2, 0, 1).unsqueeze(0)
    x = x.float().div_(255.0) if image.dtype == np.uint8 else x.float()
    return resize_to_test_size(x, cfg.input_size, mode=cfg.resize_mode)[0]


class Preprocessor:
    """Callable file -> :class:`Prepared`; builds its YuNet detector lazily (one per process)."""

    def __init__(self, cfg: PreprocessConfig) -> None:
        self.cfg = cfg
        self._detector = None

    def _get_detector(self):
        if self._detector is None:
            from mspt_pyiqa.face.detector import YuNetDetector

            self._detector = YuNetDetector(
                self.cfg.detector_model, score_threshold=self.cfg.det_threshold, detect_side=self.cfg.detect_side
            )
        return self._detector

    def __call__(self, path: str) -> Prepared:
        cfg = self.cfg
        try:
            img = load_image(path, min_side=cfg.min_side, max_pixels=cfg.max_pixels, max_side=cfg.max_side)
        except ImageLoadError as err:
            return Prepared(path, err.status, err.message)
        except Exception as err:  # a decoder bug or an unforeseen format: this file fails, the run goes on
            return Prepared(path, "error", f"{path}: cannot decode ({type(err).__name__}: {err})")
        notes = "; ".join(img.notes)
        h, w = img.rgb.shape[:2]
        # Boxes are reported in pixels of the full-resolution upright (EXIF-applied) image.
        back = max(img.source_size) / max(w, h)
        try:
            if not cfg.detect:
                sw, sh = img.source_size if (w >= h) == (img.source_size[0] >= img.source_size[1]) else img.source_size[::-1]
                return Prepared(path, "ok", notes, [to_network_input(img.rgb, cfg)], [f"0,0,{sw},{sh}"])
            from mspt_pyiqa.face.align import detect_and_align

            found = detect_and_align(img.rgb, self._get_detector(), cfg.face_size, cfg.max_faces)
            if not found:
                msg = f"no face found by YuNet (threshold {cfg.det_threshold})"
                return Prepared(path, "no_face", "; ".join(filter(None, [msg, notes])))
            inputs, boxes = [], []
            for face, crop in found:
                inputs.append(to_network_input(crop, cfg))
                boxes.append(",".join(str(int(round(v * back))) for v in face.box))
            return Prepared(path, "ok", notes, inputs, boxes)
        except Exception as err:  # one bad file must never stop the run
            return Prepared(path, "error", f"{path}: {type(err).__name__}: {err}")
