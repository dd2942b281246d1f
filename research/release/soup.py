"""Uniform weight averaging ("model soup") of MSPT checkpoints, and the val figures to judge it.

Several stage-3 runs of one recipe that start from the same stage-2 checkpoint differ only in
their training draws. Averaging their weights (Wortsman et al., 2022, "Model soups") would give
one network of the same size (1,518,881 parameters, same GFLOPs) that averages out one run's
luck, if the runs stay in one linearly connected basin. Whether they do is measured, not assumed:
``python -m research.release.soup`` prints every ingredient's and the soup's mean val SRCC on
the release runner's val pools, with the ensemble of the ingredients' *scores* (k forward passes,
k times the FLOPs) as the reference a soup would have to approach.

Floating-point tensors (weights and BatchNorm running statistics) are averaged; integer buffers
(``num_batches_tracked``) are taken from the first checkpoint. ``--bn-reestimate`` instead
recomputes the running statistics over the stage train pools (``trainer.reestimate_bn``), since
the mean of several networks' statistics is not the statistics of the mean network.

Example::

    python -m research.release.soup --pools runs/mspt_face_v11/pools \\
        runs/mspt_face_v11/stage3_best.pth runs/mspt_face_v18/stage3_best.pth \\
        --out runs/soup_v11_v18.pth --report research/reports/release_soup.json
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch

from mspt_pyiqa.archs import MSPTNet
from research.release.evaluate import correlations, predict
from research.release.pools import Pool
from mspt_pyiqa.weights import read_checkpoint, save_checkpoint

logger = logging.getLogger(__name__)

#: Val pools of the release runner, one per stage (160, 192, 224 px in the shipped recipes).
VAL_POOLS = ("stage1_val.npz", "stage2_val.npz", "stage3_val.npz")
TRAIN_POOLS = ("stage1_train.npz", "stage2_train.npz", "stage3_train.npz")


def average_state_dicts(states: Sequence[Dict[str, torch.Tensor]], names: Sequence[str]) -> Dict[str, torch.Tensor]:
    """Uniform mean of ``states`` (same keys and shapes); ``names`` label them in errors.

    Floating-point tensors are averaged in float64 and cast back; other tensors (BatchNorm's
    ``num_batches_tracked``) are copied from the first state.
    """
    if len(states) < 2:
        raise ValueError(f"a soup needs at least two checkpoints, got {len(states)}")
    ref_keys = set(states[0])
    for name, sd in zip(names[1:], states[1:]):
        if set(sd) != ref_keys:
            diff = sorted(ref_keys.symmetric_difference(sd))[:5]
            raise ValueError(f"{name}: its keys differ from {names[0]}'s (e.g. {diff})")
    out: Dict[str, torch.Tensor] = {}
    for key, first in states[0].items():
        for name, sd in zip(names[1:], states[1:]):
            if sd[key].shape != first.shape:
                raise ValueError(f"{name}: {key} has shape {tuple(sd[key].shape)}, "
                                 f"{names[0]} has {tuple(first.shape)}")
        if first.is_floating_point():
            out[key] = torch.stack([sd[key].double() for sd in states]).mean(0).to(first.dtype)
        else:
            out[key] = first.clone()
    return out


def load_net(state: Dict[str, torch.Tensor]) -> MSPTNet:
    """An eval-mode MSPT network (no resize: pools are already at their resolution)."""
    net = MSPTNet(pretrained=False, test_img_size=None)
    net.load_state_dict(state)
    net.eval()
    return net


def val_figures(preds: Sequence[np.ndarray], vals: Sequence[Pool]) -> Dict[str, object]:
    """Per-pool SRCC/PLCC of ``preds`` (one ``(N_i,)`` array per val pool) and their mean SRCC."""
    figs = [correlations(p, v.labels) for p, v in zip(preds, vals)]
    return {"mean_val_srcc": round(float(np.mean([f["srcc"] for f in figs])), 4),
            "val": [{"resolution": v.resolution, "srcc": round(f["srcc"], 4), "plcc": round(f["plcc"], 4)}
                    for f, v in zip(figs, vals)]}


def _write_json(path: Path, obj: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    with os.fdopen(fd, "w") as f:
        json.dump(obj, f, indent=2)
    os.replace(tmp, path)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="average MSPT checkpoints and compare them on the val pools")
    parser.add_argument("checkpoints", type=Path, nargs="+", help="two or more MSPT checkpoints")
    parser.add_argument("--pools", type=Path, required=True, help="a release run's pools/ folder")
    parser.add_argument("--out", type=Path, required=True, help="where to write the soup checkpoint")
    parser.add_argument("--report", type=Path, help="JSON with every row of the printed table")
    parser.add_argument("--bn-reestimate", action="store_true",
                        help="recompute BatchNorm statistics over the stage train pools instead of averaging them")
    parser.add_argument("--bn-batches", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    names = [str(p) for p in args.checkpoints]
    states = [read_checkpoint(p) for p in args.checkpoints]  # clear error naming a missing file
    missing = [n for n in VAL_POOLS if not (args.pools / n).is_file()]
    if missing:
        parser.error(f"{args.pools}: no {', '.join(missing)} (pass a release run's pools/ folder)")
    vals = [Pool.load(args.pools / n) for n in VAL_POOLS]
    soup = average_state_dicts(states, names)
    net = load_net(soup)
    if args.bn_reestimate:
        from research.release.trainer import reestimate_bn  # heavy import only when used
        reestimate_bn(net, [Pool.load(args.pools / n) for n in TRAIN_POOLS], args.bn_batches, 48, args.seed)

    rows = []
    all_preds = []
    with torch.no_grad():
        for name, sd in zip(names, states):
            preds = [predict(load_net(sd), v) for v in vals]
            all_preds.append(preds)
            rows.append({"model": name, **val_figures(preds, vals)})
        ens = [np.mean([p[i] for p in all_preds], axis=0) for i in range(len(vals))]
        rows.append({"model": f"score ensemble of {len(names)} (reference, {len(names)}x FLOPs)",
                     **val_figures(ens, vals)})
        rows.append({"model": f"soup of {len(names)}" + (" + BN re-estimated" if args.bn_reestimate else ""),
                     **val_figures([predict(net, v) for v in vals], vals)})
    sha = save_checkpoint(net, args.out, meta={"soup_of": names, "bn_reestimated": args.bn_reestimate})
    rows[-1]["checkpoint"], rows[-1]["sha256"] = str(args.out), sha

    print(f"{'model':<70} mean val SRCC   " + "   ".join(f"{v.resolution} px" for v in vals))
    for r in rows:
        print(f"{r['model']:<70} {r['mean_val_srcc']:.4f}         "
              + "  ".join(f"{x['srcc']:.4f}" for x in r["val"]))
    if args.report:
        _write_json(args.report, {"command": "python -m research.release.soup " + " ".join(sys.argv[1:] if argv is None else argv),
                                  "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
