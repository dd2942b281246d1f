"""Blur degradations: Gaussian, motion (line kernel at a random angle) and defocus (disk).

Ranges at severity 1 (for a face with a 256 px short side, scaled with the image size):
Gaussian sigma 5 px, motion length 31 px, defocus radius 8 px. At these values the eyes,
mouth and hair texture are gone, which is the "very strong" end of the scale; the ranges
follow common face-restoration synthesis settings (GFPGAN / CodeFormer: sigma 0.1-10 at
512 px, i.e. 0.05-5 at 256 px).
"""
from __future__ import annotations

import cv2
import numpy as np

from mspt_pyiqa.degrade._util import spatial_scale

GAUSS_SIGMA_MAX = 5.0
MOTION_LEN_MAX = 31.0
DEFOCUS_RADIUS_MAX = 8.0


def gaussian_blur(img: np.ndarray, severity: float, rng: np.random.Generator) -> np.ndarray:
    """Isotropic Gaussian blur, sigma = 5 px * severity (at 256 px short side)."""
    sigma = GAUSS_SIGMA_MAX * severity * spatial_scale(img)
    return cv2.GaussianBlur(img, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REFLECT101)


def motion_kernel(length: float, angle_deg: float) -> np.ndarray:
    """Normalised line kernel of ``length`` px (sub-pixel lengths via antialiased drawing)."""
    size = int(np.ceil(length)) | 1  # odd size so the kernel is centred
    size = max(size, 3)
    k = np.zeros((size * 4, size * 4), np.float32)  # draw at 4x then downsample: antialiasing
    c = (size * 4 - 1) / 2.0
    dx = np.cos(np.deg2rad(angle_deg)) * (length * 4 - 1) / 2.0
    dy = np.sin(np.deg2rad(angle_deg)) * (length * 4 - 1) / 2.0
    p0 = (int(round(c - dx)), int(round(c - dy)))
    p1 = (int(round(c + dx)), int(round(c + dy)))
    cv2.line(k, p0, p1, 1.0, thickness=4, lineType=cv2.LINE_AA)
    k = cv2.resize(k, (size, size), interpolation=cv2.INTER_AREA)
    return k / max(float(k.sum()), 1e-8)


def motion_blur(img: np.ndarray, severity: float, rng: np.random.Generator) -> np.ndarray:
    """Linear motion blur, length = 1 + 30 px * severity (at 256 px), angle uniform in [0, 180)."""
    length = 1.0 + (MOTION_LEN_MAX - 1.0) * severity * spatial_scale(img)
    angle = float(rng.uniform(0.0, 180.0))
    return cv2.filter2D(img, -1, motion_kernel(length, angle), borderType=cv2.BORDER_REFLECT101)


def disk_kernel(radius: float) -> np.ndarray:
    """Antialiased uniform disk (out-of-focus point spread function) of ``radius`` px."""
    r = max(radius, 1.0)
    size = 2 * int(np.ceil(r)) + 1
    ss = 8  # supersampling for a smooth rim at small radii
    coords = (np.arange(size * ss) + 0.5) / ss - size / 2.0
    yy, xx = np.meshgrid(coords, coords, indexing="ij")
    inside = (xx**2 + yy**2 <= r**2).astype(np.float32)
    k = inside.reshape(size, ss, size, ss).mean(axis=(1, 3))
    return k / float(k.sum())


def defocus_blur(img: np.ndarray, severity: float, rng: np.random.Generator) -> np.ndarray:
    """Defocus (disk PSF) blur, radius = 8 px * severity (at 256 px short side)."""
    radius = DEFOCUS_RADIUS_MAX * severity * spatial_scale(img)
    if radius >= 1.0:
        k = disk_kernel(radius)
    else:
        # Below 1 px a sampled disk is a delta; blend delta -> disk(1) so damage grows smoothly.
        k = disk_kernel(1.0) * radius
        k[k.shape[0] // 2, k.shape[1] // 2] += 1.0 - radius
    return cv2.filter2D(img, -1, k, borderType=cv2.BORDER_REFLECT101)
