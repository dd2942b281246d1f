"""MSPT training-step time and scoring throughput on a CUDA GPU (or any torch device).

Usage (on a machine with a GPU; ``--device cpu`` works too, for a smoke run)::

    python eval/gpu_speed.py --device cuda --out eval/reports/gpu_speed_h200

What it times, for the MSPT network (timm ``mobilenetv3_small_100`` with ``num_classes=1``,
1,518,881 parameters: the module ``MSPTNet`` wraps; weights do not change the time, so it
starts from random initialisation and needs neither pyiqa nor the shipped checkpoint):

* training step: forward, MSE loss, backward and AdamW update on a batch of random images,
  as in the release trainer, at the paper's schedule (224 / 336 / 448 px) and at the default
  release's (its config; 160 / 192 / 224 px for mspt_face_v11); fp32 and bf16 autocast, NCHW and channels_last. Median of
  ``--steps`` steps after ``--warmup`` warm-up steps, each step ended by a device synchronise;
* scoring: forward only (``torch.inference_mode``) of a batch resized to 448 px as
  ``MSPTNet`` does (bilinear), images per second for several batch sizes.

Data loading and the synthetic degradations run on the CPU and are not timed here (the release
trainer builds them in its own process): the estimate of a full-resolution recipe's wall time
below is the GPU compute alone, a lower bound.
"""
from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path
from typing import Any, Callable, Dict, List

import numpy as np
import timm
import torch
import torch.nn.functional as F
import yaml

BACKBONE = "mobilenetv3_small_100"
REPO = Path(__file__).resolve().parents[1]
#: The paper's resolution schedule (MSPT, arXiv:2508.07590); the releases' own comes from their config.
PAPER_RESOLUTIONS = (224, 336, 448)


def default_release_config() -> Path:
    """Release config of the catalog's default weights (plain YAML: no pyiqa needed on a GPU box)."""
    default = yaml.safe_load((REPO / "weights" / "catalog.yaml").read_text())["default"]
    return REPO / "research" / "release" / "configs" / f"{default}.yml"


def recipe_stages(config: Path) -> List[Dict[str, int]]:
    """``[{iterations, batch_size, resolution}, ...]`` of a release config's stages, in order."""
    stages = yaml.safe_load(config.read_text())["stages"]
    return [{k: int(st[k]) for k in ("iterations", "batch_size", "resolution")} for st in stages]


def recipe_estimate(stages: List[Dict[str, int]], best: Dict[int, float], batch: int) -> List[Dict[str, Any]]:
    """GPU compute per stage (seconds = iterations x fastest measured s/step at the stage's side).

    Rows for the config's own schedule and for the paper's (same iterations, 224/336/448 px);
    a schedule is left out when a stage's batch size is not the measured ``batch`` or one of its
    resolutions was not measured.
    """
    if any(st["batch_size"] != batch for st in stages):
        return []
    rows = []
    for name, sched in (("release config", tuple(st["resolution"] for st in stages)),
                        ("paper", PAPER_RESOLUTIONS)):
        if len(sched) != len(stages) or not all(res in best for res in sched):
            continue
        secs = [round(st["iterations"] * best[res], 1) for st, res in zip(stages, sched)]
        rows.append({"schedule": name, "resolutions": "/".join(map(str, sched)), "stage_seconds": secs,
                     "total_s": round(sum(secs), 1)})
    return rows


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _median_seconds(fn: Callable[[], None], device: torch.device, warmup: int, steps: int) -> float:
    for _ in range(warmup):
        fn()
    _sync(device)
    times: List[float] = []
    for _ in range(steps):
        t0 = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def _net(device: torch.device, channels_last: bool) -> torch.nn.Module:
    torch.manual_seed(0)
    net = timm.create_model(BACKBONE, pretrained=False, num_classes=1).to(device)
    return net.to(memory_format=torch.channels_last) if channels_last else net


