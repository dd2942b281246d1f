"""Cost of a metric: learned parameters, GFLOPs and milliseconds per image on this machine.

* Parameters: ``numel`` of the network's ``nn.Parameter`` s (fixed statistics such as
  NIQE's MVG model are buffers or plain tensors and are not counted).
* GFLOPs: ``torch.utils.flop_counter.FlopCounterMode`` over one call of the metric on the
  benchmark input; it counts convolutions and matrix products with FLOPs = 2 x MACs.
  Element-wise work is not counted, so classical metrics (NIQE, SSIM, ...) get a lower
  bound (often ~0).
* ms/image: median wall time of ``runs`` calls (after one warm-up) at batch size 1 on the
  CPU threads torch uses (``torch.get_num_threads()``, recorded with the result).

For learned pyiqa metrics whose weights cannot be downloaded here, :func:`random_weights`
builds the same architecture without any download (timm backbones with
``pretrained=False``, checkpoint loading skipped). Such rows are **timing only**: the
network computes the same operations on random weights, its scores mean nothing.
"""
from __future__ import annotations

import contextlib
import logging
import os
import statistics
import sys
import time
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import torch

logger = logging.getLogger(__name__)


def count_params(metric: Any) -> int:
    """Number of learned parameters of a pyiqa InferenceModel (its ``net``) or any nn.Module."""
    net = getattr(metric, "net", metric)
    return int(sum(p.numel() for p in net.parameters())) if isinstance(net, torch.nn.Module) else 0


