"""Full-reference damage measurements against the clean original (for label schemes).

Uses pyiqa's offline FR metrics (no weight download): MS-SSIM, GMSD and NLPD (all on the
luminance channel, pyiqa defaults) plus a colour-difference term, because the luminance
metrics are blind to colour casts and saturation changes. The colour term is the mean
CIE76 Delta-E between the two images after a Gaussian blur of sigma 1 px (a cheap
S-CIELAB-like spatial filter so that noise does not dominate it), via OpenCV's Lab.

Every measurement is returned as a *damage* ``d >= 0`` with 0 for identical images:
``1 - ms_ssim``, ``gmsd``, ``nlpd``, ``delta_e``.
"""
from __future__ import annotations

import time
from typing import Dict, Sequence

import cv2
import numpy as np

FR_METRICS = ("ms_ssim", "gmsd", "nlpd")
DAMAGES = FR_METRICS + ("delta_e",)


def delta_e(ref: np.ndarray, dist: np.ndarray, sigma: float = 1.0) -> float:
    """Mean CIE76 Delta-E between two RGB uint8 images of equal shape (0 = identical)."""
    def lab(x: np.ndarray) -> np.ndarray:
        f = cv2.GaussianBlur(x.astype(np.float32) / 255.0, (0, 0), sigma)
        return cv2.cvtColor(f, cv2.COLOR_RGB2LAB)

    return float(np.sqrt(((lab(ref) - lab(dist)) ** 2).sum(axis=2)).mean())


class FRDamage:
    """Computes the damages of :data:`DAMAGES` for (reference, distorted) pairs.

    ``timing`` accumulates seconds per measurement (for the cost column of the report).
    """

    def __init__(self, metrics: Sequence[str] = FR_METRICS) -> None:
        import pyiqa  # lazy: torch import is only paid by label-scheme runs
        import torch

        self._torch = torch
        self.metrics = {m: pyiqa.create_metric(m, device="cpu", as_loss=False) for m in metrics}
        self.timing: Dict[str, float] = {m: 0.0 for m in list(metrics) + ["delta_e"]}
        self.count = 0

    def _tensor(self, img: np.ndarray):
        return self._torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)[None].float() / 255.0

    def __call__(self, ref: np.ndarray, dist: np.ndarray) -> Dict[str, float]:
        """Damages of ``dist`` against ``ref`` (both RGB uint8 ``(H, W, 3)``, same shape)."""
        out: Dict[str, float] = {}
        r, d = self._tensor(ref), self._tensor(dist)
        with self._torch.no_grad():
            for name, metric in self.metrics.items():
                t = time.perf_counter()
                v = float(metric(d, r).item())
                self.timing[name] += time.perf_counter() - t
                out[name] = 1.0 - v if not metric.lower_better else v
        t = time.perf_counter()
        out["delta_e"] = delta_e(ref, dist)
        self.timing["delta_e"] += time.perf_counter() - t
        self.count += 1
        return {k: max(0.0, v) for k, v in out.items()}
