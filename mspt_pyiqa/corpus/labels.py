"""Severity-derived quality labels, calibrated across degradation kinds.

Each single kind ``k`` has a perceptual-impact curve

    q_k(s) = 1 - A_k * s ** g_k        (s = severity in [0, 1]; q in [1 - A_k, 1], higher = better)

``A_k`` is the damage at severity 1 and ``g_k`` the shape (g > 1: damage appears late, as
for JPEG whose artefacts become visible only at low quality; g < 1: damage visible early,
as for noise). A chain's quality is the product of its parts' qualities (independent
damages multiply, as in a multiplicative quality model).

Where the constants come from: ``g_k`` and the relative ``A_k`` were fitted by
``eval/label_schemes.py --write-curves`` (committed output ``label_curves.yml`` next to this
file, report ``eval/reports/label_schemes.md``): ``g_k`` is fitted to the mean of per-metric
logistic-normalised full-reference damages (MS-SSIM, GMSD, NLPD from pyiqa, colour Delta-E)
of real faces at 5 severities; the FR ensemble is a good judge of damage *within*
one kind but is known to be miscalibrated *across* kinds (too harsh on exposure/contrast,
too lenient on JPEG), so the ``A_k`` are anchors set in ``eval/label_schemes.py`` (ANCHORS_A) and documented in
``docs/corpus.md`` (equal label ~ equal visible damage on the contact
sheet ``docs/degradations.png``).
"""
from __future__ import annotations

import datetime
from pathlib import Path
from typing import Dict, Iterable, Mapping, Optional, Tuple

import yaml

from mspt_pyiqa.utils.io import atomic_write_yaml

#: The fitted curves, written by ``eval/label_schemes.py --write-curves``.
CURVES_FILE = Path(__file__).resolve().parent / "label_curves.yml"

# Used only if CURVES_FILE is missing: A_k as in eval/label_schemes.py ANCHORS_A, g_k = 1.
_FALLBACK: Dict[str, Tuple[float, float]] = {
    "gaussian_blur": (0.90, 1.0), "motion_blur": (0.90, 1.0), "defocus_blur": (0.90, 1.0),
    "gaussian_noise": (0.90, 1.0), "poisson_noise": (0.90, 1.0), "jpeg": (0.90, 1.0),
    "webp": (0.90, 1.0), "resample": (0.90, 1.0), "overexposure": (0.85, 1.0),
    "underexposure": (0.85, 1.0), "contrast_loss": (0.75, 1.0), "saturation": (0.55, 1.0),
    "colour_cast": (0.70, 1.0),
}


def load_curves(path: Path = CURVES_FILE) -> Dict[str, Tuple[float, float]]:
    """``{kind: (A, g)}`` from the committed YAML (falls back to g = 1 if it is missing)."""
    if not Path(path).is_file():
        return dict(_FALLBACK)
    with open(path, "r", encoding="utf-8") as f:
        data = yaml.safe_load(f) or {}
    curves = dict(_FALLBACK)
    curves.update({k: (float(v[0]), float(v[1])) for k, v in data.get("curves", {}).items()})
    return curves


def write_curves(curves: Mapping[str, Iterable[float]], source: str, path: Path = CURVES_FILE) -> None:
    """Write fitted curves as YAML (atomically), with their provenance."""
    data = {
        "source": source,
        "written": datetime.date.today().isoformat(),
        "form": "q = 1 - A * severity ** g",
        "curves": {k: [float(a), float(g)] for k, (a, g) in curves.items()},
    }
    atomic_write_yaml(path, data)


DEFAULT_CURVES: Dict[str, Tuple[float, float]] = load_curves()


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
