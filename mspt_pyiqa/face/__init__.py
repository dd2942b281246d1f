"""Face detection (YuNet) and 5-landmark similarity alignment for MSPT.

* :mod:`mspt_pyiqa.face.detector`: YuNet through ``cv2.FaceDetectorYN`` (the model file
  ships in ``face/models/``, MIT; or given by path / ``$MSPT_FACE_DETECTOR``);
* :mod:`mspt_pyiqa.face.framing`: is an image already an aligned face crop (``--faces auto``)?
* :mod:`mspt_pyiqa.face.template`: the 5-point alignment template and where it comes from;
* :mod:`mspt_pyiqa.face.align`: similarity fit, warp, and :class:`BatchFaceAligner` used by
  ``MSPTNet(align_crop_face=True)``.
"""
from mspt_pyiqa.face.detector import DetectedFace, YuNetDetector, resolve_detector_model
from mspt_pyiqa.face.template import TEMPLATE_SIZE, face_template

__all__ = ["DetectedFace", "YuNetDetector", "resolve_detector_model", "TEMPLATE_SIZE", "face_template"]
