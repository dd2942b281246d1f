"""The 5-point face alignment template: where the aligned face's landmarks go.

Framing: FFHQ / CelebA-HQ style (the framing of MSPT's 512 px CelebA-HQ training photos and
of the 512 px template used by face-restoration tools such as facexlib / GFPGAN): the face
is centred horizontally, the eyes at ~48 % of the height, the mouth at ~73 %, with hair,
chin and some background in view.

Origin of the numbers: measured, not copied. ``eval/face_alignment_check.py --derive`` runs
our YuNet detector on the 1,000 CelebA-HQ 512x512 photos of ``../shared/data/faces/celebahq``
(987 with a face at YuNet's default 0.9 threshold) and averages the 5 landmarks; the means
are then made left/right symmetric about the vertical centre line (x = 255.5, pixel centres
at integers) and rounded to 0.1 px. Measured means (x, y): left eye (195.58, 244.12), right
eye (317.16, 245.48), nose (255.70, 318.76), left mouth (201.14, 372.85), right mouth
(309.18, 374.03). They agree within about 4 px with the FFHQ 512 template that facexlib
publishes (derived there from RetinaFace landmarks on FFHQ), so crops look like both.
Landmark order is YuNet's, as seen in the image: left eye, right eye, nose tip, left mouth
corner, right mouth corner.
"""
from __future__ import annotations

import numpy as np

TEMPLATE_SIZE = 512

# (5, 2) pixel coordinates in a TEMPLATE_SIZE x TEMPLATE_SIZE crop, pixel centres at integers.
_EYE_HALF = 60.8  # (317.16 - 195.58) / 2
_MOUTH_HALF = 54.0  # (309.18 - 201.14) / 2
_CX = 255.5
TEMPLATE_512 = np.array(
    [
        [_CX - _EYE_HALF, 244.8],  # eye y: mean of 244.12 and 245.48
        [_CX + _EYE_HALF, 244.8],
        [_CX, 318.8],
        [_CX - _MOUTH_HALF, 373.4],  # mouth y: mean of 372.85 and 374.03
        [_CX + _MOUTH_HALF, 373.4],
    ],
    dtype=np.float64,
)


def face_template(size: int = TEMPLATE_SIZE) -> np.ndarray:
    """Template landmarks ``(5, 2)`` for a ``size`` x ``size`` crop (the 512 template scaled,
    keeping the pixel-centre convention: ``(t + 0.5) * size / 512 - 0.5``)."""
    k = size / TEMPLATE_SIZE
    return (TEMPLATE_512 + 0.5) * k - 0.5


def estimate_similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity ``(2, 3)`` matrix mapping ``src`` points ``(K, 2)`` onto ``dst``.

    Closed form with complex numbers: ``w = a z + b``, ``a = sum((w-w̄) conj(z-z̄)) / sum|z-z̄|²``
    (the 2-D case of Umeyama's method).
    """
    z = src[:, 0].astype(np.float64) + 1j * src[:, 1].astype(np.float64)
    w = dst[:, 0].astype(np.float64) + 1j * dst[:, 1].astype(np.float64)
    zc, wc = z - z.mean(), w - w.mean()
    denom = float(np.sum(np.abs(zc) ** 2))
    if denom <= 1e-12:
        raise ValueError("degenerate landmarks: all points coincide")
    a = np.sum(wc * np.conj(zc)) / denom
    b = w.mean() - a * z.mean()
    return np.array([[a.real, -a.imag, b.real], [a.imag, a.real, b.imag]], dtype=np.float64)
