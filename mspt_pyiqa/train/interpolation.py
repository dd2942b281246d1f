"""Weight-space interpolation of a recipe's result with the release it started from (WiSE-FT).

A fine-tune on new data forgets part of what its start knew about data it no longer sees.
Interpolating the weights of the fine-tuned network and of its start,
``(1 - weight) * fine_tuned + weight * start`` (Wortsman et al., 2022, "Robust fine-tuning of
zero-shot models"), keeps much of the fine-tune's gain while recovering the start's behaviour
elsewhere, when the two lie in one linearly connected basin: a fine-tune chain that starts from
the release does. Measured for MSPT in ``research/experiment_log.md``.

Recipe key (``options/recipes/*.yml``)::

    weight_interpolation:
      start: "@release:mspt_face_v11"   # or a checkpoint path; the weights the chain started from
      weight: 0.3                       # the start's share in [0, 1]

After the last stage the runner writes ``<run>/interpolated.pth`` (the last stage's checkpoint
meta plus ``interpolation: {fine_tuned_sha256, start_sha256, weight}``) and records it in
``run.json``; ``--publish`` ships that file. Floating-point tensors (weights, BatchNorm running
statistics) are interpolated; integer buffers (``num_batches_tracked``) are the fine-tune's.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Mapping

import torch

from mspt_pyiqa.utils.io import atomic_save
from mspt_pyiqa.weights import read_checkpoint, sha256_file

#: File name of the interpolated checkpoint inside a run folder.
INTERPOLATED_NAME = "interpolated.pth"


def interpolate_state(fine: Mapping[str, torch.Tensor], start: Mapping[str, torch.Tensor], weight: float) -> Dict[str, torch.Tensor]:
    """``(1 - weight) * fine + weight * start`` for every floating-point tensor; other tensors from ``fine``.

    Raises ``ValueError`` for a weight outside [0, 1] or state dicts with different keys or shapes.
    """
    if not 0.0 <= float(weight) <= 1.0:
        raise ValueError(f"weight_interpolation.weight must be in [0, 1], got {weight!r}")
    if set(fine) != set(start):
        diff = sorted(set(fine) ^ set(start))
        raise ValueError(f"weight_interpolation: the checkpoints hold different tensors, e.g. {diff[:3]}")
    out: Dict[str, torch.Tensor] = {}
    for key, value in fine.items():
        other = start[key]
        if value.shape != other.shape:
            raise ValueError(f"weight_interpolation: {key} has shape {tuple(value.shape)} here and {tuple(other.shape)} in the start")
        if value.is_floating_point():
            out[key] = torch.lerp(value.float(), other.float(), float(weight)).to(value.dtype)
        else:
            out[key] = value.clone()
    return out


def write_interpolated(fine_tuned: Path, start: Path, weight: float, out: Path) -> Dict[str, Any]:
    """Write the interpolated checkpoint of ``fine_tuned`` and ``start`` to ``out`` (atomic, byte-stable).

    Keeps ``fine_tuned``'s ``meta`` (input size, detail view) and adds ``interpolation``.
    Returns ``{"checkpoint", "sha256", "fine_tuned_sha256", "start", "start_sha256", "weight"}``.
    """
    fine_tuned, start, out = Path(fine_tuned), Path(start), Path(out)
    raw = torch.load(str(fine_tuned), map_location="cpu", weights_only=True)
    meta = dict(raw.get("meta") or {}) if isinstance(raw, dict) and "params" in raw else {}
    record = {"fine_tuned_sha256": sha256_file(fine_tuned), "start_sha256": sha256_file(start), "weight": float(weight)}
    state = interpolate_state(read_checkpoint(fine_tuned), read_checkpoint(start), weight)
    atomic_save(out, lambda f: torch.save({"params": state, "meta": {**meta, "interpolation": record}}, f))
    return {"checkpoint": str(out), "sha256": sha256_file(out), "start": str(start), **record}
