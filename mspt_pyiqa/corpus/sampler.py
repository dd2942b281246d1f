"""``DegradationSampler``: draws a degradation for a clean face and labels it.

The sampler is configured by a YAML-able dict (see ``mspt_pyiqa/corpus/stages/*.yml``)::

    pristine_prob: 0.08            # probability of an undegraded sample (label = pristine)
    severity: {dist: uniform, low: 0.05, high: 1.0}   # default severity distribution
    kinds:                         # weighted list; an entry may override the severity
      - {kind: gaussian_blur, weight: 1.0}
      - {kind: gaussian_noise, weight: 0.5, tag: mild_noise,
         severity: {dist: uniform, low: 0.02, high: 0.25}}   # oversampled mild noise
    levels: [0.1, 0.25, 0.45, 0.7, 1.0]   # level edges: level i = first edge >= severity
    label:
      scheme: severity             # the scheme picked in eval/reports/label_schemes.md
      pristine: 1.0                # label of an undegraded sample
      curves: {jpeg: [0.9, 1.6]}   # optional overrides of labels.DEFAULT_CURVES
      source_quality: {aaf: 0.85}  # prior quality of sources whose own quality is unknown
    noop_is_pristine: false        # true: a degradation that left every pixel unchanged
                                   # (desaturating a greyscale scan) is labelled as pristine
    away_from_typical:             # optional: saturation direction and colour-cast hue chosen
      chroma: 0.0588               # to move the photo away from the typical good photo
      balance: [0.272, -0.054, -0.219]   # (mspt_pyiqa.corpus.typical); default: drawn at random

Severity distributions: ``uniform`` (low, high) or ``beta`` (a, b, low, high: a Beta(a, b)
draw rescaled to [low, high]).
"""
from __future__ import annotations

import copy
from typing import Any, Dict, List, Mapping, Optional, Tuple

import numpy as np

from mspt_pyiqa.corpus.labels import SeverityLabeler
from mspt_pyiqa.corpus.typical import TypicalReference
from mspt_pyiqa.degrade import KINDS, apply_with_parts

DEFAULT_LEVELS = (0.1, 0.25, 0.45, 0.7, 1.0)
PRISTINE = "pristine"


def _check_dist(d: Mapping[str, Any], where: str) -> Dict[str, Any]:
    d = dict(d)
    dist = d.get("dist", "uniform")
    if dist not in ("uniform", "beta"):
        raise ValueError(f"{where}: severity dist must be 'uniform' or 'beta', got {dist!r}")
    low, high = float(d.get("low", 0.0)), float(d.get("high", 1.0))
    if not (0.0 <= low <= high <= 1.0):
        raise ValueError(f"{where}: need 0 <= low <= high <= 1, got low={low}, high={high}")
    out = {"dist": dist, "low": low, "high": high}
    if dist == "beta":
        out["a"], out["b"] = float(d.get("a", 1.0)), float(d.get("b", 1.0))
    return out


def draw_severity(dist: Mapping[str, Any], rng: np.random.Generator) -> float:
    """One severity draw from a checked distribution dict."""
    low, high = dist["low"], dist["high"]
    u = rng.beta(dist["a"], dist["b"]) if dist["dist"] == "beta" else rng.random()
    return float(low + (high - low) * u)


