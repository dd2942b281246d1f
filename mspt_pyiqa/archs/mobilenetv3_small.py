"""MobileNetV3-Small (width 1.0) in plain torch: the MSPT backbone without importing timm.

Architecture: Howard et al., "Searching for MobileNetV3", ICCV 2019, Table 2 (MobileNetV3-Small),
with width multiplier 1.0. Every number of the network is in :data:`STAGES` below; the layout
follows that table row by row:

.. code-block:: text

    Table 2 row(s)      kernel  expanded      out  SE   act  stride    modules here
    conv2d              3x3     -             16   -    HS   2         conv_stem, bn1
    bneck 1             3x3     16            16   yes  RE   2         blocks.0.0 (no expansion conv)
    bneck 2-3           3x3     72, 88        24   -    RE   2, 1      blocks.1.0-1
    bneck 4-6           5x5     96, 240, 240  40   yes  HS   2, 1, 1   blocks.2.0-2
    bneck 7-8           5x5     120, 144      48   yes  HS   1, 1      blocks.3.0-1
    bneck 9-11          5x5     288, 576, 576 96   yes  HS   2, 1, 1   blocks.4.0-2
    conv2d 1x1          1x1     -             576  -    HS   1         blocks.5.0 (*)
    pool                global average                                 global_pool
    conv2d 1x1, no BN   1x1     -             1024 -    HS   1         conv_head (with bias), act2
    conv2d 1x1, no BN   (a linear layer here) k                        classifier

(*) Table 2 marks this row with SE; timm's model, and so the released weights, have none here.
RE = ReLU, HS = hard-swish. Squeeze-and-excitation (Hu et al. 2018, as in the paper's
section 5.3): global average, a 1x1 convolution down to a quarter of the expanded channels
rounded to a multiple of 8 (:func:`make_divisible`), ReLU, a 1x1 convolution back, and a
hard-sigmoid gate ``relu6(x + 3) / 6``. Batch norm: eps 1e-5, momentum 0.1. Convolutions are
zero-padded symmetrically by ``kernel // 2``. A block adds its input back (residual) when its
stride is 1 and its input and output channels are equal.

The module names and state-dict keys are those of ``timm.create_model('mobilenetv3_small_100',
num_classes=...)`` (timm 1.0), checked against the instantiated timm model in
``tests/test_native_backbone.py``: released MSPT checkpoints load with ``strict=True``, and the
outputs agree with timm's to float rounding (same operations in the same order). The random
initialisation is also the same as timm's for the same torch seed (modules are built in the
same order and re-initialised with the same scheme, :func:`init_weights`), so training runs
started from ``pretrained=False`` do not depend on which implementation built the network.

Shapes: input ``(N, 3, H, W)``, ImageNet-normalised (any H, W >= 1; the network is fully
convolutional); :meth:`MobileNetV3Small.forward_features` gives ``(N, 576, ceil(H/32),
ceil(W/32))``; :meth:`~MobileNetV3Small.forward_head` gives ``(N, 1024)`` pre-logits (hard-swish
outputs, >= -0.375) or ``(N, num_classes)`` logits (unbounded).
"""
from __future__ import annotations

import math
from typing import List, NamedTuple, Optional, Sequence, Type

import torch
import torch.nn.functional as F
from torch import nn

BN_EPS = 1e-5
STEM_CHANNELS = 16
LAST_CHANNELS = 576  # blocks.5 output = num_features
HEAD_CHANNELS = 1024  # conv_head output = pre-logits width
SE_RATIO = 0.25
SE_DIVISOR = 8


class BlockSpec(NamedTuple):
    """One row of Table 2: a bottleneck (``exp`` expanded channels) or, with ``exp=0``, a plain
    1x1 convolution + BN + activation."""

    kernel: int
    exp: int
    out: int
    se: bool
    act: str  # "relu" or "hardswish"
    stride: int


#: Table 2 of Howard et al. (2019), grouped into timm's stages (``blocks.i``).
STAGES: Sequence[Sequence[BlockSpec]] = (
    (BlockSpec(3, 16, 16, True, "relu", 2),),
    (BlockSpec(3, 72, 24, False, "relu", 2), BlockSpec(3, 88, 24, False, "relu", 1)),
    (BlockSpec(5, 96, 40, True, "hardswish", 2), BlockSpec(5, 240, 40, True, "hardswish", 1),
     BlockSpec(5, 240, 40, True, "hardswish", 1)),
    (BlockSpec(5, 120, 48, True, "hardswish", 1), BlockSpec(5, 144, 48, True, "hardswish", 1)),
    (BlockSpec(5, 288, 96, True, "hardswish", 2), BlockSpec(5, 576, 96, True, "hardswish", 1),
     BlockSpec(5, 576, 96, True, "hardswish", 1)),
    (BlockSpec(1, 0, LAST_CHANNELS, False, "hardswish", 1),),
)


