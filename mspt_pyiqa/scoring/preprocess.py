"""Per-image preprocessing shared by the torch and onnxruntime backends.

One file -> zero or more network inputs ``(3, h, w)`` float32 NumPy arrays in [0, 1] whose
short side is the model's input size (antialiased bilinear, the policy of
:mod:`mspt_pyiqa.preprocess`). The torch backend resizes with torch (the very function
MSPTNet applies inside ``forward``), the onnxruntime backend with NumPy/Pillow
(``resize_impl="numpy"``, equal within ``NUMPY_RESIZE_TOLERANCE``), so that path never
imports torch; the ONNX graph starts after this step (normalisation + network).

Which regions are scored (whole image, aligned faces) is decided by ``faces``
(:mod:`mspt_pyiqa.scoring.faces`): ``crop``, ``detect`` or ``auto``. Aligned faces are
``face_size`` crops (:func:`mspt_pyiqa.face.align.align_face`), resized like a whole image,
exactly what ``MSPTNet(align_crop_face=True)`` does to the main face.

**Detail view** (``detail_size`` set: a release trained with one, see
:func:`mspt_pyiqa.preprocess.detail_view`): each scored region (the whole image at its decoded
resolution, or an aligned face crop) also gives its centre ``detail_size`` square, cut before
any resize, exactly as ``MSPTNet`` cuts it from the image it is given (torch with
``resize_impl="torch"``, the NumPy twin :func:`~mspt_pyiqa.preprocess.detail_view_array` with
``"numpy"``). The backends get it beside the resized view; detail views are ``(3, D, D)``.

**Never enlarge** (``enlarge=False``, a release whose input size is a maximum,
:func:`mspt_pyiqa.preprocess.target_short_side`): a region whose short side is at or below the
input size keeps its own size, so inputs of different files have more shapes; and a region whose
short side is below ``D`` gets its resized view as its detail view (not ``D`` x ``D``), as
``MSPTNet(enlarge=False)`` does. The runner batches only inputs whose shapes (both views) match.
"""
from __future__ import annotations

import dataclasses
from typing import List, Optional

import numpy as np

from mspt_pyiqa.imageio import DEFAULT_MAX_PIXELS, DEFAULT_MIN_SIDE, ImageLoadError, load_image
from mspt_pyiqa.scoring.faces import select_faces
from mspt_pyiqa.weights import release_input_size


@dataclasses.dataclass(frozen=True)
class PreprocessConfig:
    """How files become network inputs (every field maps to a ``score`` option)."""

    input_size: int = dataclasses.field(default_factory=release_input_size)  # the catalog's default release
    resize_mode: str = "bilinear"
    faces: str = "crop"
    resize_impl: str = "torch"
    detector_model: Optional[str] = None
    det_threshold: float = 0.9
    detect_side: int = 640
    face_size: int = 512
    max_faces: Optional[int] = None
    min_side: int = DEFAULT_MIN_SIDE
    max_pixels: int = DEFAULT_MAX_PIXELS
    max_side: Optional[int] = 8192
    detail_size: Optional[int] = None  # side (px) of the model's detail view; None: the model has none
    enlarge: bool = True  # False: input_size is a maximum, smaller images keep their own size


@dataclasses.dataclass
class Prepared:
    """Result for one file: ``inputs`` (one ``(3, h, w)`` float32 array per face), ``boxes`` ``"x,y,w,h"``, a status.

    ``details``: with a detail view, one ``(3, D, D)`` float32 array per input (same order; with
    ``enlarge=False`` a region smaller than ``D`` gives its resized view instead); else empty.
    """

    path: str
    status: str
    message: str = ""
    inputs: List[np.ndarray] = dataclasses.field(default_factory=list)
    boxes: List[str] = dataclasses.field(default_factory=list)
    details: List[np.ndarray] = dataclasses.field(default_factory=list)