class DegradationSampler:
    """Draws ``(kind, severity)`` from a config, applies it and labels the result.

    ``__call__(img, rng, source_set=None) -> (degraded, label, info)``: ``img`` is RGB uint8
    ``(H, W, 3)``; ``degraded`` has the same shape and dtype; ``label`` is a float in [0, 1],
    higher = better quality; ``info`` holds ``degradation``, ``severity``, ``level``,
    ``parts`` (chain steps), ``tag`` and ``source_quality``.
    """

    def __init__(self, config: Mapping[str, Any]) -> None:
        cfg = copy.deepcopy(dict(config))
        self.config = cfg
        self.pristine_prob = float(cfg.get("pristine_prob", 0.0))
        if not 0.0 <= self.pristine_prob < 1.0:
            raise ValueError(f"pristine_prob must be in [0, 1), got {self.pristine_prob}")
        default = _check_dist(cfg.get("severity", {}), "severity")
        entries = cfg.get("kinds")
        if not entries:
            raise ValueError("sampler config needs a non-empty 'kinds' list")
        self.entries: List[Dict[str, Any]] = []
        for i, e in enumerate(entries):
            e = {"kind": e} if isinstance(e, str) else dict(e)
            kind = e.get("kind")
            if kind not in KINDS:
                raise ValueError(f"kinds[{i}]: unknown degradation kind {kind!r}; known: {', '.join(KINDS)}")
            weight = float(e.get("weight", 1.0))
            if weight < 0:
                raise ValueError(f"kinds[{i}] ({kind}): weight must be >= 0")
            dist = _check_dist(e["severity"], f"kinds[{i}] ({kind})") if "severity" in e else default
            self.entries.append({"kind": kind, "weight": weight, "severity": dist, "tag": e.get("tag", kind)})
        w = np.array([e["weight"] for e in self.entries], float)
        if w.sum() <= 0:
            raise ValueError("sampler config: kind weights sum to 0")
        self.probs = w / w.sum()
        self.levels = tuple(float(v) for v in cfg.get("levels", DEFAULT_LEVELS))
        if list(self.levels) != sorted(self.levels) or not self.levels or self.levels[-1] > 1.0:
            raise ValueError(f"levels must be increasing values in (0, 1], got {self.levels}")
        label = dict(cfg.get("label", {}))
        scheme = label.get("scheme", "severity")
        if scheme != "severity":
            # FR-metric labels need the reference and pyiqa; they are computed by
            # eval/label_schemes.py for the comparison, not inside the sampler.
            raise ValueError(f"label scheme {scheme!r} is not supported by the sampler (use 'severity')")
        self.pristine_label = float(label.get("pristine", 1.0))
        self.source_quality: Dict[str, float] = {k: float(v) for k, v in label.get("source_quality", {}).items()}
        self.labeler = SeverityLabeler(label.get("curves"))
        # Off by default so that the pools of published releases are rebuilt unchanged.
        self.noop_is_pristine = bool(cfg.get("noop_is_pristine", False))
        away = cfg.get("away_from_typical")
        self.typical: Optional[TypicalReference] = TypicalReference.from_config(away) if away else None

    def fixed_params(self, img: np.ndarray, kind: str, rng: np.random.Generator) -> Dict[str, Any]:
        """The choices ``kind`` would draw at random that ``away_from_typical`` fixes instead
        (``{}`` without it). Consumes the same ``rng`` draws as the random choice, so every
        other draw of a sample stays what it was."""
        if self.typical is None:
            return {}
        if kind == "saturation":
            rng.random()  # the to-grey-or-not draw of degrade.photometric.saturation
            return {"direction": self.typical.saturation_direction(img)}
        if kind == "colour_cast":
            return {"theta": self.typical.cast_theta(img, float(rng.uniform(0.0, 2.0 * np.pi)))}
        return {}

    def level_of(self, severity: float) -> int:
        """Level index: 0 for pristine, else 1 + index of the first level edge >= severity."""
        if severity <= 0.0:
            return 0
        for i, edge in enumerate(self.levels):
            if severity <= edge + 1e-9:
                return i + 1
        return len(self.levels)

    def label(self, parts: List[Tuple[str, float]], source_set: Optional[str] = None) -> float:
        """Label of executed parts; the source prior scales it for sources of unknown quality."""
        base = self.pristine_label if not parts else self.pristine_label * self.labeler(parts)
        return float(base * self.source_quality.get(source_set or "", 1.0))

    def degrade(
        self, img: np.ndarray, kind: str, severity: float, rng: np.random.Generator,
        source_set: Optional[str] = None, tag: Optional[str] = None,
    ) -> Tuple[np.ndarray, float, Dict[str, Any]]:
        """Apply a fixed ``kind`` at ``severity`` (``kind='pristine'`` or severity 0: a copy)."""
        if kind == PRISTINE or severity <= 0.0:
            out, parts, kind, severity = img.copy(), [], PRISTINE, 0.0
        else:
            out, parts = apply_with_parts(img, kind, severity, rng, **self.fixed_params(img, kind, rng))
        # A severity label on an unchanged image is label noise: nothing was degraded.
        noop = bool(parts) and self.noop_is_pristine and np.array_equal(out, img)
        info = {
            "degradation": kind,
            "severity": float(severity),
            "level": self.level_of(severity),
            "parts": ">".join(f"{k}:{s:.3f}" for k, s in parts),
            "tag": tag or kind,
            "source_quality": self.source_quality.get(source_set or "", 1.0),
            "noop": noop,
        }
        return out, self.label([] if noop else parts, source_set), info

    def draw(self, rng: np.random.Generator) -> Tuple[str, float, str]:
        """Draw ``(kind, severity, tag)``; ``('pristine', 0.0, 'pristine')`` with pristine_prob."""
        if rng.random() < self.pristine_prob:
            return PRISTINE, 0.0, PRISTINE
        e = self.entries[int(rng.choice(len(self.entries), p=self.probs))]
        s = draw_severity(e["severity"], rng)
        if s <= 0.0:  # a zero draw would silently be pristine; keep it a (minimal) degradation
            s = 1e-3
        return e["kind"], s, e["tag"]

    def __call__(
        self, img: np.ndarray, rng: np.random.Generator, source_set: Optional[str] = None
    ) -> Tuple[np.ndarray, float, Dict[str, Any]]:
        """Draw a degradation, apply it to ``img`` and label it (see class docstring)."""
        kind, s, tag = self.draw(rng)
        return self.degrade(img, kind, s, rng, source_set=source_set, tag=tag)
