"""Cost of a network: parameters, FLOPs (counted by PyTorch) and CPU timing helpers.

FLOP convention: ``torch.utils.flop_counter.FlopCounterMode`` counts a multiply-add as 2
FLOPs, so ``FLOPs = 2 x MACs``. The MSPT paper's 0.4687 GFLOPs at 448 px and the VQualA
2025 limit of 0.5 GFLOPs use that convention (see eval/reports/efficiency.md).
"""
from __future__ import annotations

import statistics
import time
from typing import Dict, Tuple

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def count_parameters(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


@torch.no_grad()
def count_flops(net: nn.Module, input_shape: Tuple[int, int, int, int]) -> int:
    """FLOPs (2 x MACs) of one forward pass on a ``(N, 3, H, W)`` input of that shape."""
    x = torch.rand(*input_shape)
    with FlopCounterMode(display=False) as counter:
        net(x)
    return int(counter.get_total_flops())


@torch.no_grad()
def time_forward(net: nn.Module, input_shape: Tuple[int, int, int, int], repeats: int = 20, warmup: int = 3) -> Dict[str, float]:
    """Wall-clock seconds per forward pass: median and min over ``repeats`` runs."""
    x = torch.rand(*input_shape)
    for _ in range(warmup):
        net(x)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        net(x)
        times.append(time.perf_counter() - start)
    return {"median_s": statistics.median(times), "min_s": min(times)}
