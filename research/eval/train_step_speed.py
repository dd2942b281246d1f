"""CPU training-step time of MSPT in the default (NCHW) and channels_last (NHWC) layouts.

Usage::

    python -m research.eval.train_step_speed --out research/reports/train_step_speed

One step = forward, MSE loss, backward and AdamW update of MSPTNet (MobileNetV3-Small, from
random initialisation) on a batch of random images, as in the release trainer; the median of
``--steps`` timed steps after 3 warm-up steps, for each layout and resolution. This is what
the release configs' ``channels_last`` field (``research.release.trainer.memory_format_of``)
switches. The load average is recorded with the figures: on a shared machine they are slower.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any, Dict, List

import numpy as np
import torch
import torch.nn.functional as F

from mspt_pyiqa.archs import MSPTNet


def step_seconds(resolution: int, batch: int, channels_last: bool, steps: int, seed: int = 0) -> float:
    """Median seconds per training step at ``resolution`` px, batch ``batch``."""
    torch.manual_seed(seed)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    net = MSPTNet(pretrained=False, test_img_size=None).to(memory_format=fmt).train()
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
    x = torch.rand(batch, 3, resolution, resolution).contiguous(memory_format=fmt)
    y = torch.rand(batch)
    times: List[float] = []
    for i in range(3 + steps):
        t0 = time.perf_counter()
        loss = F.mse_loss(net(x).squeeze(1), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if i >= 3:
            times.append(time.perf_counter() - t0)
    return float(np.median(times))


def main(argv: List[str] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("research/reports/train_step_speed"))
    parser.add_argument("--resolutions", type=int, nargs="+", default=[160, 192, 224])
    parser.add_argument("--batch", type=int, default=48)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    rows: List[Dict[str, Any]] = []
    for res in args.resolutions:
        nchw = step_seconds(res, args.batch, False, args.steps)
        nhwc = step_seconds(res, args.batch, True, args.steps)
        rows.append({"resolution": res, "batch": args.batch, "nchw_s": round(nchw, 3), "channels_last_s": round(nhwc, 3),
                     "speedup": round(nchw / nhwc, 2)})
        print(rows[-1], flush=True)
    info = {"torch": torch.__version__, "threads": args.threads, "cpu": platform.processor() or platform.machine(),
            "load_average": [round(v, 2) for v in os.getloadavg()], "steps": args.steps, "rows": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(info, indent=2) + "\n")
    lines = ["# MSPT training-step time on CPU: NCHW vs channels_last", "",
             f"Command: `python -m research.eval.train_step_speed --out {args.out}` (torch {info['torch']}, {args.threads} threads, "
             f"load average after the run {info['load_average']}; median of {args.steps} steps after 3 warm-up steps).", "",
             "| resolution | batch | NCHW (s/step) | channels_last (s/step) | speed-up |", "|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['resolution']} | {r['batch']} | {r['nchw_s']} | {r['channels_last_s']} | {r['speedup']}x |" for r in rows]
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
