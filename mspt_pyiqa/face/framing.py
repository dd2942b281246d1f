"""Is an image already an aligned face crop? The crop-or-photo decision of ``--faces auto``.

The main face's 5 landmarks (YuNet) are compared with where the alignment template
(:mod:`mspt_pyiqa.face.template`) puts them in a square of the image's short side, centred
in the image. A least-squares similarity fit (:func:`mspt_pyiqa.face.align.estimate_similarity`)
gives four numbers (:class:`Framing`):

* ``face_scale``: size of the face relative to the template's face in that square
  (1.0 = framed exactly like an aligned 512 px crop; 0.2 = a face five times smaller, as
  in a whole photo; > 1 = a tighter crop);
* ``offset``: distance of the landmarks' centre from the template's, in units of the short side;
* ``angle``: in-plane rotation of the face in degrees;
* ``aspect``: long side / short side of the image.

An image counts as a crop when all four fall inside :data:`CROP_LIMITS`. The limits cover
the framings of the face-crop collections the released weights were trained on (CelebA-HQ,
SCUT-FBP5500, All-Age-Faces); ``eval/face_framing.py`` measures every one of them and the
whole photos and writes ``eval/reports/face_framing.md`` (what ``auto`` decides per set).
"""
from __future__ import annotations

import dataclasses
import math
from typing import Optional

import numpy as np

from mspt_pyiqa.face.detector import DetectedFace
from mspt_pyiqa.face.template import estimate_similarity, face_template


@dataclasses.dataclass(frozen=True)
class Framing:
    """How the main face sits in its image (see the module docstring for each field)."""

    face_scale: float
    offset: float
    angle: float
    aspect: float


@dataclasses.dataclass(frozen=True)
class CropLimits:
    """Bounds inside which an image is taken as an aligned face crop (all must hold)."""

    min_face_scale: float
    max_face_scale: float
    max_offset: float
    max_angle: float
    max_aspect: float

    def contains(self, f: Framing) -> bool:
        return (
            self.min_face_scale <= f.face_scale <= self.max_face_scale
            and f.offset <= self.max_offset
            and abs(f.angle) <= self.max_angle
            and f.aspect <= self.max_aspect
        )


# From eval/reports/face_framing.md. The face scale separates the two kinds: the crop
# collections start at ~0.8 (0.5th percentile), whole photos end at ~0.38 (99.5th), so the
# boundary sits between them at 0.55. Offset, rotation and aspect only exclude the odd
# framing: All-Age-Faces crops (the most varied) reach offset ~0.3 and rotation ~22 degrees.
CROP_LIMITS = CropLimits(min_face_scale=0.55, max_face_scale=2.0, max_offset=0.35, max_angle=35.0, max_aspect=1.5)


def framing_of(face: DetectedFace, width: int, height: int) -> Framing:
    """Framing of ``face`` (landmarks in pixels) in a ``width`` x ``height`` image."""
    side = min(width, height)
    template = face_template(side) + np.array([(width - side) / 2.0, (height - side) / 2.0])
    m = estimate_similarity(face.landmarks.astype(np.float64), template)  # image -> template
    scale = math.sqrt(abs(np.linalg.det(m[:, :2])))
    centre = face.landmarks.astype(np.float64).mean(axis=0)
    offset = float(np.linalg.norm(centre - template.mean(axis=0)) / side)
    angle = math.degrees(math.atan2(m[1, 0], m[0, 0]))
    return Framing(face_scale=1.0 / scale, offset=offset, angle=angle, aspect=max(width, height) / side)


def is_aligned_crop(face: Optional[DetectedFace], width: int, height: int, limits: CropLimits = CROP_LIMITS) -> bool:
    """True when the image's main face (``None``: no face found) is framed like an aligned crop."""
    return face is not None and limits.contains(framing_of(face, width, height))
