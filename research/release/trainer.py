"""Training the released mspt_face weights: an ImageNet teacher, then three MSPT stages.

Steps (config: ``research/release/configs/*.yml``):

1. pools of degraded faces per stage (train / val), a held-out test pool and a
   "levels" pool (every test photo at every kind and level) - see ``pools.py``;
2. the teacher: torchvision MobileNetV2 with ImageNet weights (``teacher.py``); its lower
   blocks are frozen and run once per image, its upper blocks and head are trained on the
   last stage's train pool; then its score and pooled features are cached for every pool;
3. the student (MSPTNet, MobileNetV3-Small from scratch, or with ``feature_init`` from the
   teacher's distilled intermediate features: ``feature_init.py``) is trained stage by stage, each
   stage from the previous stage's best checkpoint (path and sha256 recorded), on the stage's
   pool plus replay batches of earlier pools at their own resolution, with targets: label
   (MSE + PLCC loss), teacher score, teacher pooled features (through a linear projection),
   and on replay batches the frozen previous stage's score (anti-forgetting); with
   ``ema_decay`` in a stage, an exponential moving average of the weights (timm's
   ``ModelEmaV3``) is what is validated, checkpointed and passed on;
4. after each stage, BatchNorm statistics can be re-estimated over all resolutions so far;
5. the forgetting table (each stage checkpoint x each stage's val pool, at that stage's
   resolution) and the release figures on the test and levels pools.
"""
from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from timm.utils import ModelEmaV3
from torch import nn
from tqdm import tqdm

from mspt_pyiqa.archs import MSPTNet
from mspt_pyiqa.corpus.sampler import PRISTINE
from research.release.evaluate import correlations, predict, to_tensor
from research.release.ladders import kind_probabilities, ladder_batch, ranking_loss, teacher_difference_loss
from research.release.pools import Pool
from research.release.teacher import FEATURE_DIM, MobileNetV2Teacher
from mspt_pyiqa.weights import read_checkpoint, save_checkpoint, sha256_file

logger = logging.getLogger(__name__)


