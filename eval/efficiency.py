"""Efficiency report for MSPT: parameters, GFLOPs per input size, CPU latency and throughput.

Usage::

    python eval/efficiency.py --out eval/reports

Writes ``efficiency.json`` and ``efficiency.md``. FLOPs = 2 x MACs, counted by PyTorch's
``FlopCounterMode`` (convolutions and linear layers; element-wise ops are not counted).
The counters are those of the leaderboard harness (`mspt_pyiqa.bench.efficiency`). Other counters (thop, ptflops, fvcore), when installed, are listed for comparison at the
shipped size. The VQualA 2025 FIQA limits (<= 0.5 GFLOPs, <= 5M parameters) are checked at
the shipped input size (the catalog's default release, else 448 px).
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import warnings
from pathlib import Path
from typing import Any, Dict, List

import torch

import mspt_pyiqa  # noqa: F401  (registers mspt_face)
from mspt_pyiqa.archs import MSPTNet
from mspt_pyiqa.bench.efficiency import count_gflops, count_params, time_ms
from mspt_pyiqa.registration import metric_config

SIZES = (224, 336, 448, 512)
# VQualA 2025 FIQA challenge limits (challenge rules, quoted in the MSPT paper).
MAX_GFLOPS = 0.5
MAX_PARAMS = 5_000_000
PAPER = {"params": 1_518_881, "gflops": 0.4687, "size": 448}

logger = logging.getLogger("efficiency")


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def other_counters(net: torch.nn.Module, size: int) -> Dict[str, float]:
    """GFLOPs (2 x MACs) from other counters, where installed, for comparison."""
    out: Dict[str, float] = {}
    x = torch.rand(1, 3, size, size)
    warnings.filterwarnings("ignore")
    try:
        from thop import profile

        macs, _ = profile(net, (x,), verbose=False)
        out["thop (2 x MACs)"] = 2 * macs / 1e9
    except Exception:  # not installed or failed: the comparison is optional
        pass
    try:
        from ptflops import get_model_complexity_info

        macs, _ = get_model_complexity_info(net, (3, size, size), as_strings=False, print_per_layer_stat=False, verbose=False)
        out["ptflops pytorch backend (2 x MACs, incl. BN/activations)"] = 2 * macs / 1e9
    except Exception:
        pass
    try:
        from fvcore.nn import FlopCountAnalysis

        f = FlopCountAnalysis(net, x)
        f.unsupported_ops_warnings(False)
        f.uncalled_modules_warnings(False)
        out["fvcore (its 'flops' are MACs) x 2"] = 2 * f.total() / 1e9
    except Exception:
        pass
    return out


def run(out_dir: Path, repeats: int) -> Dict[str, Any]:
    shipped = int(metric_config()["metric_opts"]["test_img_size"])
    rows: List[Dict[str, Any]] = []
    for size in SIZES:
        net = MSPTNet(pretrained=False, test_img_size=size).eval()
        x1, x16 = torch.rand(1, 3, size, size), torch.rand(16, 3, size, size)
        params = count_params(net)
        gflops, _ = count_gflops(lambda: net(x1))
        lat_ms = time_ms(lambda: net(x1), runs=repeats, budget_s=60.0)
        thr_ms = time_ms(lambda: net(x16), runs=max(3, repeats // 4), budget_s=60.0)
        rows.append({
            "size": size, "params": params, "gflops": round(gflops, 4), "gmacs": round(gflops / 2, 4),
            "latency_ms_b1": round(lat_ms, 2),
            "throughput_img_s_b16": round(16 / (thr_ms / 1e3), 1),
        })
        logger.info("%s", rows[-1])
    at_shipped = next(r for r in rows if r["size"] == shipped)
    net = MSPTNet(pretrained=False, test_img_size=shipped).eval()
    report = {
        "machine": {"cpu": cpu_name(), "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                    "torch": torch.__version__, "python": sys.version.split()[0],
                    "load_average_1min_at_start": round(os.getloadavg()[0], 2)},
        "flop_convention": "FLOPs = 2 x MACs, torch.utils.flop_counter.FlopCounterMode (conv + linear)",
        "rows": rows,
        "shipped_size": shipped,
        "vquala_limits": {
            "max_gflops": MAX_GFLOPS, "max_params": MAX_PARAMS,
            "gflops_ok": at_shipped["gflops"] <= MAX_GFLOPS, "params_ok": at_shipped["params"] <= MAX_PARAMS,
        },
        "other_counters_at_shipped_size": other_counters(net, shipped),
        "paper": PAPER,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "efficiency.json").write_text(json.dumps(report, indent=2))
    (out_dir / "efficiency.md").write_text(markdown(report))
    return report


def markdown(r: Dict[str, Any]) -> str:
    m = r["machine"]
    lines = [
        "# MSPT efficiency", "",
        f"Produced by `python eval/efficiency.py --out eval/reports` on {m['cpu']}, {m['cores']} cores, "
        f"torch {m['torch']} with {m['torch_threads']} threads, Python {m['python']}; 1-minute load average "
        f"{m['load_average_1min_at_start']} when it started (other jobs on the machine make timings noisy).", "",
        f"GFLOPs convention: {r['flop_convention']}. Latency: median of repeated batch-1 forward passes "
        "(network only, input already a tensor); throughput: batch 16.", "",
        "| input (px) | parameters | GFLOPs | GMACs | CPU latency, batch 1 (ms) | CPU throughput, batch 16 (img/s) |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for row in r["rows"]:
        lines.append(f"| {row['size']} | {row['params']:,} | {row['gflops']:.4f} | {row['gmacs']:.4f} | "
                     f"{row['latency_ms_b1']:.2f} | {row['throughput_img_s_b16']:.1f} |")
    lim = r["vquala_limits"]
    ok = "PASS" if lim["gflops_ok"] and lim["params_ok"] else "FAIL"
    lines += [
        "", f"VQualA 2025 limits at the shipped size ({r['shipped_size']} px): <= {lim['max_gflops']} GFLOPs and "
        f"<= {lim['max_params']:,} parameters: **{ok}**.", "",
        f"The paper reports {r['paper']['params']:,} parameters (1.5189M) and {r['paper']['gflops']} GFLOPs at "
        f"{r['paper']['size']} px. Counters differ in what they count (element-wise ops, BatchNorm):",
        "",
    ]
    for name, val in r["other_counters_at_shipped_size"].items():
        lines.append(f"- {name}: {val:.4f} GFLOPs at {r['shipped_size']} px")
    if not r["other_counters_at_shipped_size"]:
        lines.append("- (no other counter installed)")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("eval/reports"))
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    report = run(args.out, args.repeats)
    print(markdown(report))
    lim = report["vquala_limits"]
    return 0 if lim["gflops_ok"] and lim["params_ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
