"""``MSPTModel``: pyiqa ``GeneralIQAModel`` with what multi-stage training needs.

Registered in pyiqa's ``MODEL_REGISTRY`` (``model_type: MSPTModel``), so a stage option
file runs under ``pyiqa.train.train_pipeline`` as well as under this package's runner.
Added to ``GeneralIQAModel``:

* the stage's starting weights (``path.pretrain_network``) read with
  :func:`mspt_pyiqa.weights.read_checkpoint`, their sha256 kept in ``pretrain_sha256``;
* losses from :class:`~mspt_pyiqa.train.losses.Objective` (MSE, PLCC, pairwise ranking,
  per-sample terms);
* anti-forgetting (``train.anti_forgetting``): ``distill`` (squared error to the frozen
  starting network's scores, and optionally pooled features, on replayed samples) and
  ``l2_pull`` (L2-SP: weight * sum of squared distances to the starting weights);
* ``train.ema_decay`` (EMA of the weights via torch's ``AveragedModel``; validation and
  the best checkpoint use the EMA weights) and ``train.amp`` (autocast + GradScaler, CUDA only);
* DDP on CPU (gloo) as well as GPU, atomic checkpoints and complete training states
  (network, EMA, optimiser, scheduler, RNG, best metrics) that resume on CPU.
"""
from __future__ import annotations

import random
from collections import OrderedDict
from copy import deepcopy
from pathlib import Path
from typing import Any, Dict, Optional

import numpy as np
import torch
from pyiqa.archs import build_network
from pyiqa.metrics import calculate_metric
from pyiqa.models.base_model import BaseModel
from pyiqa.models.general_iqa_model import GeneralIQAModel
from pyiqa.utils import get_root_logger
from pyiqa.utils.dist_util import master_only
from torch.nn.parallel import DistributedDataParallel
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from mspt_pyiqa.train.freeze import freeze_layers, hold_batchnorm
from mspt_pyiqa.train.losses import Objective
from mspt_pyiqa.utils.io import atomic_save
from mspt_pyiqa.weights import read_checkpoint, save_checkpoint, sha256_file

# Batch keys moved to the device besides the image (see mspt_pyiqa.data.datasets).
_EXTRA_KEYS = ("has_mos", "replay", "teacher_score", "teacher_feats", "seed", "index")


def atomic_torch_save(obj: Any, path: Path) -> None:
    """torch.save through a temp file beside ``path`` (a kill never leaves half a file).

    Saved through a file object, so the archive's inner name does not depend on the temp
    file's random name: equal objects give byte-identical files.
    """
    atomic_save(path, lambda f: torch.save(obj, f))


def rng_state() -> Dict[str, Any]:
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


@torch.no_grad()
def feature_projection(student: torch.nn.Module, teacher: torch.nn.Module, device: torch.device) -> torch.nn.Linear:
    """Linear map from the student's pooled features to the teacher's (sizes probed on a 64 px input)."""
    probe = torch.zeros(2, 3, 64, 64, device=device)
    was = student.training
    student.eval()
    s_dim = student(probe, return_features=True)[1].shape[1]
    student.train(was)
    t_dim = teacher(probe, return_features=True)[1].shape[1]
    return torch.nn.Linear(s_dim, t_dim).to(device)


def cosine_feature_term(proj: torch.nn.Module):
    """Per-sample ``1 - cos(proj(student features), teacher features)`` (the release trainer's
    feature distillation); samples without finite teacher features are masked out."""
    def term(outputs, batch):
        target = batch["teacher_feats"].float()
        mask = torch.isfinite(target).all(dim=1)
        per = 1.0 - torch.nn.functional.cosine_similarity(proj(outputs["features"].float()), torch.nan_to_num(target), dim=1)
        return torch.where(mask, per, torch.zeros_like(per)), mask
    return term


