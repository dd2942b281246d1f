"""ImageNet features into the from-scratch student before stage 1: intermediate-feature distillation.

timm's ImageNet MobileNetV3-Small weights cannot be fetched here, so the student starts from
random weights. The teacher (``teacher.py``: torchvision MobileNetV2 with ImageNet weights,
its upper blocks fitted to the corpus) is available; this step trains the student's backbone
to reproduce the teacher's feature maps at matching strides (FitNets-style hints: a 1x1
convolution maps each student map onto the teacher's channels) and its pooled features, on
the last stage's train pool. Stage 1 then starts from these weights instead of random ones.

Taps (student ``model.blocks[i]`` -> teacher ``features[j]``, same stride, so the same
spatial size at any input size): blocks[0] (16 ch, stride 4) -> features[3] (24 ch),
blocks[1] (24, s8) -> features[6] (32), blocks[3] (48, s16) -> features[13] (96),
blocks[5] (576, s32) -> features[18] (1280); and the pooled 1024-d ``pre_logits`` -> the
teacher's pooled 1280-d features. Teacher maps are standardised per channel (statistics of
the first batches) so that every tap weighs the same in the loss.
"""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any, Dict, List, Tuple

import numpy as np
import torch
from torch import nn

from mspt_pyiqa.archs import MSPTNet
# The block taps are the package's (one copy): the research teacher keeps the product class's layout.
from mspt_pyiqa.train.feature_hints import student_maps, teacher_maps  # noqa: F401  (re-exported)
from mspt_pyiqa.bench.cache import atomic_write_text
from research.release.evaluate import to_tensor
from research.release.pools import Pool
from research.release.teacher import FEATURE_DIM, MobileNetV2Teacher
from mspt_pyiqa.weights import save_checkpoint, sha256_file

logger = logging.getLogger(__name__)

#: student ``model.blocks`` index -> teacher ``features`` index (equal strides 4, 8, 16, 32).
DEFAULT_TAPS: Dict[int, int] = {0: 3, 1: 6, 3: 13, 5: 18}
#: Output channels of ``mobilenetv3_small_100``'s blocks (timm) and of torchvision's
#: ``mobilenet_v2().features`` (blocks 0-18).
STUDENT_CHANNELS = (16, 24, 40, 48, 96, 576)
TEACHER_CHANNELS = (32, 16, 24, 24, 32, 32, 32, 64, 64, 64, 64, 96, 96, 96, 160, 160, 160, 320, 1280)
PRE_LOGITS_DIM = 1024


class Hints(nn.Module):
    """1x1 convolutions (student -> teacher channels) per tap, a linear map for the pooled
    features, and the teacher's statistics used to standardise its targets."""

    def __init__(self, taps: Dict[int, int]) -> None:
        super().__init__()
        self.student_taps, self.teacher_taps = sorted(taps), [taps[i] for i in sorted(taps)]
        self.convs = nn.ModuleList(nn.Conv2d(STUDENT_CHANNELS[i], TEACHER_CHANNELS[taps[i]], 1)
                                   for i in self.student_taps)
        self.pooled = nn.Linear(PRE_LOGITS_DIM, FEATURE_DIM)
        self.stats: List[Tuple[torch.Tensor, torch.Tensor]] = []

    def fit_stats(self, t_maps: List[List[torch.Tensor]], t_pooled: List[torch.Tensor]) -> None:
        """Per-channel means and one RMS per tap of the teacher's maps and pooled features."""
        self.stats = []
        for k in range(len(self.teacher_taps)):
            cat = torch.cat([b[k] for b in t_maps]).transpose(0, 1).reshape(TEACHER_CHANNELS[self.teacher_taps[k]], -1)
            mu = cat.mean(1, keepdim=True)
            self.stats.append((mu.view(1, -1, 1, 1), (cat - mu).pow(2).mean().sqrt().clamp_min(1e-12)))
        cat = torch.cat(t_pooled)
        mu = cat.mean(0, keepdim=True)
        self.stats.append((mu, (cat - mu).pow(2).mean().sqrt().clamp_min(1e-12)))

    def losses(self, s_maps: List[torch.Tensor], s_pooled: torch.Tensor,
               t_maps: List[torch.Tensor], t_pooled: torch.Tensor) -> List[torch.Tensor]:
        """MSE per tap (maps in tap order, then pooled) against standardised teacher targets."""
        out = []
        for conv, s, t, (mu, sd) in zip(self.convs, s_maps, t_maps, self.stats):
            out.append(nn.functional.mse_loss(conv(s), (t - mu) / sd))
        mu, sd = self.stats[-1]
        out.append(nn.functional.mse_loss(self.pooled(s_pooled), (t_pooled - mu) / sd))
        return out


