"""5-landmark similarity alignment of faces, one image or a batch.

A similarity transform (rotation, uniform scale, translation; no shear, no reflection)
maps the detected landmarks onto :mod:`mspt_pyiqa.face.template` in the least-squares
sense; the crop is then warped with bilinear interpolation. Where the crop reaches past the
image border the image is mirrored (``BORDER_REFLECT_101``, as FFHQ's own crops pad by
reflection) rather than filled with a flat colour that would look like an artefact. When
the face is larger than the crop, the region is first shrunk with area averaging so that
downscaling does not alias (a plain bilinear warp would).
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, List, Optional, Tuple

import cv2
import numpy as np

from mspt_pyiqa.face.detector import DetectedFace, YuNetDetector
from mspt_pyiqa.face.template import estimate_similarity, face_template

if TYPE_CHECKING:  # torch is imported only by BatchFaceAligner.__call__ (the pyiqa path)
    import torch

# Extra source pixels kept around the crop region so that bilinear taps stay inside it.
_MARGIN = 3


def align_face(image: np.ndarray, landmarks: np.ndarray, face_size: int = 512) -> np.ndarray:
    """Aligned face ``(face_size, face_size, 3)`` float32 in [0, 1].

    Args:
        image: ``(H, W, 3)`` RGB, uint8 (0..255) or float (0..1).
        landmarks: ``(5, 2)`` in image pixels, YuNet order (see :class:`DetectedFace`).
        face_size: output side in pixels.
    """
    h, w = image.shape[:2]
    m = estimate_similarity(landmarks, face_template(face_size))
    # Source region that the output square comes from (inverse-mapped corners + margin).
    inv = cv2.invertAffineTransform(m)
    corners = np.array([[0, 0], [face_size - 1, 0], [0, face_size - 1], [face_size - 1, face_size - 1]], np.float64)
    src = corners @ inv[:, :2].T + inv[:, 2]
    x0 = int(np.clip(math.floor(src[:, 0].min()) - _MARGIN, 0, w - 1))
    y0 = int(np.clip(math.floor(src[:, 1].min()) - _MARGIN, 0, h - 1))
    x1 = int(np.clip(math.ceil(src[:, 0].max()) + _MARGIN + 1, x0 + 1, w))
    y1 = int(np.clip(math.ceil(src[:, 1].max()) + _MARGIN + 1, y0 + 1, h))
    crop = image[y0:y1, x0:x1]
    crop = crop.astype(np.float32) / 255.0 if crop.dtype == np.uint8 else crop.astype(np.float32, copy=False)
    m[:, 2] += m[:, :2] @ np.array([x0, y0], np.float64)  # coordinates now relative to the crop
    scale = math.sqrt(abs(np.linalg.det(m[:, :2])))
    if scale < 1.0:
        ch, cw = crop.shape[:2]
        nw, nh = max(1, round(cw * scale)), max(1, round(ch * scale))
        crop = cv2.resize(crop, (nw, nh), interpolation=cv2.INTER_AREA)
        fx, fy = nw / cw, nh / ch
        # cv2.resize maps pixel centres: x_small = (x + 0.5) * fx - 0.5; compose with its inverse.
        undo = np.array([[1 / fx, 0, 0.5 / fx - 0.5], [0, 1 / fy, 0.5 / fy - 0.5], [0, 0, 1]], np.float64)
        m = m @ undo
    out = cv2.warpAffine(crop, m, (face_size, face_size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    return np.clip(out, 0.0, 1.0)


def detect_and_align(
    image_rgb: np.ndarray, detector: YuNetDetector, face_size: int = 512, max_faces: Optional[int] = None
) -> List[Tuple[DetectedFace, np.ndarray]]:
    """Every detected face (largest first, at most ``max_faces``) with its aligned crop."""
    faces = detector.detect(image_rgb)[:max_faces]
    return [(f, align_face(image_rgb, f.landmarks, face_size)) for f in faces]


class BatchFaceAligner:
    """Main face of every image of a batch, aligned (used by ``MSPTNet(align_crop_face=True)``).

    Call on ``x``: ``(N, 3, H, W)`` float in [0, 1]; returns ``(faces, found)``: ``faces``
    ``(N, 3, face_size, face_size)`` in [0, 1] (zeros where no face was found), same dtype
    and device as ``x``; ``found`` bool ``(N,)``. The main face is the largest detected box.
    Detection runs on the image quantised to uint8 (YuNet's input); the crop is warped from
    the float image itself.
    """

    def __init__(self, face_size: int = 512, detector_model_path: Optional[str] = None, **detector_kwargs: float) -> None:
        self.face_size = int(face_size)
        self.detector = YuNetDetector(detector_model_path, **detector_kwargs)

    def __call__(self, x: "torch.Tensor") -> Tuple["torch.Tensor", "torch.Tensor"]:
        import torch

        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"BatchFaceAligner expects (N, 3, H, W), got {tuple(x.shape)}")
        images = x.detach().float().clamp(0, 1).permute(0, 2, 3, 1).cpu().numpy()
        out = np.zeros((x.shape[0], self.face_size, self.face_size, 3), np.float32)
        found = np.zeros(x.shape[0], dtype=bool)
        for i, img in enumerate(images):
            faces = self.detector.detect((img * 255.0 + 0.5).astype(np.uint8))
            if faces:
                out[i] = align_face(img, faces[0].landmarks, self.face_size)
                found[i] = True
        faces_t = torch.from_numpy(out).permute(0, 3, 1, 2).to(device=x.device, dtype=x.dtype)
        return faces_t.contiguous(), torch.from_numpy(found).to(x.device)

    def auto(self, x: "torch.Tensor") -> Tuple["torch.Tensor", "torch.Tensor", "torch.Tensor"]:
        """``align_crop_face="auto"``: ``(faces, found, is_crop)`` for ``x`` ``(N, 3, H, W)`` in [0, 1].

        ``is_crop`` bool ``(N,)``: the image's main face is framed like an aligned crop
        (:func:`mspt_pyiqa.face.framing.is_aligned_crop`), so it is to be scored as it is;
        ``faces`` holds the aligned main face of every other image with a face (zeros elsewhere).
        """
        import torch

        from mspt_pyiqa.face.framing import is_aligned_crop

        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"BatchFaceAligner expects (N, 3, H, W), got {tuple(x.shape)}")
        images = x.detach().float().clamp(0, 1).permute(0, 2, 3, 1).cpu().numpy()
        h, w = images.shape[1:3]
        out = np.zeros((x.shape[0], self.face_size, self.face_size, 3), np.float32)
        found = np.zeros(x.shape[0], dtype=bool)
        is_crop = np.zeros(x.shape[0], dtype=bool)
        for i, img in enumerate(images):
            faces = self.detector.detect((img * 255.0 + 0.5).astype(np.uint8))
            found[i] = bool(faces)
            if faces and is_aligned_crop(faces[0], w, h):
                is_crop[i] = True
            elif faces:
                out[i] = align_face(img, faces[0].landmarks, self.face_size)
        faces_t = torch.from_numpy(out).permute(0, 3, 1, 2).to(device=x.device, dtype=x.dtype).contiguous()
        return faces_t, torch.from_numpy(found).to(x.device), torch.from_numpy(is_crop).to(x.device)