def count_gflops(call: Callable[[], Any]) -> Tuple[float, float]:
    """``(GFLOPs, seconds)`` of one ``call()``: FLOPs = 2 x MACs of convolutions and matmuls, via FlopCounterMode."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    t0 = time.perf_counter()
    with counter, torch.no_grad():
        call()
    return counter.get_total_flops() / 1e9, time.perf_counter() - t0


class TimeBudgetExceeded(RuntimeError):
    """Raised inside a :func:`time_limit` block that ran out of time."""


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`TimeBudgetExceeded` in the main thread after ``seconds`` (SIGALRM; no-op elsewhere).

    The signal lands between Python-level ops, so a model forward is interrupted within
    about one layer: a metric that takes minutes per image cannot stall the benchmark.
    """
    import signal
    import threading

    if seconds <= 0 or not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise TimeBudgetExceeded(f"exceeded {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def time_ms(call: Callable[[], Any], runs: int = 5, warmup: bool = True, budget_s: float = 5.0) -> float:
    """Median milliseconds of ``call()`` over up to ``runs`` calls (at least one; stops once
    ``budget_s`` is spent, so a 15 s/image model is timed once, not five times)."""
    with torch.no_grad():
        if warmup:
            call()
        times: List[float] = []
        while len(times) < max(runs, 1):
            t0 = time.perf_counter()
            call()
            times.append((time.perf_counter() - t0) * 1000.0)
            if sum(times) / 1000.0 > budget_s:
                break
    return float(statistics.median(times))


def measure(metric: Any, x: torch.Tensor, ref: Optional[torch.Tensor] = None, runs: int = 5, slow_s: float = 10.0) -> Dict[str, Any]:
    """Parameters, GFLOPs and ms/image of ``metric`` on ``x`` (1, 3, H, W) in [0, 1] (and ``ref`` for FR).

    A metric whose counted call takes over ``slow_s`` seconds is timed by that call alone.
    """

    def call() -> Any:
        return metric(x, ref) if ref is not None else metric(x)

    out: Dict[str, Any] = {"params": count_params(metric), "input_hw": list(x.shape[-2:]), "threads": torch.get_num_threads()}
    warmed = True  # the counted call doubles as the timing warm-up
    counted_s = 0.0
    try:
        gflops, counted_s = count_gflops(call)
        out["gflops"] = round(gflops, 4)
    except TimeBudgetExceeded:
        raise
    except Exception as err:  # noqa: BLE001 - some ops are unsupported by the counter
        out["gflops"] = None
        out["gflops_note"] = f"FlopCounterMode failed: {type(err).__name__}: {err}"[:200]
        warmed = False
    if warmed and counted_s > slow_s:
        # one call already takes long: its time (counter overhead is small next to it) is the measurement
        out["ms_per_image"] = round(counted_s * 1000.0, 2)
        out["timing_note"] = "single call (timed with the FLOP counter on)"
    else:
        out["ms_per_image"] = round(time_ms(call, runs, warmup=not warmed), 2)
    if hasattr(os, "getloadavg"):  # shared machines: record how busy it was while timing
        out["load_avg_1m"] = round(os.getloadavg()[0], 2)
    return out


@contextlib.contextmanager
def no_weight_downloads() -> Iterator[None]:
    """Build pyiqa architectures without fetching any weights; restores everything on exit.

    Patches, for the duration only: ``timm.create_model`` (forces ``pretrained=False``),
    pyiqa's ``load_pretrained_network`` (no-op, also where arch modules imported it by
    name) and torchvision's ``WeightsEnum.get_state_dict`` (random init kept).
    """
    import timm
    import torchvision.models._api as tv_api
    from pyiqa.archs import arch_util

    orig_create = timm.create_model
    orig_load = arch_util.load_pretrained_network
    orig_get_sd = tv_api.WeightsEnum.get_state_dict
    orig_load_sd = torch.nn.Module.load_state_dict

    class _KeepRandom(dict):
        """Marker state dict: load_state_dict leaves the module's random init."""

    def create(*args: Any, **kwargs: Any) -> Any:
        kwargs["pretrained"] = False
        return orig_create(*args, **kwargs)

    def no_load(*args: Any, **kwargs: Any) -> None:
        return None

    def get_sd(self: Any, *args: Any, **kwargs: Any) -> Dict[str, Any]:
        return _KeepRandom()

    def load_sd(self: torch.nn.Module, state_dict: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(state_dict, _KeepRandom):
            return torch.nn.modules.module._IncompatibleKeys([], [])
        return orig_load_sd(self, state_dict, *args, **kwargs)

    swaps = {orig_create: create, orig_load: no_load}
    timm.create_model = create
    arch_util.load_pretrained_network = no_load
    tv_api.WeightsEnum.get_state_dict = get_sd
    torch.nn.Module.load_state_dict = load_sd
    _rebind(swaps)
    try:
        yield
    finally:
        timm.create_model = orig_create
        arch_util.load_pretrained_network = orig_load
        tv_api.WeightsEnum.get_state_dict = orig_get_sd
        torch.nn.Module.load_state_dict = orig_load_sd
        # arch modules imported inside the block bound the patched names: rebind the originals
        _rebind({create: orig_create, no_load: orig_load})


def _rebind(swaps: Dict[Any, Any]) -> None:
    for mod_name, mod in list(sys.modules.items()):
        if not mod_name.startswith("pyiqa.") or mod is None:
            continue
        for attr in ("create_model", "load_pretrained_network"):
            value = getattr(mod, attr, None)
            if value is not None and value in swaps:
                setattr(mod, attr, swaps[value])


def signature(name: str, metric: Any, size: int) -> str:
    """Key of a timing measurement: architecture class, parameter shapes, the metric options
    that change computation (not :data:`~mspt_pyiqa.bench.catalog.WEIGHT_ONLY_OPTIONS`),
    input size, torch threads and version."""
    import hashlib
    import json

    from pyiqa.default_model_configs import DEFAULT_CONFIGS

    from mspt_pyiqa.bench.catalog import RANDOM_BUILD_OPTIONS, WEIGHT_ONLY_OPTIONS

    opts = dict(DEFAULT_CONFIGS.get(name, {}).get("metric_opts", {}))
    opts.update(RANDOM_BUILD_OPTIONS.get(name, {}))
    opts = {k: v for k, v in opts.items() if k not in WEIGHT_ONLY_OPTIONS}
    net = getattr(metric, "net", metric)
    shapes = [(k, list(v.shape)) for k, v in net.state_dict().items()] if isinstance(net, torch.nn.Module) else []
    blob = json.dumps([type(net).__name__, sorted(opts.items(), key=str), shapes, size, torch.get_num_threads(), torch.__version__], default=str)
    return f"{type(net).__name__}-{hashlib.sha1(blob.encode()).hexdigest()[:16]}"


def random_weights(name: str, device: str = "cpu") -> Any:
    """pyiqa metric ``name`` built with random weights (timing only); raises when it cannot be built.

    Options from :data:`mspt_pyiqa.bench.catalog.RANDOM_BUILD_OPTIONS` are applied (e.g. no
    face-alignment detector, whose weights are a separate download).
    """
    import pyiqa

    from mspt_pyiqa.bench.catalog import RANDOM_BUILD_OPTIONS

    opts = RANDOM_BUILD_OPTIONS.get(name, {})
    with no_weight_downloads(), contextlib.redirect_stdout(sys.stderr):
        return pyiqa.create_metric(name, device=device, as_loss=False, **opts)
