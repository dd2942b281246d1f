"""YuNet face detector (OpenCV ``cv2.FaceDetectorYN``), shipped inside the package.

Model: ``face_detection_yunet_2026may.onnx`` from the OpenCV model zoo
(https://github.com/opencv/opencv_zoo, ``models/face_detection_yunet``, MIT licence, see
``mspt_pyiqa/face/models/LICENSE_YUNET.txt``; 229,738 bytes, md5
``53540960d16daae5cebe093002818300``): the dynamic-input re-export of YuNet that OpenCV 5
loads. Its outputs are ``cls/obj/bbox/kps`` at strides 8/16/32. It travels in the wheel, so
face detection works offline on a fresh machine.

Where the file comes from (first hit wins):

1. an explicit path (``--detector-model PATH`` / ``detector_model_path=``), used as given;
2. ``$MSPT_FACE_DETECTOR``, used as given;
3. the bundled file ``mspt_pyiqa/face/models/face_detection_yunet_2026may.onnx``, checked
   against its sha256 (a damaged install is reported, never half-loaded).

Import cost: OpenCV and NumPy only (no torch), so the onnxruntime scoring path stays light.
"""
from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
from pathlib import Path
from typing import List, Optional, Tuple

import cv2
import numpy as np

logger = logging.getLogger(__name__)

DETECTOR_ENV = "MSPT_FACE_DETECTOR"
YUNET_FILE = "face_detection_yunet_2026may.onnx"
BUNDLED_YUNET = Path(__file__).resolve().parent / "models" / YUNET_FILE
YUNET_SHA256 = "ebafce4e3c118d6554634be5c27ab333b4c047a9a8c3faf1d7cf93101c22f0f0"

# OpenCV's own defaults for FaceDetectorYN (opencv_zoo demo.py).
DEFAULT_SCORE_THRESHOLD = 0.9
DEFAULT_NMS_THRESHOLD = 0.3
DEFAULT_TOP_K = 5000
# Detection runs on a copy whose long side is at most this (YuNet's cost grows with pixels;
# faces big enough to assess stay well above its ~10 px minimum face size).
DEFAULT_DETECT_SIDE = 640


class DetectorError(RuntimeError):
    """The detector model is missing, corrupt or cannot be loaded; the message says what to do."""


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def resolve_detector_model(path: Optional[str] = None) -> Path:
    """Path of a usable YuNet ONNX file (see the module docstring for the order)."""
    for given, origin in ((path, "--detector-model"), (os.environ.get(DETECTOR_ENV), f"${DETECTOR_ENV}")):
        if given:
            p = Path(given).expanduser()
            if not p.is_file():
                raise DetectorError(f"YuNet model {p} (from {origin}) does not exist")
            return p
    if not BUNDLED_YUNET.is_file():
        raise DetectorError(
            f"the bundled YuNet model {BUNDLED_YUNET} is missing (broken install?); reinstall mspt-pyiqa, "
            f"or pass --detector-model PATH / set ${DETECTOR_ENV}"
        )
    actual = _sha256(BUNDLED_YUNET)
    if actual != YUNET_SHA256:
        raise DetectorError(
            f"the bundled YuNet model {BUNDLED_YUNET} has sha256 {actual}, expected {YUNET_SHA256}; reinstall mspt-pyiqa"
        )
    return BUNDLED_YUNET


def _create_quietly(model_path: str, score_threshold: float, nms_threshold: float, top_k: int) -> "cv2.FaceDetectorYN":
    """``cv2.FaceDetectorYN.create`` without OpenCV 5's "setPreferableTarget ... not supported
    by the new graph engine" warning, which it prints on every creation (harmless: CPU only)."""
    log = cv2.utils.logging
    previous = log.getLogLevel()
    log.setLogLevel(log.LOG_LEVEL_ERROR)
    try:
        return cv2.FaceDetectorYN.create(model_path, "", (320, 320), score_threshold, nms_threshold, top_k)
    finally:
        log.setLogLevel(previous)


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
            self._net = _create_quietly(self.model_path, score_threshold, nms_threshold, top_k)
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