def _as_float(image: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` uint8 or float -> float32 in [0, 1] (uint8 divided by 255)."""
    return image.astype(np.float32) / 255.0 if image.dtype == np.uint8 else image.astype(np.float32, copy=False)


def to_network_input(image: np.ndarray, cfg: PreprocessConfig) -> np.ndarray:
    """``(H, W, 3)`` uint8 or float [0, 1] -> ``(3, h, w)`` float32 [0, 1], short side = input size
    (``cfg.enlarge=False``: at most the input size)."""
    x = _as_float(image)
    if cfg.resize_impl == "numpy":
        from mspt_pyiqa.preprocess import resize_array_to_test_size

        out = resize_array_to_test_size(x, cfg.input_size, cfg.resize_mode, enlarge=cfg.enlarge)
        return np.ascontiguousarray(out.transpose(2, 0, 1))
    import torch

    from mspt_pyiqa.preprocess import resize_to_test_size

    t = torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1))).unsqueeze(0)
    return resize_to_test_size(t, cfg.input_size, mode=cfg.resize_mode, enlarge=cfg.enlarge)[0].numpy()


def to_detail_input(image: np.ndarray, cfg: PreprocessConfig) -> np.ndarray:
    """``(H, W, 3)`` uint8 or float [0, 1] -> its detail view ``(3, D, D)`` float32 [0, 1], ``D = cfg.detail_size``.

    Cut from ``image`` as given (its own resolution), as ``MSPTNet`` cuts it from its input. With
    ``cfg.enlarge=False`` a short side below ``D`` gives :func:`to_network_input` instead (both views
    the same image, as :func:`mspt_pyiqa.preprocess.detail_view` with ``enlarge=False``).
    """
    if cfg.detail_size is None:
        raise ValueError("to_detail_input needs a detail_size")
    h, w = image.shape[:2]
    if not cfg.enlarge and min(h, w) < int(cfg.detail_size):
        return to_network_input(image, cfg)
    if min(h, w) >= int(cfg.detail_size):  # a plain crop: cut it first, convert only those pixels (same values)
        from mspt_pyiqa.preprocess import detail_box

        top, left, dh, dw = detail_box(h, w, int(cfg.detail_size))
        image = image[top:top + dh, left:left + dw]
    x = _as_float(image)
    if cfg.resize_impl == "numpy":
        from mspt_pyiqa.preprocess import detail_view_array

        return np.ascontiguousarray(detail_view_array(x, cfg.detail_size, cfg.resize_mode).transpose(2, 0, 1))
    import torch

    from mspt_pyiqa.preprocess import detail_view

    t = torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1))).unsqueeze(0)
    return np.ascontiguousarray(detail_view(t, cfg.detail_size, mode=cfg.resize_mode)[0].numpy())


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
        notes = list(img.notes)
        h, w = img.rgb.shape[:2]
        # Boxes are reported in pixels of the full-resolution upright (EXIF-applied) image.
        sw, sh = img.source_size if (w >= h) == (img.source_size[0] >= img.source_size[1]) else img.source_size[::-1]
        back = max(sw, sh) / max(w, h)
        try:
            regions = select_faces(img.rgb, cfg.faces, self._get_detector, cfg.face_size, cfg.max_faces)
            if not regions.images:
                msg = f"no face found by YuNet (threshold {cfg.det_threshold})"
                return Prepared(path, "no_face", "; ".join([msg] + notes))
            inputs = [to_network_input(r, cfg) for r in regions.images]
            details = [to_detail_input(r, cfg) for r in regions.images] if cfg.detail_size is not None else []
            boxes = [",".join(str(int(round(v * back))) for v in box) for box in regions.boxes]
            if regions.images[0] is img.rgb:  # the whole image: its box is exactly the upright source
                boxes = [f"0,0,{sw},{sh}"]
            message = "; ".join(filter(None, [regions.note] + notes))
            return Prepared(path, "ok", message, inputs, boxes, details)
        except Exception as err:  # one bad file must never stop the run
            return Prepared(path, "error", f"{path}: {type(err).__name__}: {err}")
