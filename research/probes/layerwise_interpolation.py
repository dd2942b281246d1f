"""Weight interpolation with one weight for the early layers and another for the late ones.

Every native-scale fine-tune interpolated with v11 (WiSE-FT, ``weight_interpolation.py``) trades
the model card's photometric order (it wants v11's share near 0.5) against real-world noise (it
wants the share near 0.3 or less). A reading to test: noise is a texture cue carried by the
early layers, the exposure / contrast / saturation order a global cue carried by the late ones.
If so, the early layers can stay near the fine-tune and the late ones near v11. Split by depth
at ``--split`` (a key prefix such as ``model.blocks.3``): every tensor before it (stem, first
blocks) takes ``--early-alpha``, it and everything after (later blocks, head, classifier)
``--late-alpha``; alpha is v11's share, as in ``weight_interpolation.py``. ``--stats-alpha``
sets the share of every BatchNorm running statistic apart (``--early-alpha 0 --late-alpha 0
--stats-alpha 1``: the fine-tune's weights with v11's statistics).

    python research/probes/layerwise_interpolation.py --fine-tuned runs/mspt_face_v12_probe_card224_teacher_kinds.pth \\
        --start weights/mspt_face_v11-f7ca512a.pth --split model.blocks.3 --early-alpha 0.1 --late-alpha 0.6 \\
        --out runs/lwise_tk_e01_l06.pth
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Optional

import torch

from mspt_pyiqa.train.interpolation import interpolate_state
from mspt_pyiqa.utils.io import atomic_save
from mspt_pyiqa.weights import read_checkpoint, sha256_file


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--fine-tuned", required=True, type=Path)
    p.add_argument("--start", required=True, type=Path, help="the release the fine-tune started from")
    p.add_argument("--split", required=True, help="first key prefix of the late part, e.g. model.blocks.3")
    p.add_argument("--early-alpha", required=True, type=float, help="the start's share before --split")
    p.add_argument("--late-alpha", required=True, type=float, help="the start's share from --split on")
    p.add_argument("--stats-alpha", type=float, default=None,
                   help="the start's share of every BatchNorm running mean and variance (overrides the parts' alphas)")
    p.add_argument("--out", required=True, type=Path)
    a = p.parse_args(argv)
    fine, start = read_checkpoint(a.fine_tuned), read_checkpoint(a.start)
    keys = list(fine)
    cut = next((i for i, k in enumerate(keys) if k.startswith(a.split + ".") or k == a.split), None)
    if cut is None:
        p.error(f"--split {a.split}: no tensor of the checkpoint starts with it (e.g. {keys[len(keys) // 2]})")
    early, late = keys[:cut], keys[cut:]
    state = {**interpolate_state({k: fine[k] for k in early}, {k: start[k] for k in early}, a.early_alpha),
             **interpolate_state({k: fine[k] for k in late}, {k: start[k] for k in late}, a.late_alpha)}
    if a.stats_alpha is not None:  # e.g. 1.0 with both alphas 0: the fine-tune's weights, v11's statistics
        stats = [k for k in keys if k.endswith(("running_mean", "running_var"))]
        state.update(interpolate_state({k: fine[k] for k in stats}, {k: start[k] for k in stats}, a.stats_alpha))
    raw = torch.load(str(a.fine_tuned), map_location="cpu", weights_only=True)
    meta = dict(raw.get("meta") or {}) if isinstance(raw, dict) and "params" in raw else {}
    record = {"fine_tuned_sha256": sha256_file(a.fine_tuned), "start_sha256": sha256_file(a.start), "split": a.split,
              "early_weight": a.early_alpha, "late_weight": a.late_alpha, "stats_weight": a.stats_alpha}
    atomic_save(a.out, lambda f: torch.save({"params": state, "meta": {**meta, "interpolation": record}}, f))
    print(f"{a.out}: {len(early)} early tensors (alpha {a.early_alpha}), {len(late)} late (alpha {a.late_alpha}); "
          f"sha256 {sha256_file(a.out)[:16]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