def _batch(pool: Pool, rng: np.random.Generator, bs: int, fmt: torch.memory_format) -> torch.Tensor:
    idx = rng.integers(0, len(pool), bs)
    x = to_tensor(pool.images[idx])
    flip = torch.from_numpy(rng.random(bs) < 0.5)
    x[flip] = x[flip].flip(-1)
    return x.contiguous(memory_format=fmt)


def feature_init(cfg: Dict[str, Any], teacher: MobileNetV2Teacher, pool: Pool, first_pool: Pool,
                 out_dir: Path, seed: int) -> Path:
    """Distil the teacher's features into a fresh MSPTNet; return its checkpoint path.

    Args:
        cfg: the recipe's ``feature_init`` block: ``iterations``, ``lr``, ``batch_size``
            (default 48), ``weight_decay`` (1e-4), ``stats_batches`` (4), ``channels_last``,
            optional ``taps`` ({student block: teacher block}, default ``DEFAULT_TAPS``).
        teacher: the fitted teacher (frozen here).
        pool: images to distil on (the runner passes the last stage's train pool).
        first_pool: stage 1's train pool; the regression head is reset to start at its mean
            label, as ``train_stage`` does for a from-scratch stage 1.
        out_dir: run folder; ``feature_init.pth`` and ``feature_init_record.json`` are
            written there, and an existing pair is reused (resume).
        seed: batch ``i`` depends on ``(seed, i)`` only.
    """
    path, rec_path = out_dir / "feature_init.pth", out_dir / "feature_init_record.json"
    if path.is_file() and rec_path.is_file():
        return path
    torch.manual_seed(seed)
    fmt = torch.channels_last if cfg.get("channels_last") else torch.contiguous_format
    net = MSPTNet(pretrained=False, test_img_size=None).to(memory_format=fmt)
    hints = Hints({int(k): int(v) for k, v in (cfg.get("taps") or DEFAULT_TAPS).items()})
    teacher.eval().to(memory_format=fmt)
    for p in teacher.parameters():
        p.requires_grad_(False)
    iters, bs = int(cfg["iterations"]), int(cfg.get("batch_size", 48))
    with torch.no_grad():  # target statistics from batches the loop never draws (seed offset)
        rng = np.random.default_rng([seed, 1])
        firsts = [teacher_maps(teacher, _batch(pool, rng, bs, fmt), hints.teacher_taps)
                  for _ in range(int(cfg.get("stats_batches", 4)))]
        hints.fit_stats([f[0] for f in firsts], [f[1] for f in firsts])
    params = list(net.parameters()) + list(hints.parameters())
    opt = torch.optim.AdamW(params, lr=float(cfg["lr"]), weight_decay=float(cfg.get("weight_decay", 1e-4)))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=float(cfg["lr"]), total_steps=iters, pct_start=0.1)
    t0, log_every, run, history = time.time(), max(1, iters // 10), np.zeros(len(hints.teacher_taps) + 1), []
    for it in range(iters):
        net.train()
        x = _batch(pool, np.random.default_rng([seed, 0, it]), bs, fmt)
        with torch.no_grad():
            t_maps, t_pooled = teacher_maps(teacher, x, hints.teacher_taps)
        s_maps, s_pooled = student_maps(net, x, hints.student_taps)
        parts = hints.losses(s_maps, s_pooled, t_maps, t_pooled)
        loss = torch.stack(parts).mean()
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(params, 5.0)
        opt.step()
        sched.step()
        run += np.array([p.item() for p in parts])
        if (it + 1) % log_every == 0 or it + 1 == iters:
            n = log_every if (it + 1) % log_every == 0 else (it + 1) % log_every
            history.append({"iter": it + 1, "losses": [round(float(v), 4) for v in run / n],
                            "elapsed_s": round(time.time() - t0, 1)})
            logger.info("feature init it %d/%d hint losses %s (%.0f s)", it + 1, iters,
                        " ".join(f"{v:.3f}" for v in run / n), time.time() - t0)
            run[:] = 0
    # A regression head that starts small, at stage 1's mean label (as train_stage's fresh start).
    head = net.model.get_classifier()
    nn.init.normal_(head.weight, std=0.001)
    nn.init.constant_(head.bias, float(first_pool.labels.mean()))
    save_checkpoint(net, path, meta={"stage": "feature_init", "iter": iters})
    record = {"taps": {str(s): t for s, t in zip(hints.student_taps, hints.teacher_taps)}, "iterations": iters,
              "batch_size": bs, "images": len(pool), "resolution": pool.resolution, "history": history,
              "train_seconds": round(time.time() - t0, 1), "checkpoint": str(path), "sha256": sha256_file(path)}
    atomic_write_text(rec_path, json.dumps(record, indent=2))  # written last: its presence means done
    return path