def train_step_seconds(device: torch.device, resolution: int, batch: int, bf16: bool, channels_last: bool,
                       warmup: int, steps: int) -> float:
    """Median seconds of one training step, shape ``(batch, 3, resolution, resolution)``."""
    net = _net(device, channels_last).train()
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    x = torch.rand(batch, 3, resolution, resolution, device=device).contiguous(memory_format=fmt)
    y = torch.rand(batch, device=device)

    def step() -> None:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            pred = net(x).squeeze(1)
        loss = F.mse_loss(pred.float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return _median_seconds(step, device, warmup, steps)


def score_images_per_second(device: torch.device, batch: int, size: int, bf16: bool, channels_last: bool,
                            warmup: int, steps: int, source: int = 512) -> float:
    """Images per second of scoring: resize ``(batch, 3, source, source)`` to ``size`` px, forward."""
    net = _net(device, channels_last).eval()
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    x = torch.rand(batch, 3, source, source, device=device)

    def forward() -> None:
        with torch.inference_mode(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            z = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
            net(z.contiguous(memory_format=fmt))

    return batch / _median_seconds(forward, device, warmup, steps)


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return platform.processor() or platform.machine()


def _markdown(info: Dict[str, Any], out: Path) -> str:
    lines = [f"# MSPT training-step time and scoring throughput on {info['device_name']}", "",
             f"Command: `python eval/gpu_speed.py --device {info['device']} --out {out}` (torch {info['torch']}, "
             f"timm {info['timm']}; median of {info['steps']} steps after {info['warmup']} warm-up steps; "
             "random weights and inputs: the time does not depend on them).", "",
             "## Training step (forward, MSE, backward, AdamW)", "",
             "| resolution | batch | precision | layout | s/step | images/s |", "|---:|---:|---|---|---:|---:|"]
    for r in info["train"]:
        lines.append(f"| {r['resolution']} | {r['batch']} | {r['precision']} | {r['layout']} | {r['s_per_step']:.4f} "
                     f"| {r['batch'] / r['s_per_step']:.0f} |")
    lines += ["", "## Scoring (512 px input resized to 448 px, forward only)", "",
              "| batch | precision | layout | images/s |", "|---:|---|---|---:|"]
    for r in info["score"]:
        lines.append(f"| {r['batch']} | {r['precision']} | {r['layout']} | {r['images_per_s']:.0f} |")
    lines += ["", "## The release recipe's stages at each schedule (GPU compute only)", "",
              f"Iterations {[st['iterations'] for st in info['stages']]} at batch {info['batch']} "
              f"({info['config']}), fastest layout and "
              "precision measured per resolution; data loading, degradation, teacher targets and validation excluded, "
              "so these are lower bounds on wall time.", "",
              "| schedule | resolutions | stage seconds | total (s) |", "|---|---|---|---:|"]
    for r in info["recipe_estimate"]:
        lines.append(f"| {r['schedule']} | {r['resolutions']} | {r['stage_seconds']} | {r['total_s']} |")
    return "\n".join(lines) + "\n"


def main(argv: List[str] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--out", type=Path, default=Path("eval/reports/gpu_speed"))
    parser.add_argument("--config", type=Path, default=None,
                        help="release config whose stages the estimate uses (default: the catalog default's)")
    parser.add_argument("--batch", type=int, default=None, help="training batch (default: the config's stage 1)")
    parser.add_argument("--score-batches", type=int, nargs="+", default=[1, 32, 256])
    parser.add_argument("--resolutions", type=int, nargs="+",
                        help="training-step sides (default: the paper's and the config's)")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args(argv)
    config = args.config or default_release_config()
    if not config.is_file():
        parser.error(f"--config {config}: no such release config")
    stages = recipe_stages(config)
    args.batch = args.batch or stages[0]["batch_size"]
    args.resolutions = args.resolutions or sorted(set(PAPER_RESOLUTIONS) | {st["resolution"] for st in stages})
    device = torch.device(args.device)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise SystemExit("--device cuda: torch sees no CUDA device")
        torch.backends.cudnn.benchmark = True  # fixed shapes: let cuDNN pick its fastest kernels
    variants = [(bf16, cl) for bf16 in (False, True) for cl in (False, True)]
    train: List[Dict[str, Any]] = []
    for res in args.resolutions:
        for bf16, cl in variants:
            s = train_step_seconds(device, res, args.batch, bf16, cl, args.warmup, args.steps)
            train.append({"resolution": res, "batch": args.batch, "precision": "bf16" if bf16 else "fp32",
                          "layout": "channels_last" if cl else "NCHW", "s_per_step": s})
            print(train[-1], flush=True)
    score: List[Dict[str, Any]] = []
    for batch in args.score_batches:
        for bf16, cl in variants:
            ips = score_images_per_second(device, batch, 448, bf16, cl, args.warmup, args.steps)
            score.append({"batch": batch, "precision": "bf16" if bf16 else "fp32",
                          "layout": "channels_last" if cl else "NCHW", "images_per_s": ips})
            print(score[-1], flush=True)
    best = {res: min(r["s_per_step"] for r in train if r["resolution"] == res) for res in args.resolutions}
    try:
        config_name = str(config.resolve().relative_to(REPO))
    except ValueError:  # a config outside the repository
        config_name = str(config)
    info = {"device": args.device, "device_name": _device_name(device), "torch": torch.__version__,
            "timm": timm.__version__, "warmup": args.warmup, "steps": args.steps, "train": train, "score": score,
            "config": config_name, "batch": args.batch, "stages": stages,
            "recipe_estimate": recipe_estimate(stages, best, args.batch)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(info, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(_markdown(info, args.out))
    print(_markdown(info, args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
