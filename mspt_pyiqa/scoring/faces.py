"""Which parts of an image get scored: the ``--faces auto|crop|detect`` choice.

* ``crop``: the image is the face (trust me, these are crops): scored whole;
* ``detect``: every face YuNet finds is aligned to the template and scored (largest first);
* ``auto`` (the CLI default): an image whose main face is framed like an aligned crop
  (:func:`mspt_pyiqa.face.framing.is_aligned_crop`) is scored whole, as ``crop`` would;
  any other image is treated as ``detect``. An image without a face gives a ``no_face``
  row in both ``auto`` and ``detect``.

Only OpenCV and NumPy are used here (no torch).
"""
from __future__ import annotations

import dataclasses
from typing import Callable, List, Optional, Tuple

import numpy as np

FACE_MODES = ("auto", "crop", "detect")

Box = Tuple[float, float, float, float]


@dataclasses.dataclass
class FaceRegions:
    """What to score in one image.

    ``images``: ``(H, W, 3)`` arrays (uint8 0..255, or float32 0..1 for aligned faces), one per
    face; ``boxes``: ``(x, y, w, h)`` per entry in pixels of the image given; ``note``: how the
    image was read (``""`` when nothing to say). No entries = no face found.
    """

    images: List[np.ndarray]
    boxes: List[Box]
    note: str = ""


def select_faces(
    rgb: np.ndarray,
    mode: str,
    detector: Callable[[], "object"],
    face_size: int = 512,
    max_faces: Optional[int] = None,
) -> FaceRegions:
    """Regions of ``rgb`` (``(H, W, 3)`` uint8) to score under ``mode`` (see the module docstring).

    ``detector`` is a zero-argument callable returning a
    :class:`~mspt_pyiqa.face.detector.YuNetDetector` (built lazily: ``crop`` never needs one).
    """
    if mode not in FACE_MODES:
        raise ValueError(f"faces mode must be one of {', '.join(FACE_MODES)}, got {mode!r}")
    h, w = rgb.shape[:2]
    whole: Box = (0.0, 0.0, float(w), float(h))
    if mode == "crop":
        return FaceRegions([rgb], [whole])
    from mspt_pyiqa.face.align import align_face
    from mspt_pyiqa.face.framing import is_aligned_crop

    faces = detector().detect(rgb)
    if not faces:
        return FaceRegions([], [])
    if mode == "auto" and is_aligned_crop(faces[0], w, h):
        return FaceRegions([rgb], [whole], "an aligned face crop: scored whole")
    faces = faces[:max_faces]
    note = "a photo: faces aligned" if mode == "auto" else ""
    return FaceRegions([align_face(rgb, f.landmarks, face_size) for f in faces], [f.box for f in faces], note)