def make_divisible(value: float, divisor: int = SE_DIVISOR) -> int:
    """``value`` rounded to the nearest multiple of ``divisor`` (at least ``divisor``), bumped up
    one step when rounding lost more than 10% (the MobileNet channel-rounding rule)."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def _activation(name: Optional[str]) -> nn.Module:
    if name is None:
        return nn.Identity()
    if name == "relu":
        return nn.ReLU(inplace=True)
    if name == "hardswish":
        return nn.Hardswish()
    raise ValueError(f"unknown activation {name!r}")


class BatchNormAct2d(nn.BatchNorm2d):
    """Batch norm followed by an activation (``act``); ``drop`` is an identity placeholder kept
    for timm's module names. Parameters and buffers are exactly ``nn.BatchNorm2d``'s."""

    def __init__(self, channels: int, act: Optional[str] = None) -> None:
        super().__init__(channels, eps=BN_EPS)
        self.drop = nn.Identity()
        self.act = _activation(act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.drop(super().forward(x)))


class SqueezeExcite(nn.Module):
    """Channel gate: ``x * hardsigmoid(expand(relu(reduce(mean_hw(x)))))``; ``(N, C, H, W)`` in and out."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        reduced = make_divisible(channels * SE_RATIO)
        self.conv_reduce = nn.Conv2d(channels, reduced, 1, bias=True)
        self.act1 = nn.ReLU(inplace=True)
        self.conv_expand = nn.Conv2d(reduced, channels, 1, bias=True)
        self.gate = nn.Hardsigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x.mean((2, 3), keepdim=True)
        s = self.conv_expand(self.act1(self.conv_reduce(s)))
        return x * self.gate(s)


def _conv(cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2, groups=groups, bias=False)


class DepthwiseSeparable(nn.Module):
    """Row 1 of Table 2 (expansion 1): depthwise conv, BN+act, SE, pointwise conv, BN."""

    def __init__(self, cin: int, spec: BlockSpec) -> None:
        super().__init__()
        self.conv_dw = _conv(cin, cin, spec.kernel, spec.stride, groups=cin)
        self.bn1 = BatchNormAct2d(cin, spec.act)
        self.aa = nn.Identity()
        self.se = SqueezeExcite(cin) if spec.se else nn.Identity()
        self.conv_pw = _conv(cin, spec.out, 1)
        self.bn2 = BatchNormAct2d(spec.out)
        self.drop_path = nn.Identity()
        self.has_skip = spec.stride == 1 and cin == spec.out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.bn2(self.conv_pw(self.se(self.aa(self.bn1(self.conv_dw(x))))))
        return self.drop_path(y) + x if self.has_skip else y


class InvertedResidual(nn.Module):
    """Bottleneck: 1x1 expansion conv, BN+act, depthwise conv, BN+act, SE, 1x1 projection, BN."""

    def __init__(self, cin: int, spec: BlockSpec) -> None:
        super().__init__()
        self.conv_pw = _conv(cin, spec.exp, 1)
        self.bn1 = BatchNormAct2d(spec.exp, spec.act)
        self.conv_dw = _conv(spec.exp, spec.exp, spec.kernel, spec.stride, groups=spec.exp)
        self.bn2 = BatchNormAct2d(spec.exp, spec.act)
        self.aa = nn.Identity()
        self.se = SqueezeExcite(spec.exp) if spec.se else nn.Identity()
        self.conv_pwl = _conv(spec.exp, spec.out, 1)
        self.bn3 = BatchNormAct2d(spec.out)
        self.drop_path = nn.Identity()
        self.has_skip = spec.stride == 1 and cin == spec.out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.bn2(self.conv_dw(self.bn1(self.conv_pw(x))))
        y = self.bn3(self.conv_pwl(self.se(self.aa(y))))
        return self.drop_path(y) + x if self.has_skip else y


class ConvBnAct(nn.Module):
    """The last row before pooling: 1x1 conv, BN + activation (no SE, no residual)."""

    def __init__(self, cin: int, spec: BlockSpec) -> None:
        super().__init__()
        self.conv = _conv(cin, spec.out, spec.kernel, spec.stride)
        self.bn1 = BatchNormAct2d(spec.out, spec.act)
        self.aa = nn.Identity()
        self.drop_path = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop_path(self.aa(self.bn1(self.conv(x))))


class GlobalAvgPool(nn.Module):
    """``(N, C, H, W)`` -> ``(N, C, 1, 1)`` mean over H and W (``flatten`` is an identity placeholder)."""

    def __init__(self) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.flatten(self.pool(x))