def plcc_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``(1 - PLCC) / 2`` over a batch of ``(B,)`` predictions and targets."""
    p, t = pred - pred.mean(), target - target.mean()
    return (1 - (p * t).sum() / (p.norm() * t.norm() + 1e-8)) / 2


def _batch(pool: Pool, idx: np.ndarray, flip: np.ndarray,
           memory_format: torch.memory_format = torch.contiguous_format) -> torch.Tensor:
    x = to_tensor(pool.images[idx])
    if flip.any():
        x[torch.from_numpy(flip)] = x[torch.from_numpy(flip)].flip(-1)
    return x.contiguous(memory_format=memory_format)


def memory_format_of(cfg: Dict[str, Any]) -> torch.memory_format:
    """``channels_last: true`` in a stage or teacher config: NHWC tensors, the same maths.

    Why: MobileNet's depthwise convolutions run ~1.5x faster per training step on 2 CPU cores
    in NHWC (``research/eval/train_step_speed.py``, report ``research/reports/train_step_speed.md``).
    Results match the default layout up to float rounding, not bit for bit.
    """
    return torch.channels_last if cfg.get("channels_last", False) else torch.contiguous_format


# ----------------------------------------------------------------------------- teacher
def fit_teacher(
    teacher: MobileNetV2Teacher, train: Pool, val: Pool, cfg: Dict[str, Any], seed: int
) -> Tuple[Dict[str, float], Tuple[np.ndarray, np.ndarray]]:
    """Train the teacher's upper blocks + head on cached lower features of ``train``.

    Returns the validation figures and the trained teacher's targets (score, pooled
    features) on ``train``, computed from the same cached lower features.
    """
    torch.manual_seed(seed)
    bs = int(cfg.get("batch_size", 64))
    with torch.no_grad():
        feats = torch.cat([teacher.lower(to_tensor(train.images[i:i + bs])).half()
                           for i in tqdm(range(0, len(train), bs), desc="teacher lower features", unit="batch")])
    labels = torch.from_numpy(train.labels)
    params = [p for p in teacher.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=float(cfg.get("lr", 1e-3)), weight_decay=1e-4)
    epochs = int(cfg.get("epochs", 4))
    steps = epochs * math.ceil(len(train) / bs)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=float(cfg.get("lr", 1e-3)), total_steps=steps)
    gen = torch.Generator().manual_seed(seed)
    teacher.train()
    for epoch in range(epochs):
        perm = torch.randperm(len(train), generator=gen)
        t0, total = time.time(), 0.0
        for i in range(0, len(train), bs):
            b = perm[i:i + bs]
            f = feats[b].float()
            if torch.rand(1, generator=gen).item() < 0.5:
                f = f.flip(-1)  # a mirrored face is the same quality; features mirror with it
            pred, _ = teacher.upper(f)
            loss = F.mse_loss(pred.squeeze(1), labels[b]) + plcc_loss(pred.squeeze(1), labels[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(b)
        logger.info("teacher epoch %d/%d loss %.4f (%.0f s)", epoch + 1, epochs, total / len(train), time.time() - t0)
    teacher.eval()
    val_fig = correlations(predict(lambda x: teacher(x)[0], val), val.labels)
    logger.info("teacher val SRCC %.4f PLCC %.4f", val_fig["srcc"], val_fig["plcc"])
    teacher.eval()
    with torch.no_grad():
        outs = [teacher.upper(feats[i:i + bs].float()) for i in range(0, len(train), bs)]
    return val_fig, (torch.cat([o[0] for o in outs]).squeeze(1).numpy(), torch.cat([o[1] for o in outs]).half().numpy())


@torch.no_grad()
def teacher_targets(teacher: MobileNetV2Teacher, pool: Pool, bs: int = 64,
                    memory_format: torch.memory_format = torch.contiguous_format) -> Tuple[np.ndarray, np.ndarray]:
    """Teacher score ``(N,)`` and pooled features ``(N, 1280)`` (float16) for a pool.

    Puts ``teacher`` in eval mode and in ``memory_format`` (it stays so; the values do not depend on it).
    """
    teacher.eval()
    teacher.to(memory_format=memory_format)
    scores, feats = [], []
    for i in tqdm(range(0, len(pool), bs), desc="teacher targets", unit="batch"):
        s, f = teacher(to_tensor(pool.images[i:i + bs]).contiguous(memory_format=memory_format))
        scores.append(s.squeeze(1).numpy())
        feats.append(f.half().numpy())
    return np.concatenate(scores), np.concatenate(feats)


# ----------------------------------------------------------------------------- student
class StageData:
    """A train pool with its cached teacher targets (and the previous stage's scores).

    ``ladders``: optional ladder pool (``ladders.py``) built with ``ladder_kinds`` (in that
    order) x ``ladder_bins`` severity bins per photo, for the within-photo ranking loss;
    ``ladder_t_score``: the teacher's ``(len(ladders),)`` scores of it, for the ladder
    ``teacher_weight`` term (``ladders.teacher_difference_loss``).
    """

    def __init__(self, pool: Pool, t_score: Optional[np.ndarray], t_feat: Optional[np.ndarray],
                 ladders: Optional[Pool] = None, ladder_kinds: Sequence[str] = (), ladder_bins: int = 0,
                 ladder_t_score: Optional[np.ndarray] = None) -> None:
        self.pool, self.t_score, self.t_feat = pool, t_score, t_feat
        self.ladders, self.ladder_kinds, self.ladder_bins = ladders, list(ladder_kinds), ladder_bins
        self.ladder_t_score = ladder_t_score
        self.prev_score: Optional[np.ndarray] = None


def reestimate_bn(net: MSPTNet, pools: List[Pool], batches_per_pool: int, bs: int, seed: int) -> None:
    """Recompute BatchNorm running statistics as a cumulative average over all ``pools``."""
    bns = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average
    rng = np.random.default_rng(seed)
    net.train()
    with torch.no_grad():
        for _ in range(batches_per_pool):
            for pool in pools:
                idx = rng.choice(len(pool), size=min(bs, len(pool)), replace=False)
                net(to_tensor(pool.images[idx]))
    for m in bns:
        m.momentum = 0.1
    net.eval()


def mean_val_srcc(net: MSPTNet, vals: List[Pool]) -> Tuple[float, List[Dict[str, float]]]:
    net.eval()
    figs = [correlations(predict(net, v), v.labels) for v in vals]
    return float(np.mean([f["srcc"] for f in figs])), figs


def _label_loss(pred: torch.Tensor, y: torch.Tensor, loss_w: Dict[str, float]) -> torch.Tensor:
    return loss_w.get("label", 1.0) * F.mse_loss(pred, y) + loss_w.get("plcc", 0.5) * plcc_loss(pred, y)


def _pool_loss(net: MSPTNet, proj: nn.Module, d: StageData, replayed: bool, bs: int,
               loss_w: Dict[str, float], rng: np.random.Generator,
               memory_format: torch.memory_format = torch.contiguous_format) -> torch.Tensor:
    """Loss of one random batch of a stage pool: labels, teacher targets, frozen previous stage."""
    idx = rng.choice(len(d.pool), size=min(bs, len(d.pool)), replace=False)
    x = _batch(d.pool, idx, rng.random(len(idx)) < 0.5, memory_format)
    y = torch.from_numpy(d.pool.labels[idx])
    pred, feat = net(x, return_features=True)
    pred = pred.squeeze(1)
    loss = _label_loss(pred, y, loss_w)
    has_t = torch.from_numpy(np.isfinite(d.t_score[idx])) if d.t_score is not None else None
    if has_t is not None and bool(has_t.any()):  # teacher targets exist for part of the pool
        ts = torch.from_numpy(d.t_score[idx])
        if loss_w.get("teacher_score", 0.0):
            loss = loss + loss_w["teacher_score"] * F.mse_loss(pred[has_t], ts[has_t])
        if loss_w.get("teacher_feat", 0.0):
            tf = torch.from_numpy(d.t_feat[idx]).float()[has_t]
            loss = loss + loss_w["teacher_feat"] * (1 - F.cosine_similarity(proj(feat[has_t]), tf, dim=1)).mean()
    if replayed and d.prev_score is not None and loss_w.get("prev_stage", 0.0):
        loss = loss + loss_w["prev_stage"] * F.mse_loss(pred, torch.from_numpy(d.prev_score[idx]))
    return loss


def _ladder_loss(net: MSPTNet, d: StageData, lcfg: Dict[str, Any], loss_w: Dict[str, float],
                 rng: np.random.Generator, memory_format: torch.memory_format = torch.contiguous_format) -> torch.Tensor:
    """Loss of one ladder batch: labels plus the within-ladder ranking hinge (``ladders.py``),
    plus ``teacher_weight`` x the teacher-difference term where the ladder has teacher scores."""
    assert d.ladders is not None
    kind_p = kind_probabilities(d.ladder_kinds, lcfg.get("kind_weights"))
    idx, group = ladder_batch(d.ladders, len(d.ladder_kinds), d.ladder_bins, int(lcfg.get("ladders_per_batch", 12)),
                              rng, kind_p)
    x = _batch(d.ladders, idx, rng.random(len(idx)) < 0.5, memory_format)
    y = torch.from_numpy(d.ladders.labels[idx])
    pred = net(x).squeeze(1)
    g = torch.from_numpy(group)
    rank = ranking_loss(pred, y, g, margin=float(lcfg.get("margin", 0.02)),
                        anchor=torch.from_numpy(d.ladders.kinds[idx] == PRISTINE),
                        anchor_weight=float(lcfg.get("pristine_weight", 1.0)))
    loss = _label_loss(pred, y, loss_w) + float(lcfg.get("rank_weight", 1.0)) * rank
    t_weight = float(lcfg.get("teacher_weight", 0.0))
    if t_weight:
        if d.ladder_t_score is None:
            raise ValueError("ladder teacher_weight is set but the ladder pool has no teacher scores")
        loss = loss + t_weight * teacher_difference_loss(pred, torch.from_numpy(d.ladder_t_score[idx]), y, g)
    return loss


def train_stage(
    stage: Dict[str, Any], k: int, data: List[StageData], vals: List[Pool], loss_w: Dict[str, float],
    out_dir: Path, init_ckpt: Optional[Path], seed: int,
) -> Dict[str, Any]:
    """Train stage ``k`` (0-based) on ``data[k]`` with replay of ``data[:k]``; return its record."""
    torch.manual_seed(seed + k)
    net = MSPTNet(pretrained=False, test_img_size=None, drop_rate=float(stage.get("drop_rate", 0.1)))
    record: Dict[str, Any] = {"stage": stage["name"], "resolution": data[k].pool.resolution}
    if init_ckpt is not None:
        net.load_state_dict(read_checkpoint(init_ckpt))
        record["init_checkpoint"] = str(init_ckpt)
        record["init_sha256"] = sha256_file(init_ckpt)
    else:
        # timm initialises a 1-output Linear U(-1, 1) (range 1/sqrt(fan_out)): scores start at
        # tens on [0, 1] labels. A regression head starts small, at the mean label.
        head = net.model.get_classifier()
        nn.init.normal_(head.weight, std=0.001)
        nn.init.constant_(head.bias, float(data[k].pool.labels.mean()))
    fmt = memory_format_of(stage)
    net.to(memory_format=fmt)
    proj = nn.Linear(1024, FEATURE_DIM)
    params = list(net.parameters()) + list(proj.parameters())
    iters, bs = int(stage["iterations"]), int(stage.get("batch_size", 48))
    opt = torch.optim.AdamW(params, lr=float(stage["lr"]), weight_decay=float(stage.get("weight_decay", 1e-4)))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=float(stage["lr"]), total_steps=iters,
                                                pct_start=float(stage.get("warmup", 0.1)))
    replay = float(stage.get("replay_fraction", 0.0)) if k > 0 else 0.0
    lcfg = stage.get("ladder") or {}
    ladder_frac = float(lcfg.get("fraction", 0.0)) if data[k].ladders is not None else 0.0
    eval_every = int(stage.get("eval_every", max(1, iters // 4)))
    best_path, last_path = out_dir / f"{stage['name']}_best.pth", out_dir / f"{stage['name']}_last.pth"
    best, history, t0, run_loss = -2.0, [], time.time(), 0.0
    # The averaged weights (when asked for) are the stage's output: validated, kept as best/last.
    ema = ModelEmaV3(net, decay=float(stage["ema_decay"])) if stage.get("ema_decay") else None
    out_net = ema.module if ema is not None else net
    for it in range(iters):
        net.train()
        rng = np.random.default_rng([seed, k, it])  # batch i depends on (seed, stage, i) only
        if ladder_frac and rng.random() < ladder_frac:
            loss = _ladder_loss(net, data[k], lcfg, loss_w, rng, fmt)
        else:
            src = int(rng.integers(0, k)) if rng.random() < replay else k
            loss = _pool_loss(net, proj, data[src], src < k, bs, loss_w, rng, fmt)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(params, 5.0)
        opt.step()
        sched.step()
        if ema is not None:
            ema.update(net, step=it + 1)  # step 1 copies the weights, later steps average
        run_loss += loss.item()
        if (it + 1) % eval_every == 0 or it + 1 == iters:
            score, figs = mean_val_srcc(out_net, vals[: k + 1])
            entry = {"iter": it + 1, "loss": run_loss / eval_every, "lr": sched.get_last_lr()[0],
                     "val": figs, "mean_val_srcc": score, "elapsed_s": round(time.time() - t0, 1)}
            if ema is not None:  # the raw weights too, to measure what averaging adds
                entry["raw_mean_val_srcc"], entry["raw_val"] = mean_val_srcc(net, vals[: k + 1])
            history.append(entry)
            logger.info("%s it %d/%d loss %.4f lr %.2e val SRCC %s%s (%.0f s)", stage["name"], it + 1, iters,
                        entry["loss"], entry["lr"], " ".join(f"{f['srcc']:.3f}" for f in figs),
                        "" if ema is None else " (raw %s)" % " ".join(f"{f['srcc']:.3f}" for f in entry["raw_val"]),
                        entry["elapsed_s"])
            run_loss = 0.0
            if score > best:
                best = score
                save_checkpoint(out_net, best_path, meta={"stage": stage["name"], "iter": it + 1, "mean_val_srcc": score,
                                                          "ema_decay": stage.get("ema_decay")})
    save_checkpoint(out_net, last_path, meta={"stage": stage["name"], "iter": iters, "ema_decay": stage.get("ema_decay")})
    record.update({"history": history, "best_mean_val_srcc": best, "train_seconds": round(time.time() - t0, 1)})
    if stage.get("bn_reestimate", False):
        net.load_state_dict(read_checkpoint(best_path))
        before, _ = mean_val_srcc(net, vals[: k + 1])
        reestimate_bn(net, [dd.pool for dd in data[: k + 1]], int(stage.get("bn_batches", 20)), bs, seed)
        after, _ = mean_val_srcc(net, vals[: k + 1])
        record["bn_reestimate"] = {"before": before, "after": after, "kept": after > before}
        logger.info("%s BN re-estimation over %d resolutions: mean val SRCC %.4f -> %.4f", stage["name"], k + 1, before, after)
        if after > before:
            save_checkpoint(net, best_path, meta={"stage": stage["name"], "bn_reestimated": True, "mean_val_srcc": after})
    record["best_checkpoint"] = str(best_path)
    record["best_sha256"] = sha256_file(best_path)
    (out_dir / f"{stage['name']}_record.json").write_text(json.dumps(record, indent=2))
    return record


def forgetting_table(ckpts: List[Path], names: List[str], vals: List[Pool]) -> List[Dict[str, Any]]:
    """Each stage checkpoint on each stage's val pool at that pool's resolution."""
    rows = []
    for name, ck in zip(names, ckpts):
        net = MSPTNet(pretrained=False, test_img_size=None)
        net.load_state_dict(read_checkpoint(ck))
        net.eval()
        for vname, v in zip(names, vals):
            fig = correlations(predict(net, v), v.labels)
            rows.append({"checkpoint": name, "val_set": vname, "resolution": v.resolution,
                         "srcc": round(fig["srcc"], 4), "plcc": round(fig["plcc"], 4)})
    return rows