class MSPTModel(GeneralIQAModel):
    """Trainer of :class:`~mspt_pyiqa.archs.MSPTNet` for one stage (pyiqa model API)."""

    def __init__(self, opt: Dict[str, Any]) -> None:
        BaseModel.__init__(self, opt)  # GeneralIQAModel.__init__ would load weights its own way
        self.net = build_network(opt["network"])
        self.pretrain_sha256: Optional[str] = None
        load_path = opt["path"].get("pretrain_network")
        if load_path:
            state = read_checkpoint(Path(load_path))
            state = {k[7:] if k.startswith("module.") else k: v for k, v in state.items()}
            self.net.load_state_dict(state, strict=opt["path"].get("strict_load", True))
            self.pretrain_sha256 = sha256_file(Path(load_path))
            get_root_logger().info("loaded stage start weights %s (sha256 %s)", load_path, self.pretrain_sha256)
        elif opt.get("train", {}).get("init_head"):
            self._init_head(opt["train"]["init_head"])
        self.net = self.model_to_device(self.net)
        self.print_network(self.net)
        self.last_val: Dict[str, Dict[str, float]] = {}
        if self.is_train:
            self.init_training_settings()

    # ------------------------------------------------------------------ setup
    @torch.no_grad()
    def fit_hint_stats(self, loader, batches: int) -> None:
        """Teacher-target statistics of a feature-hints stage from the first ``batches`` training batches."""
        from mspt_pyiqa.train.feature_hints import teacher_maps

        t_maps, t_pooled = [], []
        for b, data in enumerate(loader):
            if b >= batches:
                break
            maps, pooled = teacher_maps(self.hint_teacher, data["img"].to(self.device), self.hints.teacher_taps)
            t_maps.append(maps)
            t_pooled.append(pooled)
        self.hints.fit_stats(t_maps, t_pooled)

    def reset_head(self, spec: Dict[str, Any]) -> None:
        """``train.final_head``: a fresh regression head (small weights, bias at the label mean) on
        the stage's result, e.g. after feature initialisation, where the head learnt nothing."""
        for net in {id(n): n for n in (self.get_bare_model(self.net), self.eval_network())}.values():
            self._init_head(spec, net)

    def _init_head(self, spec: Dict[str, Any], net: Optional[torch.nn.Module] = None) -> None:
        """Fresh stages: small head weights and a bias at the label mean.

        timm's default head init gives train-mode scores of +-3 on [0, 1] labels, so the
        first epochs only shrink the output scale; ``{weight_std: 0.001, bias: 0.5}``
        starts near the labels instead.
        """
        head = (net if net is not None else self.net).model.get_classifier()
        torch.nn.init.normal_(head.weight, std=float(spec.get("weight_std", 0.001)))
        torch.nn.init.constant_(head.bias, float(spec.get("bias", 0.5)))

    @master_only
    def print_network(self, net: torch.nn.Module) -> None:
        # One line instead of pyiqa's full module dump.
        bare = self.get_bare_model(net)
        get_root_logger().info("Network: %s, with parameters: %s", type(bare).__name__, f"{sum(p.numel() for p in bare.parameters()):,d}")

    def model_to_device(self, net: torch.nn.Module) -> torch.nn.Module:
        net = net.to(self.device)
        if self.opt["dist"]:
            # device_ids only on GPU: pyiqa's version calls CUDA and so fails on CPU / gloo.
            ids = [torch.cuda.current_device()] if self.device.type == "cuda" else None
            net = DistributedDataParallel(net, device_ids=ids, find_unused_parameters=self.opt.get("find_unused_parameters", False))
        return net

    def init_training_settings(self) -> None:
        self.net.train()
        train_opt = self.opt["train"]
        bare = self.get_bare_model(self.net)
        self.net_best = deepcopy(bare).to(self.device)
        self.objective = Objective(train_opt)
        af = train_opt.get("anti_forgetting") or {}
        self.distill_weight = float(af.get("distill", 0.0))
        self.distill_feat_weight = float(af.get("distill_features", 0.0))
        self.l2_pull_weight = float(af.get("l2_pull", 0.0))
        if not self.opt["path"].get("pretrain_network"):
            # A fresh stage has no previous stage to stay close to.
            self.distill_weight = self.distill_feat_weight = self.l2_pull_weight = 0.0
        needs_prev = bool(self.distill_weight or self.distill_feat_weight or self.l2_pull_weight)
        self.prev_net = None
        if needs_prev:
            # Frozen copy of the stage's starting weights (the previous stage's best).
            self.prev_net = deepcopy(bare).eval()
            for p in self.prev_net.parameters():
                p.requires_grad_(False)
            if self.distill_weight:
                self.objective.add_config_term("distill", {"pred": "score", "target": "prev_score", "mask": "replay", "weight": self.distill_weight})
            if self.distill_feat_weight:
                self.objective.add_config_term("distill_feat", {"pred": "features", "target": "prev_feats", "mask": "replay", "weight": self.distill_feat_weight})
        self.teacher_net = self.teacher_proj = None
        teacher = train_opt.get("teacher") or {}
        if float(teacher.get("feature_weight", 0.0)):
            # Online feature distillation: pooled (N, 1024) features of an MSPT-architecture
            # teacher on the same augmented batch (scores come from the cache instead).
            from mspt_pyiqa.train.teacher import build_teacher_network

            self.teacher_net = build_teacher_network(teacher, self.device)
            if teacher.get("feature_loss", "mse") == "cosine":
                # A teacher of another shape (e.g. MobileNetV2IQA, 1280-d): the student's pooled
                # features go through a trained linear projection, loss 1 - cosine similarity.
                self.teacher_proj = feature_projection(self.get_bare_model(self.net), self.teacher_net, self.device)
                self.objective.register_term("teacher_feat", cosine_feature_term(self.teacher_proj), float(teacher["feature_weight"]))
            else:
                self.objective.add_config_term("teacher_feat", {"pred": "features", "target": "teacher_feats", "weight": float(teacher["feature_weight"])})
        self.hints = self.hint_teacher = None
        if train_opt.get("feature_hints"):
            from mspt_pyiqa.train.feature_hints import FeatureHints
            from mspt_pyiqa.train.teacher import build_teacher_network

            fh = train_opt["feature_hints"]
            self.hint_teacher = build_teacher_network(fh["teacher"], self.device)
            self.hints = FeatureHints(fh.get("taps")).to(self.device)
        self.ladder_rank = self.ladder_teacher = self.ladder_cross = None
        if train_opt.get("ladder"):
            from mspt_pyiqa.train.losses import build_ladder_losses

            self.ladder_rank, self.ladder_teacher, self.ladder_cross = build_ladder_losses(train_opt["ladder"])
        # Each view of a two-view network also ranked on its own (weight x the ladder terms), so that
        # neither view can leave a damage to the other.
        self.view_weight = float((train_opt.get("ladder") or {}).get("view_weight") or 0.0)
        self.grad_clip_norm = float(train_opt.get("grad_clip_norm") or 0.0)
        decay = train_opt.get("ema_decay")
        self.net_ema = AveragedModel(bare, multi_avg_fn=get_ema_multi_avg_fn(float(decay)), use_buffers=True) if decay else None
        self.use_amp = bool(train_opt.get("amp", False)) and self.device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda") if self.use_amp else None
        # pyiqa's setup pops keys from the option dicts: keep the caller's copy intact.
        self.opt = dict(self.opt)
        self.opt["train"] = deepcopy(train_opt)
        self.setup_optimizers()
        # After the optimiser is built: a parameter without gradient is skipped by it (AdamW's
        # weight decay included), and pyiqa does not log a warning per frozen tensor.
        self.frozen_bn = freeze_layers(bare, train_opt["freeze"]) if train_opt.get("freeze") else []
        for extra in (self.teacher_proj, self.hints):
            if extra is not None:  # trained with the network, not saved in its checkpoint
                self.optimizer.add_param_group({"params": list(extra.parameters())})
        self.setup_schedulers()
        self.log_dict = OrderedDict()

    # ------------------------------------------------------------------ training step
    def feed_data(self, data: Dict[str, Any]) -> None:
        self.img_input = data["img"].to(self.device)
        self.detail_input = data["detail"].to(self.device) if "detail" in data else None
        self.gt_mos = data["mos_label"].to(self.device)
        self.batch = {k: data[k].to(self.device) for k in _EXTRA_KEYS if k in data}
        self.batch["mos_label"] = self.gt_mos
        self.use_ref = False

    def optimize_parameters(self, current_iter: int) -> None:
        hold_batchnorm(self.frozen_bn)
        self.optimizer.zero_grad(set_to_none=True)
        if self.hints is not None:  # a feature-initialisation stage: the hint losses only
            with torch.autocast(device_type=self.device.type, enabled=self.use_amp):
                losses = OrderedDict(l_hints=self.hints.loss(self.get_bare_model(self.net), self.hint_teacher, self.img_input))
            losses["l_total"] = self._step(losses).detach()
            self.log_dict = self.reduce_loss_dict(losses)
            return
        with torch.autocast(device_type=self.device.type, enabled=self.use_amp):
            score, feats = self.net(self.img_input, return_features=True, **self._detail_kw(self.net, self.detail_input))
            if self.prev_net is not None and (self.distill_weight or self.distill_feat_weight):
                with torch.no_grad():
                    self.batch["prev_score"], self.batch["prev_feats"] = self.prev_net(
                        self.img_input, return_features=True, **self._detail_kw(self.prev_net, self.detail_input))
            if self.teacher_net is not None:
                with torch.no_grad():
                    _, self.batch["teacher_feats"] = self.teacher_net(
                        self.img_input, return_features=True, **self._detail_kw(self.teacher_net, self.detail_input))
            losses = self.objective({"score": score, "features": feats}, self.batch)
            if self.l2_pull_weight:
                bare = self.get_bare_model(self.net)
                pull = sum((p - q).pow(2).sum() for p, q in zip(bare.parameters(), self.prev_net.parameters()))
                losses["l_l2_pull"] = self.l2_pull_weight * pull
        l_total = self._step(losses)
        losses["l_total"] = l_total.detach()
        self.output_score = score.detach()
        self.log_dict = self.reduce_loss_dict(losses)

    def _detail_kw(self, net: torch.nn.Module, detail: Optional[torch.Tensor]) -> Dict[str, torch.Tensor]:
        """``{"detail": views}`` for a network with a detail view when the batch has them, else ``{}``
        (a network without one, e.g. a one-view teacher, scores the image alone)."""
        if detail is None or getattr(self.get_bare_model(net), "detail_size", None) is None:
            return {}
        return {"detail": detail}

    def _step(self, losses: Dict[str, torch.Tensor]) -> torch.Tensor:
        """Backward of the summed losses, optional gradient clipping, optimiser and EMA update."""
        l_total = sum(losses.values())
        if self.scaler is not None:
            self.scaler.scale(l_total).backward()
            if self.grad_clip_norm:
                self.scaler.unscale_(self.optimizer)
        else:
            l_total.backward()
        if self.grad_clip_norm:
            params = [p for g in self.optimizer.param_groups for p in g["params"]]
            torch.nn.utils.clip_grad_norm_(params, self.grad_clip_norm)
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        if self.net_ema is not None:
            self.net_ema.update_parameters(self.get_bare_model(self.net))
        return l_total

    def ladder_losses(self, data: Dict[str, torch.Tensor]) -> "OrderedDict[str, torch.Tensor]":
        """Losses of one ladder batch (:class:`~mspt_pyiqa.train.ladder_data.LadderBatches`): the
        label losses plus ``train.ladder.loss`` (and ``teacher_loss`` / ``cross_loss`` when set), in train mode."""
        x = data["img"].to(self.device)
        mos = data["mos_label"].to(self.device).view(-1)
        group, anchor = data["ladder_group"].to(self.device), data["ladder_anchor"].to(self.device)
        detail = data["detail"].to(self.device) if "detail" in data else None
        kw = self._detail_kw(self.net, detail)
        views = None
        if self.view_weight and kw:
            score, views = self.net(x, return_views=True, **kw)
            score = score.view(-1)
        else:
            score = self.net(x, **kw).view(-1)
        losses = self.objective.label_losses(score, mos)
        losses["l_ladder_rank"] = self.ladder_rank(score, mos, group, anchor)
        if self.ladder_teacher is not None:
            losses["l_ladder_teacher"] = self.ladder_teacher(score, data["teacher_score"].to(self.device).view(-1), mos, group)
        if self.ladder_cross is not None:  # one ranking over every photo and kind of the batch
            losses["l_ladder_cross"] = self.ladder_cross(score, -data["ladder_severity"].to(self.device).view(-1))
        if views is not None:
            view_loss = sum(self.ladder_rank(views[:, i], mos, group, anchor) for i in range(views.shape[1]))
            if self.ladder_cross is not None:
                sev = -data["ladder_severity"].to(self.device).view(-1)
                view_loss = view_loss + sum(self.ladder_cross(views[:, i], sev) for i in range(views.shape[1]))
            losses["l_ladder_views"] = self.view_weight * view_loss / views.shape[1]
        return losses

    def optimize_ladder(self, data: Dict[str, torch.Tensor]) -> Dict[str, float]:
        """One optimiser step on a ladder batch; returns its losses as floats (``l_ladder_*``)."""
        hold_batchnorm(self.frozen_bn)
        self.optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device_type=self.device.type, enabled=self.use_amp):
            losses = self.ladder_losses(data)
        l_total = self._step(losses)
        return {"l_ladder_total": float(l_total.detach()), **{k: float(v.detach()) for k, v in losses.items() if k.startswith("l_ladder")}}

    # ------------------------------------------------------------------ evaluation
    def eval_network(self) -> torch.nn.Module:
        """The weights validated and saved as best: the EMA when enabled, else the bare net."""
        return self.net_ema.module if self.net_ema is not None else self.get_bare_model(self.net)

    def test(self) -> None:
        net = self.eval_network()
        was_training = net.training
        net.eval()
        with torch.no_grad():
            self.output_score = net(self.img_input)
        net.train(was_training)

    def nondist_validation(self, dataloader, current_iter, tb_logger, save_img) -> None:
        name = dataloader.dataset.opt["name"]
        preds, gts = [], []
        for data in dataloader:
            self.feed_data(data)
            self.test()
            preds.append(self.output_score.float().view(-1).cpu())
            gts.append(self.gt_mos.float().view(-1).cpu())
        pred, gt = torch.cat(preds).numpy(), torch.cat(gts).numpy()
        keep = np.isfinite(gt) & np.isfinite(pred)
        self.metric_results = {m: float(calculate_metric([pred[keep], gt[keep]], o)) for m, o in self.opt["val"]["metrics"].items()}
        self.last_val[name] = dict(self.metric_results)
        self._initialize_best_metric_results(name)
        key = self.key_metric or next(iter(self.metric_results))
        if self._update_best_metric_result(name, key, self.metric_results[key], current_iter):
            for m, v in self.metric_results.items():
                self._update_metric_result(name, m, v, current_iter)
            self.copy_model(self.eval_network(), self.net_best)
            self.save_network(self.net_best, "net_best")
        self._log_validation_metric_values(current_iter, name, tb_logger)

    # ------------------------------------------------------------------ saving / resuming
    @master_only
    def save_network(self, net, net_label, current_iter=None, param_key="params") -> None:
        label = net_label if current_iter is None else f"{net_label}_{'latest' if current_iter == -1 else current_iter}"
        meta = {"name": self.opt.get("name"), "network": dict(self.opt["network"]), "pretrain_sha256": self.pretrain_sha256}
        save_checkpoint(self.get_bare_model(net), Path(self.opt["path"]["models"]) / f"{label}.pth", meta)

    def save(self, epoch: int, current_iter: int, save_net_label: str = "net") -> None:
        self.save_network(self.eval_network(), save_net_label, current_iter)
        self.save_training_state(epoch, current_iter)

    def training_state(self, epoch: int, current_iter: int, **extra: Any) -> Dict[str, Any]:
        """Everything a bit-exact resume needs (CPU tensors only, loadable without CUDA)."""
        state = {
            "epoch": epoch,
            "iter": current_iter,
            "optimizers": [o.state_dict() for o in self.optimizers],
            "schedulers": [s.state_dict() for s in self.schedulers],
            "net": {k: v.detach().cpu() for k, v in self.get_bare_model(self.net).state_dict().items()},
            "net_best": {k: v.detach().cpu() for k, v in self.net_best.state_dict().items()},
            "ema": self.net_ema.state_dict() if self.net_ema is not None else None,
            "scaler": self.scaler.state_dict() if self.scaler is not None else None,
            "teacher_proj": self.teacher_proj.state_dict() if self.teacher_proj is not None else None,
            "hints": self.hints.state_dict() if self.hints is not None else None,
            "best_metric_results": deepcopy(getattr(self, "best_metric_results", None)),
            "rng": rng_state(),
        }
        state.update(extra)
        return state

    @master_only
    def save_training_state(self, epoch: int, current_iter: int, **extra: Any) -> None:
        if current_iter == -1:
            return
        path = Path(self.opt["path"]["training_states"]) / f"{current_iter}.state"
        atomic_torch_save(self.training_state(epoch, current_iter, **extra), path)

    def resume_training(self, resume_state: Dict[str, Any]) -> None:
        super().resume_training(resume_state)
        if "net" in resume_state:
            self.get_bare_model(self.net).load_state_dict(resume_state["net"])
            self.net_best.load_state_dict(resume_state["net_best"])
        if self.net_ema is not None and resume_state.get("ema") is not None:
            self.net_ema.load_state_dict(resume_state["ema"])
        if self.hints is not None and resume_state.get("hints") is not None:
            self.hints.load_state_dict(resume_state["hints"])
        if self.teacher_proj is not None and resume_state.get("teacher_proj") is not None:
            self.teacher_proj.load_state_dict(resume_state["teacher_proj"])
        if self.scaler is not None and resume_state.get("scaler") is not None:
            self.scaler.load_state_dict(resume_state["scaler"])
        if resume_state.get("best_metric_results") is not None:
            self.best_metric_results = resume_state["best_metric_results"]
            self.key_metric = self.opt["val"].get("key_metric")
        if "rng" in resume_state:
            set_rng_state(resume_state["rng"])


def load_training_state(path: Path) -> Dict[str, Any]:
    """Read a training state on CPU (pyiqa's loader maps to CUDA and fails without a GPU)."""
    return torch.load(Path(path), map_location="cpu", weights_only=False)
