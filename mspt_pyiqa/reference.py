"""What a score means: reference points of a release, read from its reference file.

Each release can name a reference file in ``weights/catalog.yaml`` (``reference:
<release>_reference.json``, beside the checkpoint, so the metadata travels with the weights;
``mspt-face export`` copies it into the ONNX model's metadata as ``mspt_reference``). The file
is made by the native-scale yardstick (its command is in ``made_by``) and holds:

.. code-block:: text

    {"release": str, "made_by": str (the command), "photos": int,
     "clean_percentiles": [101 floats: percentiles 0..100 of the clean photos' scores],
     "conditions": [{"kind": str, "level": int, "setting": str (e.g. "JPEG quality 20"),
                     "p25": float, "median": float, "p75": float}, ...]}

Scores are MSPT scores (higher is better, about 0..1). :func:`describe` turns a score into
words ("between clean photos' 25th percentile and JPEG quality 20"); :meth:`Reference.percentile`
gives a score's percentile among the clean photos (0..100). Standard library and NumPy only.
"""
from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path
from typing import Any, List, Mapping, Optional, Sequence, Union

import numpy as np

logger = logging.getLogger(__name__)

ONNX_METADATA_KEY = "mspt_reference"


class ReferenceError(ValueError):
    """A reference file that does not follow the schema; the message names the file and the field."""


@dataclasses.dataclass(frozen=True)
class Condition:
    """Scores of the yardstick's photos under one degradation kind and level (quartiles)."""

    kind: str
    level: int
    setting: str
    p25: float
    median: float
    p75: float


@dataclasses.dataclass(frozen=True)
class Reference:
    """A release's reference points (see the module docstring for the fields)."""

    release: str
    made_by: str
    photos: int
    clean_percentiles: Sequence[float]
    conditions: Sequence[Condition]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "reference") -> "Reference":
        """Validated :class:`Reference`; :class:`ReferenceError` names ``source`` and the bad field."""
        def fail(what: str) -> ReferenceError:
            return ReferenceError(f"{source}: {what}")

        if not isinstance(data, Mapping):
            raise fail("expected a JSON object")
        for key in ("release", "made_by", "photos", "clean_percentiles", "conditions"):
            if key not in data:
                raise fail(f"missing field {key!r}")
        pct = data["clean_percentiles"]
        if not isinstance(pct, list) or len(pct) != 101 or not all(isinstance(v, (int, float)) for v in pct):
            raise fail("clean_percentiles must be a list of 101 numbers (percentiles 0..100)")
        if any(b < a for a, b in zip(pct, pct[1:])):
            raise fail("clean_percentiles must not decrease")
        conditions = []
        for i, c in enumerate(data["conditions"] or []):
            try:
                conditions.append(Condition(kind=str(c["kind"]), level=int(c["level"]), setting=str(c["setting"]),
                                            p25=float(c["p25"]), median=float(c["median"]), p75=float(c["p75"])))
            except (KeyError, TypeError, ValueError) as err:
                raise fail(f"conditions[{i}] is not {{kind, level, setting, p25, median, p75}} ({err})") from err
        return cls(release=str(data["release"]), made_by=str(data["made_by"]), photos=int(data["photos"]),
                   clean_percentiles=[float(v) for v in pct], conditions=conditions)

    def percentile(self, score: float) -> float:
        """Percentile (0..100) of ``score`` among the clean photos (linear between the stored percentiles)."""
        pct = np.asarray(self.clean_percentiles, dtype=np.float64)
        # np.interp needs strictly increasing x for a unique answer: ties take the middle percentile.
        xs, idx = np.unique(pct, return_inverse=True)
        ys = np.array([np.arange(101)[idx == k].mean() for k in range(len(xs))])
        return float(np.interp(score, xs, ys, left=0.0, right=100.0))

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), separators=(",", ":"))


def load_reference(path: Union[str, Path]) -> Reference:
    """Read and validate a reference file."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ReferenceError(f"{path}: cannot read the reference file ({err})") from err
    return Reference.from_dict(data, str(path))


def reference_for_release(name: Optional[str]) -> Optional[Reference]:
    """The reference of catalog release ``name`` (``None`` without a release or a reference file)."""
    if not name:
        return None
    from mspt_pyiqa.weights import load_catalog, package_weights_dir

    entry = load_catalog().get(name)
    file = getattr(entry, "reference", None) if entry else None
    if not file:
        return None
    return load_reference(package_weights_dir() / file)


def onnx_metadata(release: Optional[str]) -> dict:
    """ONNX metadata that carries a release's name and reference into an exported model."""
    ref = reference_for_release(release)
    meta = {"mspt_release": release} if release else {}
    if ref is not None:
        meta[ONNX_METADATA_KEY] = ref.to_json()
    return meta


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def describe(ref: Reference, score: float) -> str:
    """Words for ``score``: its percentile among clean photos and the nearest degradation medians around it.

    Example: ``"0.620: clean photos' 25th percentile; between JPEG quality 20 (median 0.580)
    and Gaussian blur sigma 1 (median 0.660)"``.
    """
    parts = [f"{score:.3f}: clean photos' {_ordinal(int(round(ref.percentile(score))))} percentile"]
    below = [c for c in ref.conditions if c.median <= score]
    above = [c for c in ref.conditions if c.median > score]
    lo = max(below, key=lambda c: c.median) if below else None
    hi = min(above, key=lambda c: c.median) if above else None
    if lo and hi:
        parts.append(f"between {hi.setting} (median {hi.median:.3f}) and {lo.setting} (median {lo.median:.3f})")
    elif hi:
        parts.append(f"below every degradation's median (lowest: {hi.setting}, {hi.median:.3f})")
    elif lo:
        parts.append(f"above every degradation's median (highest: {lo.setting}, {lo.median:.3f})")
    return "; ".join(parts)


def summary_lines(ref: Reference, scores: Sequence[float]) -> List[str]:
    """Lines for ``mspt-face score``'s summary: where the run's median and quartiles fall."""
    finite = [s for s in scores if s is not None and np.isfinite(s)]
    if not finite:
        return []
    q25, q50, q75 = (float(v) for v in np.percentile(finite, [25, 50, 75]))
    return [
        f"reference ({ref.release}, {ref.photos} clean photos; {len(ref.conditions)} degradation levels):",
        f"  median {describe(ref, q50)}",
        f"  25th percentile {describe(ref, q25)}",
        f"  75th percentile {describe(ref, q75)}",
    ]