def _block(cin: int, spec: BlockSpec) -> nn.Module:
    kind: Type[nn.Module]
    if spec.exp == 0:
        kind = ConvBnAct
    elif spec.exp == cin:
        kind = DepthwiseSeparable
    else:
        kind = InvertedResidual
    return kind(cin, spec)


def init_weights(model: nn.Module) -> None:
    """The MobileNet / EfficientNet reference initialisation, module by module in
    ``named_modules`` order: conv weights ~ N(0, 2 / fan_out) with fan_out = k_h * k_w *
    out_channels / groups, biases 0; BN weight 1, bias 0; linear weights ~ U(-r, r) with
    r = 1 / sqrt(out_features), bias 0."""
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            fan_out = module.kernel_size[0] * module.kernel_size[1] * module.out_channels // module.groups
            module.weight.data.normal_(0, math.sqrt(2.0 / fan_out))
            if module.bias is not None:
                module.bias.data.zero_()
        elif isinstance(module, nn.BatchNorm2d):
            module.weight.data.fill_(1.0)
            module.bias.data.zero_()
        elif isinstance(module, nn.Linear):
            bound = 1.0 / math.sqrt(module.weight.size(0))
            module.weight.data.uniform_(-bound, bound)
            module.bias.data.zero_()


class MobileNetV3Small(nn.Module):
    """MobileNetV3-Small, width 1.0, ``num_classes`` outputs (0: no classifier).

    Args:
        num_classes: Outputs of the linear classifier (1 for MSPT's quality score).
        drop_rate: Dropout probability on the pre-logits features before the classifier,
            applied by :meth:`forward_head` in train mode (timm's ``drop_rate``).
        in_chans: Input channels.
    """

    def __init__(self, num_classes: int = 1000, drop_rate: float = 0.0, in_chans: int = 3) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.drop_rate = drop_rate
        self.in_chans = in_chans
        self.num_features = LAST_CHANNELS
        self.head_hidden_size = HEAD_CHANNELS
        self.conv_stem = _conv(in_chans, STEM_CHANNELS, 3, stride=2)
        self.bn1 = BatchNormAct2d(STEM_CHANNELS, "hardswish")
        # timm 1.0 builds (and discards) one 8-channel squeeze-excite module at this point, whose
        # default initialisation draws from torch's random generator; drawing the same numbers
        # keeps a seeded network's initial weights identical to timm's (see init_weights).
        SqueezeExcite(SE_DIVISOR)
        stages: List[nn.Module] = []
        cin = STEM_CHANNELS
        for stage in STAGES:
            blocks = []
            for spec in stage:
                blocks.append(_block(cin, spec))
                cin = spec.out
            stages.append(nn.Sequential(*blocks))
        self.blocks = nn.Sequential(*stages)
        self.global_pool = GlobalAvgPool()
        self.conv_head = nn.Conv2d(LAST_CHANNELS, HEAD_CHANNELS, 1, bias=True)
        self.norm_head = nn.Identity()
        self.act2 = nn.Hardswish()
        self.flatten = nn.Flatten(1)
        self.classifier: nn.Module = nn.Linear(HEAD_CHANNELS, num_classes) if num_classes > 0 else nn.Identity()
        init_weights(self)

    def get_classifier(self) -> nn.Module:
        """The final linear layer (``nn.Identity`` when ``num_classes=0``)."""
        return self.classifier

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the classifier by a fresh one with ``num_classes`` outputs (0: identity)."""
        self.num_classes = num_classes
        self.classifier = nn.Linear(HEAD_CHANNELS, num_classes) if num_classes > 0 else nn.Identity()

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, in_chans, H, W)`` normalised image -> ``(N, 576, ceil(H/32), ceil(W/32))`` feature map."""
        return self.blocks(self.bn1(self.conv_stem(x)))

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Feature map -> ``(N, 1024)`` pre-logits when ``pre_logits``, else ``(N, num_classes)``."""
        x = self.flatten(self.act2(self.norm_head(self.conv_head(self.global_pool(x)))))
        if pre_logits:
            return x
        if self.drop_rate > 0.0:
            x = F.dropout(x, p=self.drop_rate, training=self.training)
        return self.classifier(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, in_chans, H, W)`` normalised image -> ``(N, num_classes)``."""
        return self.forward_head(self.forward_features(x))


def mobilenetv3_small_100(num_classes: int = 1000, drop_rate: float = 0.0) -> MobileNetV3Small:
    """MobileNetV3-Small at width 1.0 (timm's ``mobilenetv3_small_100`` layout)."""
    return MobileNetV3Small(num_classes=num_classes, drop_rate=drop_rate)
