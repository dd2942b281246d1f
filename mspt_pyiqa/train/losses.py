"""Training objective of a stage: label losses, per-sample target terms, configured in YAML.

Option block ``train.losses`` (all weights default 0 except ``mse``)::

    losses:
      mse: 1.0                 # per-sample squared error to the label target
      plcc: 1.0                # pyiqa's PLCC loss on the batch (correlation)
      rank: 0.0                # pairwise margin ranking loss on the batch
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
from typing import Any, Callable, Mapping

import torch
import torch.nn.functional as F
from pyiqa.losses.iqa_losses import plcc_loss

# fn(outputs, batch) -> (per-sample loss (N,), mask (N,) bool)
TermFn = Callable[[Mapping[str, torch.Tensor], Mapping[str, torch.Tensor]], "tuple[torch.Tensor, torch.Tensor]"]


def pairwise_margin_rank_loss(pred: torch.Tensor, target: torch.Tensor, margin: float = 0.0) -> torch.Tensor:
    """Mean hinge over all ordered pairs with different targets: pred should order like target.

    pred, target: (N,). Uses torch's ``margin_ranking_loss`` (y = sign(t_i - t_j)).
    """
    i, j = torch.triu_indices(len(pred), len(pred), offset=1, device=pred.device)
    sign = torch.sign(target[i] - target[j])
    keep = sign != 0
    if not bool(keep.any()):
        return pred.sum() * 0.0
    return F.margin_ranking_loss(pred[i][keep], pred[j][keep], sign[keep], margin=margin)


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

    def __call__(self, outputs: Mapping[str, torch.Tensor], batch: Mapping[str, torch.Tensor]) -> "OrderedDict[str, torch.Tensor]":
        score = outputs["score"].view(-1).float()
        target = self.label_target(batch).to(score.device).float()
        valid = torch.isfinite(target)
        safe_target = torch.where(valid, target, torch.zeros_like(target))
        out: "OrderedDict[str, torch.Tensor]" = OrderedDict()
        if self.w_mse:
            out["l_mse"] = self.w_mse * _masked_mean((score - safe_target).pow(2), valid)
        n_valid = int(valid.sum())
        if self.w_plcc:
            out["l_plcc"] = self.w_plcc * (plcc_loss(score[valid].view(-1, 1), target[valid].view(-1, 1)) if n_valid > 1 else score.sum() * 0.0)
        if self.w_rank:
            out["l_rank"] = self.w_rank * (pairwise_margin_rank_loss(score[valid], target[valid], self.rank_margin) if n_valid > 1 else score.sum() * 0.0)
        for name, (fn, weight) in self.terms.items():
            per_sample, mask = fn(outputs, batch)
            out[f"l_{name}"] = weight * _masked_mean(per_sample.float(), mask)
        return out
