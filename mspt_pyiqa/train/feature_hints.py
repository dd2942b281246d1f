"""Feature initialisation from a teacher: the student's intermediate maps learn the teacher's.

timm's ImageNet MobileNetV3-Small weights cannot always be fetched; a MobileNetV2-ImageNet
teacher (:class:`~mspt_pyiqa.archs.teacher_arch.MobileNetV2IQA`) can. A ``train.feature_hints``
stage trains the student's backbone to reproduce the teacher's feature maps at equal strides
(FitNets-style hints: a 1x1 convolution maps each student map onto the teacher's channels) and
its pooled features (a linear map), against targets centred per channel and scaled to unit RMS
per tap (statistics of the first ``stats_batches`` training batches). The next stage starts from
the result (``final_head`` resets the regression head first).

Taps (student ``model.blocks[i]`` -> teacher ``features[j]``, strides 4 / 8 / 16 / 32):
blocks[0] (16 ch) -> features[3] (24), blocks[1] (24) -> features[6] (32), blocks[3] (48) ->
features[13] (96), blocks[5] (576) -> features[18] (1280); pooled 1024-d pre-logits -> 1280-d.

Option block::

    feature_hints:
      teacher: {type: checkpoint, path: "@teacher", network: {type: MobileNetV2IQA}}
      taps: {0: 3, 1: 6, 3: 13, 5: 18}
      stats_batches: 4
"""
from __future__ import annotations

from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import torch
from torch import nn

#: student ``model.blocks`` index -> teacher ``features`` index (equal strides 4, 8, 16, 32).
DEFAULT_TAPS: Dict[int, int] = {0: 3, 1: 6, 3: 13, 5: 18}
#: Output channels of ``mobilenetv3_small_100``'s blocks (timm) and of torchvision's
#: ``mobilenet_v2().features`` (blocks 0-18).
STUDENT_CHANNELS = (16, 24, 40, 48, 96, 576)
TEACHER_CHANNELS = (32, 16, 24, 24, 32, 32, 32, 64, 64, 64, 64, 96, 96, 96, 160, 160, 160, 320, 1280)
PRE_LOGITS_DIM = 1024
TEACHER_POOLED_DIM = 1280


def teacher_maps(teacher: nn.Module, x: torch.Tensor, taps: Sequence[int]) -> Tuple[List[torch.Tensor], torch.Tensor]:
    """Teacher (MobileNetV2IQA) maps at ``taps`` (features indices) and pooled ``(N, 1280)``
    features; ``x``: ``(N, 3, H, W)`` in [0, 1]."""
    h = (x - teacher.mean) / teacher.std
    maps = []
    for j, block in enumerate(list(teacher.lower_blocks) + list(teacher.upper_blocks)):
        h = block(h)
        if j in taps:
            maps.append(h)
    return maps, h.mean(dim=(2, 3))


def student_maps(net: nn.Module, x: torch.Tensor, taps: Sequence[int]) -> Tuple[List[torch.Tensor], torch.Tensor]:
    """Student (MSPTNet) block outputs at ``taps`` and its pooled ``(N, 1024)`` pre-logits features."""
    m = net.model
    h = m.bn1(m.conv_stem(net.preprocess(x)))
    maps = []
    for i, block in enumerate(m.blocks):
        h = block(h)
        if i in taps:
            maps.append(h)
    return maps, m.forward_head(h, pre_logits=True)


class FeatureHints(nn.Module):
    """1x1 convolutions (student -> teacher channels) per tap, a linear map for the pooled
    features, and the teacher's statistics that standardise its targets (buffers, so they are
    saved with a training state)."""

    def __init__(self, taps: Optional[Mapping[int, int]] = None) -> None:
        super().__init__()
        taps = {int(k): int(v) for k, v in (taps or DEFAULT_TAPS).items()}
        self.student_taps, self.teacher_taps = sorted(taps), [taps[i] for i in sorted(taps)]
        self.convs = nn.ModuleList(nn.Conv2d(STUDENT_CHANNELS[i], TEACHER_CHANNELS[taps[i]], 1) for i in self.student_taps)
        self.pooled = nn.Linear(PRE_LOGITS_DIM, TEACHER_POOLED_DIM)
        for k, j in enumerate(self.teacher_taps):
            self.register_buffer(f"mu{k}", torch.zeros(1, TEACHER_CHANNELS[j], 1, 1))
            self.register_buffer(f"sd{k}", torch.ones(()))
        self.register_buffer("mu_pooled", torch.zeros(1, TEACHER_POOLED_DIM))
        self.register_buffer("sd_pooled", torch.ones(()))
        self.register_buffer("fitted", torch.zeros((), dtype=torch.bool))

    @torch.no_grad()
    def fit_stats(self, t_maps: Iterable[List[torch.Tensor]], t_pooled: Iterable[torch.Tensor]) -> None:
        """Per-channel means and one RMS per tap of the teacher's maps (one list per batch) and pooled features."""
        t_maps, t_pooled = list(t_maps), list(t_pooled)
        for k, j in enumerate(self.teacher_taps):
            cat = torch.cat([b[k] for b in t_maps]).transpose(0, 1).reshape(TEACHER_CHANNELS[j], -1)
            mu = cat.mean(1, keepdim=True)
            getattr(self, f"mu{k}").copy_(mu.view(1, -1, 1, 1))
            getattr(self, f"sd{k}").copy_((cat - mu).pow(2).mean().sqrt().clamp_min(1e-12))
        cat = torch.cat(t_pooled)
        mu = cat.mean(0, keepdim=True)
        self.mu_pooled.copy_(mu)
        self.sd_pooled.copy_((cat - mu).pow(2).mean().sqrt().clamp_min(1e-12))
        self.fitted.fill_(True)

    def losses(self, s_maps: List[torch.Tensor], s_pooled: torch.Tensor, t_maps: List[torch.Tensor], t_pooled: torch.Tensor) -> List[torch.Tensor]:
        """MSE per tap (maps in tap order, then pooled) against standardised teacher targets."""
        out = []
        for k, (conv, s, t) in enumerate(zip(self.convs, s_maps, t_maps)):
            out.append(nn.functional.mse_loss(conv(s), (t - getattr(self, f"mu{k}")) / getattr(self, f"sd{k}")))
        out.append(nn.functional.mse_loss(self.pooled(s_pooled), (t_pooled - self.mu_pooled) / self.sd_pooled))
        return out

    def loss(self, student: nn.Module, teacher: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """Mean hint loss of a batch ``x`` (teacher frozen, no gradient through it)."""
        with torch.no_grad():
            t_maps, t_pooled = teacher_maps(teacher, x, self.teacher_taps)
        s_maps, s_pooled = student_maps(student, x, self.student_taps)
        return torch.stack(self.losses(s_maps, s_pooled, t_maps, t_pooled)).mean()
