"""Training objective of a stage: label losses, per-sample target terms, configured in YAML.

Option block ``train.losses`` (all weights default 0 except ``mse``)::

    losses:
      mse: 1.0                 # per-sample squared error to the label target
      plcc: 1.0                # pyiqa's PLCC loss on the batch (correlation)
      rank: 0.0                # pairwise margin ranking loss on the batch (ladder_rank_loss, one group)
      rank_margin: 0.0
    per_sample_terms:          # extra per-sample squared-error terms (hooks, e.g. distillation)
      - {pred: score, target: prev_score, mask: replay, weight: 1.0}
      - {pred: features, target: teacher_feats, mask: null, weight: 0.1}

The label target of a sample is its MOS, or the teacher's score when it has none;
``teacher_mix`` in [0, 1] blends the teacher into labelled samples too. Scores are in
[0, 1], higher is better; ``pred: features`` is the pooled (N, 1024) feature vector.
Extra terms can be added in code with :meth:`Objective.register_term`.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Callable, Mapping, Optional

import torch
from torch import nn

# fn(outputs, batch) -> (per-sample loss (N,), mask (N,) bool)
TermFn = Callable[[Mapping[str, torch.Tensor], Mapping[str, torch.Tensor]], "tuple[torch.Tensor, torch.Tensor]"]


def ordered_pairs(labels: torch.Tensor, group: Optional[torch.Tensor] = None, min_gap: float = 1e-4) -> torch.Tensor:
    """``(B, B)`` bool: ``[i, j]`` where ``label_i > label_j + min_gap`` and ``i``, ``j`` share a
    group (a ladder: one photo, one degradation kind); ``group=None``: the whole batch is one group."""
    mask = (labels[:, None] - labels[None, :]) > min_gap
    return mask if group is None else mask & (group[:, None] == group[None, :])


def ladder_rank_loss(pred: torch.Tensor, labels: torch.Tensor, group: Optional[torch.Tensor] = None, margin: float = 0.02,
                     min_gap: float = 1e-4, anchor: Optional[torch.Tensor] = None, anchor_weight: float = 1.0,
                     margin_per_gap: float = 0.0) -> torch.Tensor:
    """Mean hinge ``relu(m_ij - (s_i - s_j))`` over the pairs of :func:`ordered_pairs` (the
    better-labelled image should score at least ``m_ij`` higher), with
    ``m_ij = margin + margin_per_gap * (label_i - label_j)``: a margin that grows with the label
    gap asks for scores spread in proportion to the labels, not only ordered.

    pred, labels, group: ``(B,)`` (scores and labels in [0, 1], higher = better; group ids).
    ``anchor`` (optional ``(B,)`` bool, e.g. level 0 = the clean photo of each ladder): a pair
    led by an anchor counts ``anchor_weight`` times; the sum is still divided by the number of
    pairs. Returns 0 with a graph when no pair is ordered. With ``group=None`` and
    ``min_gap=0`` it is the batch-wide pairwise margin ranking loss.
    """
    mask = ordered_pairs(labels, group, min_gap)
    if not bool(mask.any()):
        return pred.sum() * 0.0
    need = margin + margin_per_gap * (labels[:, None] - labels[None, :])[mask] if margin_per_gap else margin
    hinge = torch.relu(need - (pred[:, None] - pred[None, :])[mask])
    if anchor is None or anchor_weight == 1.0:
        return hinge.mean()
    if anchor_weight < 0:
        raise ValueError(f"ladder rank loss: pristine_weight must be >= 0, got {anchor_weight}")
    weight = torch.where(anchor[:, None].expand_as(mask)[mask], anchor_weight, 1.0).to(hinge.dtype)
    return (hinge * weight).sum() / hinge.numel()


def teacher_difference_loss(pred: torch.Tensor, teacher: torch.Tensor, labels: torch.Tensor, group: Optional[torch.Tensor] = None,
                            min_gap: float = 1e-4) -> torch.Tensor:
    """Mean ``((s_i - s_j) - (t_i - t_j)) ** 2`` over ordered same-ladder pairs the teacher also
    orders (``t_i > t_j``): the student copies how much worse each step looks to the teacher.

    pred (student), teacher, labels, group: ``(B,)``; non-finite teacher scores never qualify.
    Returns 0 with a graph when no pair qualifies.
    """
    mask = ordered_pairs(labels, group, min_gap) & (teacher[:, None] > teacher[None, :])
    if not bool(mask.any()):
        return pred.sum() * 0.0
    diff = (pred[:, None] - pred[None, :])[mask]
    t_diff = (teacher[:, None] - teacher[None, :])[mask]
    return ((diff - t_diff) ** 2).mean()


class LadderRankLoss(nn.Module):
    """Registered loss (``type: LadderRankLoss``): ``loss_weight`` x :func:`ladder_rank_loss`.

    forward(pred (B,), labels (B,), group (B,) or None, anchor (B,) bool or None) -> scalar.
    """

    def __init__(self, loss_weight: float = 1.0, margin: float = 0.02, min_gap: float = 1e-4, pristine_weight: float = 1.0,
                 margin_per_gap: float = 0.0) -> None:
        super().__init__()
        if pristine_weight < 0:
            raise ValueError(f"LadderRankLoss: pristine_weight must be >= 0, got {pristine_weight}")
        if margin_per_gap < 0:
            raise ValueError(f"LadderRankLoss: margin_per_gap must be >= 0, got {margin_per_gap}")
        self.loss_weight, self.margin, self.min_gap, self.pristine_weight = float(loss_weight), float(margin), float(min_gap), float(pristine_weight)
        self.margin_per_gap = float(margin_per_gap)

    def forward(self, pred: torch.Tensor, labels: torch.Tensor, group: Optional[torch.Tensor] = None,
                anchor: Optional[torch.Tensor] = None) -> torch.Tensor:
        return self.loss_weight * ladder_rank_loss(pred.view(-1), labels.view(-1), group, self.margin, self.min_gap, anchor,
                                                   self.pristine_weight, self.margin_per_gap)


class TeacherDifferenceLoss(nn.Module):
    """Registered loss (``type: TeacherDifferenceLoss``): ``loss_weight`` x :func:`teacher_difference_loss`."""

    def __init__(self, loss_weight: float = 1.0, min_gap: float = 1e-4) -> None:
        super().__init__()
        self.loss_weight, self.min_gap = float(loss_weight), float(min_gap)

    def forward(self, pred: torch.Tensor, teacher: torch.Tensor, labels: torch.Tensor, group: Optional[torch.Tensor] = None) -> torch.Tensor:
        return self.loss_weight * teacher_difference_loss(pred.view(-1), teacher.view(-1), labels.view(-1), group, self.min_gap)


def build_ladder_losses(ladder_opt: Mapping[str, Any]) -> "tuple[nn.Module, Optional[nn.Module], Optional[nn.Module]]":
    """The ladder rank loss, optional teacher-difference loss and optional cross-ladder loss of
    ``train.ladder`` (pyiqa's ``build_loss``: ``type`` names a registered loss, the other keys
    are its arguments).

    ``cross_loss`` (a ``LadderRankLoss``) ranks the whole ladder batch at once (every photo and
    kind in it) by the rows' ``severity`` (less severe = should score higher); its ``min_gap``
    is in severity units (levels), so only pairs at least that far apart count, and
    ``margin_per_gap`` is the score gap asked per level of severity gap.
    """
    from pyiqa.losses import build_loss

    import mspt_pyiqa.registration as registration

    registration.register()
    rank = build_loss(dict({"type": "LadderRankLoss"}, **(ladder_opt.get("loss") or {})))
    t_opt, c_opt = ladder_opt.get("teacher_loss"), ladder_opt.get("cross_loss")
    if t_opt:  # kinds / files pick the rows (LadderBatches), not arguments of the loss
        t_opt = {k: v for k, v in t_opt.items() if k not in ("kinds", "files")}
    return (rank, build_loss(dict({"type": "TeacherDifferenceLoss"}, **t_opt)) if t_opt else None,
            build_loss(dict({"type": "LadderRankLoss"}, **c_opt)) if c_opt else None)


def _masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    mask = mask.to(values.dtype)
    # Keeps the graph (and DDP's gradient buckets) alive when the mask is empty.
    return (values * mask).sum() / mask.sum().clamp(min=1.0)


class Objective:
    """Computes the weighted loss dict of one batch (see module docstring for options)."""

    def __init__(self, train_opt: Mapping[str, Any]) -> None:
        losses = dict(train_opt.get("losses") or {"mse": 1.0})
        self.w_mse = float(losses.get("mse", 1.0))
        self.w_plcc = float(losses.get("plcc", 0.0))
        self.w_rank = float(losses.get("rank", 0.0))
        self.rank_margin = float(losses.get("rank_margin", 0.0))
        self.teacher_mix = float((train_opt.get("teacher") or {}).get("mix", 0.0))
        self.terms: "OrderedDict[str, tuple]" = OrderedDict()
        for k, spec in enumerate(train_opt.get("per_sample_terms") or []):
            self.add_config_term(spec.get("name", f"term{k}_{spec['target']}"), spec)

    def add_config_term(self, name: str, spec: Mapping[str, Any]) -> None:
        """Per-sample squared error between an output (``score``/``features``) and a batch key."""
        pred_key, target_key, mask_key = spec.get("pred", "score"), spec["target"], spec.get("mask")
        if pred_key not in ("score", "features"):
            raise ValueError(f"per_sample_terms.{name}: pred must be 'score' or 'features', got {pred_key!r}")

        def term(outputs: Mapping[str, torch.Tensor], batch: Mapping[str, torch.Tensor]):
            pred, target = outputs[pred_key], batch[target_key].to(outputs[pred_key].dtype)
            per_sample = (pred - target).pow(2).flatten(1).mean(dim=1)
            mask = torch.isfinite(target.flatten(1)).all(dim=1)
            if mask_key:
                mask = mask & (batch[mask_key] > 0)
            return torch.where(mask, per_sample, torch.zeros_like(per_sample)), mask

        self.register_term(name, term, float(spec.get("weight", 1.0)))

    def register_term(self, name: str, fn: TermFn, weight: float = 1.0) -> None:
        """Add a per-sample loss ``fn(outputs, batch) -> (loss (N,), mask (N,))`` with a weight."""
        self.terms[name] = (fn, weight)

    def label_target(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """(N,) target: MOS, teacher score where MOS is missing, blended by ``teacher_mix``."""
        mos = batch["mos_label"].view(-1)
        teacher = batch.get("teacher_score")
        if teacher is None:
            return mos
        teacher = teacher.view(-1)
        blended = torch.where(torch.isfinite(teacher), (1 - self.teacher_mix) * mos + self.teacher_mix * teacher, mos)
        return torch.where(torch.isfinite(mos), blended, teacher)

    def label_losses(self, score: torch.Tensor, target: torch.Tensor) -> "OrderedDict[str, torch.Tensor]":
        """Weighted MSE / PLCC / batch ranking of ``score`` (N,) against ``target`` (N,) (NaN = no label)."""
        score, target = score.view(-1).float(), target.to(score.device).view(-1).float()
        valid = torch.isfinite(target)
        safe_target = torch.where(valid, target, torch.zeros_like(target))
        out: "OrderedDict[str, torch.Tensor]" = OrderedDict()
        if self.w_mse:
            out["l_mse"] = self.w_mse * _masked_mean((score - safe_target).pow(2), valid)
        n_valid = int(valid.sum())
        if self.w_plcc:
            # imported here: importing pyiqa runs its entry points, which register this module's losses
            from pyiqa.losses.iqa_losses import plcc_loss

            out["l_plcc"] = self.w_plcc * (plcc_loss(score[valid].view(-1, 1), target[valid].view(-1, 1)) if n_valid > 1 else score.sum() * 0.0)
        if self.w_rank:
            out["l_rank"] = self.w_rank * (ladder_rank_loss(score[valid], target[valid], None, self.rank_margin, min_gap=0.0) if n_valid > 1 else score.sum() * 0.0)
        return out

    def __call__(self, outputs: Mapping[str, torch.Tensor], batch: Mapping[str, torch.Tensor]) -> "OrderedDict[str, torch.Tensor]":
        out = self.label_losses(outputs["score"], self.label_target(batch))
        for name, (fn, weight) in self.terms.items():
            per_sample, mask = fn(outputs, batch)
            out[f"l_{name}"] = weight * _masked_mean(per_sample.float(), mask)
        return out
