"""Forgetting table: every stage's best checkpoint on every stage's validation set.

Each validation set is scored at its own stage's resolution (the ``network`` options of
that stage, ``test_img_size`` included), so row i / column j answers "how well does the
model after stage i still do on what stage j taught, as stage j saw it".
Metrics: SRCC and PLCC (pyiqa's ``calculate_metric``), higher is better.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Dict, List, Sequence

import numpy as np
import pandas as pd
import torch
from pyiqa.archs import build_network
from pyiqa.data import build_dataloader, build_dataset
from pyiqa.metrics import calculate_metric

from mspt_pyiqa.utils.io import atomic_write_text as write_text
from mspt_pyiqa.weights import read_checkpoint

logger = logging.getLogger(__name__)

_METRICS = {"srcc": {"type": "calculate_srcc"}, "plcc": {"type": "calculate_plcc"}}


@torch.no_grad()
def evaluate(checkpoint: Path, network_opt: Dict[str, Any], val_opt: Dict[str, Any], device: torch.device) -> Dict[str, float]:
    """SRCC / PLCC of ``checkpoint`` on one validation set (``network_opt`` fixes the resolution)."""
    net = build_network(dict(network_opt, pretrained=False)).to(device).eval()
    net.load_state_dict(read_checkpoint(Path(checkpoint)))
    dopt = dict(val_opt, phase="val")
    loader = build_dataloader(build_dataset(dopt), dopt, num_gpu=0, dist=False)
    preds, gts = [], []
    for data in loader:
        preds.append(net(data["img"].to(device)).float().view(-1).cpu())
        gts.append(data["mos_label"].float().view(-1))
    pred, gt = torch.cat(preds).numpy(), torch.cat(gts).numpy()
    keep = np.isfinite(pred) & np.isfinite(gt)
    return {m: float(calculate_metric([pred[keep], gt[keep]], o)) for m, o in _METRICS.items()}


def forgetting_table(stages: Sequence[Dict[str, Any]], device: torch.device) -> pd.DataFrame:
    """Long table ``checkpoint_stage, val_stage, resolution, srcc, plcc`` over all pairs.

    ``stages``: dicts with ``name``, ``checkpoint``, ``network`` (options), ``val`` (dataset options).
    """
    rows: List[Dict[str, Any]] = []
    for ck in stages:
        for vs in stages:
            metrics = evaluate(Path(ck["checkpoint"]), vs["network"], vs["val"], device)
            rows.append({"checkpoint_stage": ck["name"], "val_stage": vs["name"], "resolution": vs["network"].get("test_img_size"), **metrics})
    return pd.DataFrame(rows)


def to_markdown(table: pd.DataFrame) -> str:
    """Matrix view: rows = checkpoint after stage i, columns = stage j's val set, cells ``SRCC / PLCC``."""
    cols = list(dict.fromkeys(table["val_stage"]))
    res = {r.val_stage: r.resolution for r in table.itertuples()}
    lines = ["| checkpoint \\ val set | " + " | ".join(f"{c} ({res[c]} px)" for c in cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for ck in dict.fromkeys(table["checkpoint_stage"]):
        sub = table[table["checkpoint_stage"] == ck].set_index("val_stage")
        lines.append(f"| {ck} | " + " | ".join(f"{sub.loc[c, 'srcc']:.4f} / {sub.loc[c, 'plcc']:.4f}" for c in cols) + " |")
    return "\n".join(lines) + "\n\nCells: SRCC / PLCC (higher is better).\n"


def write_forgetting(table: pd.DataFrame, out_dir: Path) -> str:
    """Write ``forgetting.csv`` and ``forgetting.md`` atomically; return the markdown."""
    md = to_markdown(table)
    write_text(Path(out_dir) / "forgetting.csv", table.to_csv(index=False, float_format="%.6f"))
    write_text(Path(out_dir) / "forgetting.md", "# Forgetting table\n\n" + md)
    return md
