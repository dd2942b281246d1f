"""Backbone construction for MSPTNet: this package's own plain-torch twins, or timm.

:data:`NATIVE_BACKBONES` maps a timm model name to a builder written in this package whose
module names, state-dict keys, outputs and seeded initialisation are those of
``timm.create_model(name, num_classes=..., drop_rate=...)`` (tested against timm in
``tests/test_native_backbone.py``). Building one imports neither timm nor torchvision, which
is most of the torch scoring path's start-up time (``eval/reports/start_time.md``). Any other
name is built by timm, imported only then.
"""
from __future__ import annotations

import logging
from typing import Callable, Dict, Tuple

from torch import nn

from mspt_pyiqa.archs.mobilenetv3_small import mobilenetv3_small_100

logger = logging.getLogger(__name__)

#: timm model name -> ``builder(num_classes=..., drop_rate=...)`` of its plain-torch twin.
NATIVE_BACKBONES: Dict[str, Callable[..., nn.Module]] = {
    "mobilenetv3_small_100": mobilenetv3_small_100,
}
#: ``auto``: the native twin when :data:`NATIVE_BACKBONES` has one, else timm.
BACKBONE_IMPLS: Tuple[str, ...] = ("auto", "native", "timm")


def resolve_backbone_impl(name: str, impl: str = "auto") -> str:
    """``"native"`` or ``"timm"``: which implementation builds backbone ``name`` under ``impl``.

    Raises:
        ValueError: ``impl`` is not one of :data:`BACKBONE_IMPLS`, or ``"native"`` is asked for a
            backbone without a native twin.
    """
    if impl not in BACKBONE_IMPLS:
        raise ValueError(f"backbone_impl must be one of {', '.join(BACKBONE_IMPLS)}, got {impl!r}")
    if impl == "auto":
        return "native" if name in NATIVE_BACKBONES else "timm"
    if impl == "native" and name not in NATIVE_BACKBONES:
        raise ValueError(
            f"no native implementation of backbone {name!r} (native: {', '.join(sorted(NATIVE_BACKBONES))}); "
            "use backbone_impl='timm'"
        )
    return impl


def build_backbone(name: str, num_classes: int = 1, drop_rate: float = 0.0, impl: str = "auto") -> nn.Module:
    """A randomly initialised backbone ``name`` with a ``num_classes``-output linear head.

    Args:
        name: timm model name (``mobilenetv3_small_100`` for MSPT).
        num_classes: Outputs of the head.
        drop_rate: Dropout before the head in train mode (timm's ``drop_rate``).
        impl: ``auto`` (native twin when there is one), ``native`` or ``timm``.
    """
    which = resolve_backbone_impl(name, impl)
    if which == "native":
        return NATIVE_BACKBONES[name](num_classes=num_classes, drop_rate=drop_rate)
    import timm  # only here: importing timm costs ~1.7 s (it pulls in torchvision and torch._dynamo)

    logger.debug("building backbone %s with timm", name)
    return timm.create_model(name, pretrained=False, num_classes=num_classes, drop_rate=drop_rate)
