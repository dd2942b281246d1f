"""YuNet face detector (OpenCV ``cv2.FaceDetectorYN``) with a cached, checked model file.

Model: ``face_detection_yunet_2026may.onnx`` from the OpenCV model zoo
(https://github.com/opencv/opencv_zoo, ``models/face_detection_yunet``, MIT licence,
229,738 bytes): the dynamic-input re-export of YuNet that OpenCV 5 loads (the older
``2023mar`` file has another sha256, ``8f2383e4...``, and is not used). Its outputs are
``cls/obj/bbox/kps`` at strides 8/16/32. The pinned sha256 is that of the team's offline
copy (``../shared/models/face_detection_yunet.onnx``), and public projects that pin the zoo's
2026may file list the same value.

Where the file comes from (first hit wins):

1. an explicit path (``--detector-model PATH`` / ``detector_model_path=``), used as given;
2. ``$MSPT_FACE_DETECTOR``, used as given;
3. ``<torch hub dir>/checkpoints/face_detection_yunet_2026may.onnx``, downloaded from the zoo
   on first use through :func:`mspt_pyiqa.weights.download_atomic` (temporary file, sha256
   check, rename) and sha256-checked on every later use.
"""
from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path
from typing import List, Optional, Tuple

import cv2
import numpy as np

from mspt_pyiqa.weights import WeightsError, download_atomic, hub_checkpoint_dir, sha256_file

logger = logging.getLogger(__name__)

DETECTOR_ENV = "MSPT_FACE_DETECTOR"
YUNET_FILE = "face_detection_yunet_2026may.onnx"
# The zoo stores models in Git LFS: raw.githubusercontent.com would return the LFS pointer
# file, media.githubusercontent.com serves the model itself.
YUNET_URL = "https://media.githubusercontent.com/media/opencv/opencv_zoo/main/models/face_detection_yunet/" + YUNET_FILE
YUNET_SHA256 = "ebafce4e3c118d6554634be5c27ab333b4c047a9a8c3faf1d7cf93101c22f0f0"

# OpenCV's own defaults for FaceDetectorYN (opencv_zoo demo.py).
DEFAULT_SCORE_THRESHOLD = 0.9
DEFAULT_NMS_THRESHOLD = 0.3
DEFAULT_TOP_K = 5000
# Detection runs on a copy whose long side is at most this (YuNet's cost grows with pixels;
# faces big enough to assess stay well above its ~10 px minimum face size).
DEFAULT_DETECT_SIDE = 640


class DetectorError(WeightsError):
    """The detector model is missing, corrupt or cannot be loaded; the message says what to do."""


def resolve_detector_model(path: Optional[str] = None, download: bool = True) -> Path:
    """Path of a usable YuNet ONNX file (see the module docstring for the order)."""
    for given, origin in ((path, "--detector-model"), (os.environ.get(DETECTOR_ENV), f"${DETECTOR_ENV}")):
        if given:
            p = Path(given).expanduser()
            if not p.is_file():
                raise DetectorError(f"YuNet model {p} (from {origin}) does not exist")
            return p
    cached = hub_checkpoint_dir() / YUNET_FILE
    if cached.is_file():
        actual = sha256_file(cached)
        if actual != YUNET_SHA256:
            raise DetectorError(
                f"cached YuNet model {cached} has sha256 {actual}, expected {YUNET_SHA256}; delete it to re-download"
            )
        return cached
    if not download:
        raise DetectorError(f"YuNet model not found at {cached}; pass --detector-model PATH or set ${DETECTOR_ENV}")
    logger.info("downloading YuNet face detector from %s", YUNET_URL)
    try:
        return download_atomic(YUNET_URL, cached, YUNET_SHA256)
    except WeightsError:
        raise
    except OSError as err:
        raise DetectorError(
            f"YuNet model is not cached at {cached} and its download from {YUNET_URL} failed ({err}); "
            f"download it by hand and pass --detector-model PATH or set ${DETECTOR_ENV}"
        ) from err


@dataclasses.dataclass(frozen=True)
class DetectedFace:
    """One face in image pixel coordinates (x right, y down, of the image as given).

    ``box``: ``(x, y, w, h)``; ``landmarks``: ``(5, 2)`` float32 in the order left eye,
    right eye, nose tip, left mouth corner, right mouth corner, *as seen in the image*
    (YuNet's order); ``score``: detector confidence in ``[0, 1]``.
    """

    box: Tuple[float, float, float, float]
    landmarks: np.ndarray
    score: float

    @property
    def area(self) -> float:
        return float(self.box[2] * self.box[3])


class YuNetDetector:
    """Thin wrapper around ``cv2.FaceDetectorYN``; one instance per process (not picklable)."""

    def __init__(
        self,
        model_path: Optional[str] = None,
        score_threshold: float = DEFAULT_SCORE_THRESHOLD,
        nms_threshold: float = DEFAULT_NMS_THRESHOLD,
        top_k: int = DEFAULT_TOP_K,
        detect_side: int = DEFAULT_DETECT_SIDE,
    ) -> None:
        self.model_path = str(resolve_detector_model(model_path))
        self.detect_side = int(detect_side)
        try:
            self._net = cv2.FaceDetectorYN.create(self.model_path, "", (320, 320), score_threshold, nms_threshold, top_k)
        except cv2.error as err:
            raise DetectorError(f"OpenCV cannot load YuNet model {self.model_path}: {err}") from err

    def detect(self, image_rgb: np.ndarray) -> List[DetectedFace]:
        """Faces in ``image_rgb`` ((H, W, 3) uint8 RGB), largest box first."""
        if image_rgb.ndim != 3 or image_rgb.shape[2] != 3 or image_rgb.dtype != np.uint8:
            raise ValueError(f"detect expects (H, W, 3) uint8 RGB, got {image_rgb.shape} {image_rgb.dtype}")
        h, w = image_rgb.shape[:2]
        scale = min(1.0, self.detect_side / max(h, w))
        bgr = cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR)
        if scale < 1.0:
            bgr = cv2.resize(bgr, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
        self._net.setInputSize((bgr.shape[1], bgr.shape[0]))
        _, raw = self._net.detect(bgr)
        if raw is None:
            return []
        # Map back to full-resolution pixels (separate x/y factors absorb rounding of the size).
        sx, sy = w / bgr.shape[1], h / bgr.shape[0]
        faces = []
        for row in raw:
            box = (float(row[0] * sx), float(row[1] * sy), float(row[2] * sx), float(row[3] * sy))
            lm = row[4:14].reshape(5, 2).astype(np.float32) * np.array([sx, sy], dtype=np.float32)
            faces.append(DetectedFace(box=box, landmarks=lm, score=float(row[14])))
        faces.sort(key=lambda f: -f.area)
        return faces
