"""Teachers: predictions of another model as training targets, cached per image and seed.

Option block ``train.teacher`` of a stage::

    teacher:
      type: pyiqa          # pyiqa | checkpoint | network
      name: topiq_nr-face  # pyiqa metric name (type pyiqa)
      path: run/stage3/models/net_best.pth   # type checkpoint: a checkpoint file, or "@<name>":
                           # the best checkpoint of an earlier (auxiliary) stage of the recipe
      network: {type: MSPTNet, test_img_size: 448}  # network options (checkpoint / network);
                           # e.g. {type: MobileNetV2IQA, test_img_size: 224} for a fitted ImageNet teacher
      score_range: [0, 1]  # raw teacher range, mapped to [0, 1]
      lower_better: false
      mix: 0.0             # weight of the teacher on labelled samples (unlabelled: always 1)
      feature_weight: 0.0  # > 0: also match the teacher's pooled features, online on each
                           # augmented batch (checkpoint / network teachers)
      feature_loss: mse    # mse (a teacher of MSPT shape) | cosine (through a trained linear
                           # projection to the teacher's feature size, e.g. 1280 for MobileNetV2IQA)
      cache_dir: null      # default: <run folder>/teacher_cache

Scores are cached in ``<cache_dir>/<teacher id>.json`` keyed by
sha256(absolute image path | degradation seed | teacher id), so each image and seed is
scored once per teacher, across stages and resumed runs. The teacher id is
``pyiqa:<name>``, the checkpoint's sha256, or the sha256 of the network options.
"""
from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any, Callable, Dict, Mapping, Optional

import numpy as np
import torch
from PIL import Image
from pyiqa.archs import build_network
from torchvision.transforms.functional import to_tensor
from tqdm import tqdm

from mspt_pyiqa.data.meta import normalize_mos
from mspt_pyiqa.utils.io import atomic_write_json as write_json
from mspt_pyiqa.weights import read_checkpoint, sha256_file

logger = logging.getLogger(__name__)


def teacher_id(opt: Mapping[str, Any]) -> str:
    kind = opt.get("type", "pyiqa")
    if kind == "pyiqa":
        return f"pyiqa-{opt['name']}"
    if kind == "checkpoint":
        return f"ckpt-{sha256_file(Path(opt['path']))[:16]}"
    if kind == "network":
        return "net-" + hashlib.sha256(json.dumps(opt["network"], sort_keys=True).encode()).hexdigest()[:16]
    raise ValueError(f"teacher.type must be pyiqa, checkpoint or network, got {kind!r}")


def build_teacher_network(opt: Mapping[str, Any], device: torch.device) -> torch.nn.Module:
    """The frozen teacher network of a ``checkpoint`` / ``network`` teacher (eval mode)."""
    kind = opt.get("type", "pyiqa")
    if kind not in ("checkpoint", "network"):
        raise ValueError(f"teacher type {kind!r} has no network (feature distillation needs checkpoint or network)")
    net_opt = dict(opt.get("network") or {"type": "MSPTNet"})
    if net_opt.get("type") == "MSPTNet":
        net_opt.setdefault("pretrained", False)
    net = build_network(net_opt).to(device).eval()
    if kind == "checkpoint":
        net.load_state_dict(read_checkpoint(Path(opt["path"])))
    for p in net.parameters():
        p.requires_grad_(False)
    return net


def build_teacher(opt: Mapping[str, Any], device: torch.device) -> Callable[[torch.Tensor], torch.Tensor]:
    """A function (1, 3, H, W) in [0, 1] -> (1,) raw teacher score."""
    if opt.get("type", "pyiqa") == "pyiqa":
        import pyiqa

        metric = pyiqa.create_metric(opt["name"], device=device, as_loss=False)
        return lambda x: metric(x).view(-1)
    net = build_teacher_network(opt, device)
    return lambda x: net(x).view(-1)


def cache_key(path: str, seed: int, tid: str) -> str:
    return hashlib.sha256(f"{Path(path).resolve()}|{seed}|{tid}".encode()).hexdigest()


class TeacherCache:
    """On-disk JSON map key -> raw score for one teacher, written atomically."""

    def __init__(self, cache_dir: Path, tid: str) -> None:
        self.file = Path(cache_dir) / f"{tid}.json"
        self.scores: Dict[str, float] = json.loads(self.file.read_text()) if self.file.is_file() else {}

    def save(self) -> None:
        write_json(self.file, self.scores)


@torch.no_grad()
def teacher_scores(paths, seeds, opt: Mapping[str, Any], cache_dir: Path, device: Optional[torch.device] = None) -> np.ndarray:
    """Teacher scores in [0, 1] (higher is better) for images ``paths`` with degradation ``seeds``.

    Cached: only images not in the cache are scored (the teacher is built only then).
    An unreadable image gets NaN (no target) and a warning; the rest go on.
    """
    device = device or torch.device("cpu")
    tid = teacher_id(opt)
    cache = TeacherCache(cache_dir, tid)
    keys = [cache_key(p, s, tid) for p, s in zip(paths, seeds)]
    todo = [i for i, k in enumerate(keys) if k not in cache.scores]
    if todo:
        fn = build_teacher(opt, device)
        for i in tqdm(todo, desc=f"teacher {tid}", leave=False):
            try:
                with Image.open(paths[i]) as img:
                    x = to_tensor(img.convert("RGB")).unsqueeze(0).to(device)
                cache.scores[keys[i]] = float(fn(x)[0])
            except (OSError, ValueError) as err:
                logger.warning("teacher cannot score %s: %s", paths[i], err)
        cache.save()
    logger.info("teacher %s: %d cached, %d scored", tid, len(keys) - len(todo), len(todo))
    raw = np.array([cache.scores.get(k, np.nan) for k in keys], dtype=np.float64)
    return normalize_mos(raw, opt.get("score_range"), bool(opt.get("lower_better", False)))


def attach_teacher(train_set, opt: Mapping[str, Any], cache_dir: Path, device: Optional[torch.device] = None) -> None:
    """Give every sample of a :class:`~mspt_pyiqa.data.datasets.FaceIQADataset` its teacher score."""
    paths = [p for p, _ in train_set.paths_mos]
    train_set.set_teacher_scores(teacher_scores(paths, train_set.seeds, opt, Path(opt.get("cache_dir") or cache_dir), device))
