"""Severity-derived quality labels, calibrated across degradation kinds.

Each single kind ``k`` has a perceptual-impact curve

    q_k(s) = 1 - A_k * s ** g_k        (s = severity in [0, 1]; q in [1 - A_k, 1], higher = better)

``A_k`` is the damage at severity 1 and ``g_k`` the shape (g > 1: damage appears late, as
for JPEG whose artefacts become visible only at low quality; g < 1: damage visible early,
as for noise). A chain's quality is the product of its parts' qualities (independent
damages multiply, as in a multiplicative quality model).

Where the constants come from: ``g_k`` and the relative ``A_k`` were fitted by
``eval/fit_label_curves.py`` (committed output ``eval/reports/label_curves.csv``) against
the mean of per-metric logistic-normalised full-reference scores (MS-SSIM, GMSD, NLPD from
pyiqa) of real faces at 11 severities; the FR ensemble is a good judge of damage *within*
one kind but is known to be miscalibrated *across* kinds (too harsh on exposure/contrast,
too lenient on JPEG), so ``A_k`` of the photometric and compression kinds are set by the
anchors documented in ``docs/corpus.md`` (equal label ~ equal visible damage on the contact
sheet ``docs/degradations.png``).
"""
from __future__ import annotations

from typing import Dict, Iterable, Mapping, Optional, Tuple

# kind -> (A, g). Replaced by fitted values; see module docstring.
DEFAULT_CURVES: Dict[str, Tuple[float, float]] = {
    "gaussian_blur": (0.90, 1.00),
    "motion_blur": (0.90, 1.00),
    "defocus_blur": (0.90, 1.00),
    "gaussian_noise": (0.90, 0.80),
    "poisson_noise": (0.90, 1.20),
    "jpeg": (0.90, 1.60),
    "webp": (0.85, 1.60),
    "resample": (0.90, 1.00),
    "overexposure": (0.85, 1.00),
    "underexposure": (0.80, 1.20),
    "contrast_loss": (0.75, 1.20),
    "saturation": (0.55, 1.20),
    "colour_cast": (0.70, 1.10),
}


class SeverityLabeler:
    """Maps executed degradation parts to a quality label in [0, 1] (1 = pristine).

    ``curves`` overrides entries of :data:`DEFAULT_CURVES` (``{kind: [A, g]}``, YAML-able).
    """

    def __init__(self, curves: Optional[Mapping[str, Iterable[float]]] = None) -> None:
        self.curves: Dict[str, Tuple[float, float]] = dict(DEFAULT_CURVES)
        for kind, ag in (curves or {}).items():
            a, g = (float(v) for v in ag)
            if not (0.0 < a <= 1.0 and g > 0.0):
                raise ValueError(f"label curve for {kind!r} needs 0 < A <= 1 and g > 0, got {ag!r}")
            self.curves[kind] = (a, g)

    def part_quality(self, kind: str, severity: float) -> float:
        """Quality of one single-kind degradation at ``severity`` (1 at severity 0)."""
        if kind not in self.curves:
            raise KeyError(f"no label curve for degradation kind {kind!r}")
        a, g = self.curves[kind]
        return 1.0 - a * float(severity) ** g

    def __call__(self, parts: Iterable[Tuple[str, float]]) -> float:
        """Label of a degradation given its parts ``[(kind, severity), ...]``; ``[]`` -> 1.0."""
        q = 1.0
        for kind, s in parts:
            q *= self.part_quality(kind, s)
        return float(min(1.0, max(0.0, q)))
