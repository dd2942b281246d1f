"""``train.freeze``: layers a stage does not train (weights and BatchNorm statistics kept).

A list of parameter-name prefixes of the bare network, e.g. ``[model.conv_stem, model.bn1,
model.blocks.0]``. Their parameters get no gradient and their BatchNorm layers normalise with
the stored running statistics and never update them (eval mode on every training step), so the
frozen layers compute exactly what the start checkpoint computed.

Why: to keep what a start checkpoint's first layers compute while the rest adapts, the
training-time counterpart of taking those layers from the start after training. Measured for
MSPT's native-scale fine-tunes (``research/experiment_log.md``, E6): freezing v11's first
layers alone did not keep the model card's photometric order.
"""
from __future__ import annotations

from typing import List, Sequence

import torch


def _matches(name: str, prefixes: Sequence[str]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def freeze_layers(net: torch.nn.Module, prefixes: Sequence[str]) -> List[torch.nn.Module]:
    """Stop gradients to the parameters under ``prefixes``; returns their BatchNorm modules
    (for :func:`hold_batchnorm`). Raises ``ValueError`` naming a prefix that matches nothing."""
    prefixes = [str(p) for p in prefixes]
    names = [n for n, _ in net.named_parameters()]
    unknown = [p for p in prefixes if not any(_matches(n, [p]) for n in names)]
    if unknown:
        raise ValueError(f"train.freeze: {unknown} match no parameter of the network (e.g. {names[0]}, {names[len(names) // 2]})")
    for name, param in net.named_parameters():
        if _matches(name, prefixes):
            param.requires_grad_(False)
    return [m for n, m in net.named_modules()
            if _matches(n, prefixes) and isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]


def hold_batchnorm(modules: Sequence[torch.nn.Module]) -> None:
    """Eval mode for frozen BatchNorm layers (a network's ``train()`` turns them back on)."""
    for m in modules:
        m.eval()
