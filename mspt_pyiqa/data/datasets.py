"""pyiqa datasets for face IQA: the common meta-info CSV (several sources, replay flags) and VQualA.

Both classes are registered in pyiqa's ``DATASET_REGISTRY`` by
:func:`mspt_pyiqa.registration.register`, so pyiqa option files name them as
``type: FaceIQADataset`` / ``type: VQualAFIQADataset``. pyiqa's own ``GeneralNRDataset``
reads the common CSV too (first two columns, ``split_index: split``); these classes add
what multi-stage training needs: several sources in one set, a per-sample ``replay`` flag
(old-stage data, target of distillation), optional labels (NaN MOS -> teacher targets),
the degradation seed, and tolerance to unreadable images.

Sample dict (pyiqa keys plus extras):
    ``img`` float (3, H, W) in [0, 1]; ``mos_label`` float (1,) in [0, 1], higher is better
    (NaN when unlabelled); ``has_mos`` bool (); ``replay`` float () 1 for replayed data;
    ``teacher_score`` float (1,) (NaN without a teacher); ``seed`` int64 (); ``index`` int64 ();
    ``img_path`` str; ``detail`` float (3, D, D) in [0, 1] when the CSV has a ``detail_img``
    column (the image's detail view, :func:`mspt_pyiqa.preprocess.detail_view`, for a network
    with a detail view). It gets the same flips as ``img`` and is never resized (it is a crop at
    native resolution); with detail views, ``augment`` may only hold ``resize``, ``hflip``, ``vflip``.
"""
from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any, Dict

import numpy as np
import torch
from PIL import Image
from pyiqa.data.base_iqa_dataset import BaseIQADataset

from mspt_pyiqa.data.converters import vquala_frame
from mspt_pyiqa.data.meta import DETAIL_COLUMN, MetaInfoError, normalize_mos, read_meta_csv

logger = logging.getLogger(__name__)

#: Augmentations a detail view follows (same random draw as its image); ``resize`` applies to ``img`` only.
_DETAIL_AUGMENTS = ("hflip", "vflip")
# How many following samples to try when an image cannot be read (a bad file must not stop a run).
_MAX_FALLBACK = 8


def _source_frame(src: Dict[str, Any], phase: str):
    """Rows of one source (a meta-info CSV), filtered by split, with absolute paths and normalised MOS."""
    meta = Path(src["meta_info_file"])
    frame = read_meta_csv(meta, src.get("path_column"), src.get("mos_column"))
    root = Path(src.get("dataroot_target") or meta.parent)
    split_col = src.get("split_index", "split" if "split" in frame.columns else None)
    if isinstance(split_col, int) and not isinstance(split_col, bool):
        # pyiqa's numbered random splits (e.g. GFIQA-20k: split_index 1, split_ratio 802).
        split_col = f"ratio{src.get('split_ratio', '802')}_seed123_split_{split_col:02d}"
    if split_col is not None:
        if not isinstance(split_col, str) or split_col not in frame.columns:
            raise MetaInfoError(f"{meta}: split column {split_col!r} not found (columns: {list(frame.columns)})")
        wanted = src.get("split_value", phase)
        wanted = [wanted] if isinstance(wanted, str) else list(wanted)
        frame = frame[frame[split_col].astype(str).isin(wanted)]
    if src.get("mos_normalize", False):
        frame = frame.assign(mos=normalize_mos(frame["mos"], src.get("mos_range"), bool(src.get("lower_better", False))))
    frame = frame.reset_index(drop=True)
    frame["abs_path"] = [str(root / p) for p in frame["dist_img"]]
    if DETAIL_COLUMN in frame.columns:
        frame["abs_detail"] = [str(root / p) for p in frame[DETAIL_COLUMN]]
    return frame


class FaceIQADataset(BaseIQADataset):
    """No-reference face IQA dataset over one or more common meta-info CSVs.

    Options (pyiqa dataset option keys plus):
        meta_info_file / dataroot_target: one source (``dataroot_target`` defaults to the
            CSV's folder, where the common CSV's relative paths point);
        sources: list of sources instead, each ``{meta_info_file, dataroot_target,
            split_index, split_value, replay, max_samples, sample_seed, mos_normalize,
            mos_range, lower_better, path_column, mos_column}``;
        split_index: split column (default ``split`` when present; ``null`` = all rows);
        split_value: value(s) kept (default: the phase);
        replay: mark the source's samples as replayed old-stage data;
        mos_normalize / mos_range / lower_better: pyiqa's MOS normalisation, per source.
    """

    def init_path_mos(self, opt: Dict[str, Any]) -> None:
        sources = opt.get("sources") or [opt]
        frames = []
        for src in sources:
            frame = self._load_source(src)
            max_samples = src.get("max_samples")
            if max_samples is not None and len(frame) > int(max_samples):
                # Seeded subset: replay of a large old stage keeps a fixed, reproducible share.
                frame = frame.sample(n=int(max_samples), random_state=int(src.get("sample_seed", 0))).sort_index()
            frame = frame.reset_index(drop=True)
            frame["replay"] = float(bool(src.get("replay", False)))
            frames.append(frame)
        import pandas as pd

        self.meta_info = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        if self.meta_info.empty:
            raise MetaInfoError(f"dataset {opt.get('name')!r} ({self.phase}): no samples in {[s.get('meta_info_file') for s in sources]}")
        self.paths_mos = [[p, m] for p, m in zip(self.meta_info["abs_path"], self.meta_info["mos"])]
        seeds = self.meta_info["seed"] if "seed" in self.meta_info.columns else [-1] * len(self.meta_info)
        self.seeds = [int(s) if not (isinstance(s, float) and math.isnan(s)) else -1 for s in seeds]
        self.replay_flags = list(self.meta_info["replay"])
        if "abs_detail" in self.meta_info.columns and self.meta_info["abs_detail"].isna().any():
            raise MetaInfoError(f"dataset {opt.get('name')!r}: some sources have a {DETAIL_COLUMN!r} column and some "
                                "do not; a network with a detail view needs it on every row")
        self.detail_paths = list(self.meta_info["abs_detail"]) if "abs_detail" in self.meta_info.columns else None
        self.teacher_scores = np.full(len(self.paths_mos), np.nan, dtype=np.float64)

    default_layout = "meta_csv"

    def _load_source(self, src: Dict[str, Any]):
        layout = src.get("layout", self.default_layout)
        if layout == "vquala":
            return _vquala_source_frame(src, self.phase)
        if layout != "meta_csv":
            raise MetaInfoError(f"dataset source layout must be 'meta_csv' or 'vquala', got {layout!r}")
        return _source_frame(src, self.phase)

    # MOS normalisation and split filtering happen per source in init_path_mos.
    def mos_normalize(self, opt: Dict[str, Any]) -> None:  # noqa: D102
        return None

    def get_split(self, opt: Dict[str, Any]) -> None:  # noqa: D102
        return None

    def set_teacher_scores(self, scores: np.ndarray) -> None:
        """Attach teacher predictions (one per sample, NaN = none), e.g. from the teacher cache."""
        scores = np.asarray(scores, dtype=np.float64)
        if scores.shape != (len(self),):
            raise ValueError(f"expected {len(self)} teacher scores, got shape {scores.shape}")
        self.teacher_scores = scores

    def get_transforms(self, opt: Dict[str, Any]) -> None:  # noqa: D102
        super().get_transforms(opt)
        self.detail_trans = None
        if self.detail_paths is None:
            return
        from pyiqa.data.transforms import PairedToTensor, transform_mapping
        from torchvision import transforms as tf

        augment = dict(opt.get("augment") or {})
        other = sorted(set(augment) - set(_DETAIL_AUGMENTS) - {"resize"})
        if other:
            raise MetaInfoError(f"dataset {opt.get('name')!r}: with detail views ({DETAIL_COLUMN!r} column) augment may "
                                f"only use resize, {', '.join(_DETAIL_AUGMENTS)}; got {other}")
        steps = [t for k, v in augment.items() if k in _DETAIL_AUGMENTS for t in transform_mapping(k, v)]
        self.detail_trans = tf.Compose(steps + [PairedToTensor()])

    def _load_image(self, index: int):
        """``img`` (3, H, W), or ``(img, detail)`` when the set has detail views (same paired transforms)."""
        path = self.paths_mos[index][0]
        with Image.open(path) as img:
            img_pil = img.convert("RGB")
        if self.detail_paths is None:
            return self.trans(img_pil) * self.img_range
        with Image.open(self.detail_paths[index]) as det:
            det_pil = det.convert("RGB")
        state = torch.get_rng_state()
        img_t = self.trans(img_pil)
        torch.set_rng_state(state)  # replay the same flip draws on the detail view (resize draws none)
        return img_t * self.img_range, self.detail_trans(det_pil) * self.img_range

    def __getitem__(self, index: int) -> Dict[str, Any]:
        for attempt in range(_MAX_FALLBACK):
            idx = (index + attempt) % len(self)
            try:
                loaded = self._load_image(idx)
                break
            except (OSError, ValueError) as err:
                logger.warning("cannot read image %s (%s); using the next sample instead", self.paths_mos[idx][0], err)
        else:
            raise MetaInfoError(f"{_MAX_FALLBACK} consecutive unreadable images from {self.paths_mos[index][0]}")
        mos = float(self.paths_mos[idx][1])
        img, detail = loaded if isinstance(loaded, tuple) else (loaded, None)
        extra = {} if detail is None else {"detail": detail}
        return {
            **extra,
            "img": img,
            "mos_label": torch.tensor([mos], dtype=torch.float32),
            "has_mos": torch.tensor(not math.isnan(mos)),
            "replay": torch.tensor(self.replay_flags[idx], dtype=torch.float32),
            "teacher_score": torch.tensor([self.teacher_scores[idx]], dtype=torch.float32),
            "seed": torch.tensor(self.seeds[idx], dtype=torch.int64),
            "index": torch.tensor(idx, dtype=torch.int64),
            "img_path": self.paths_mos[idx][0],
        }


class VQualAFIQADataset(FaceIQADataset):
    """The VQualA 2025 FIQA layout read in place (no conversion needed).

    Options: ``dataroot_target`` (folder with ``train.csv`` without header,
    ``image_name,score``, and ``train/``, ``val/``), ``val_ratio`` (share of ``train.csv``
    used as the ``val`` split, seeded by ``split_seed``), ``label_file``, ``image_folder``,
    ``mos_range`` / ``lower_better`` (applied when ``mos_normalize``), ``replay``.
    Split values: ``train`` / ``val`` from ``train.csv``; ``test`` from ``val.csv`` if present.
    In a ``FaceIQADataset`` ``sources`` list, the same source reads as ``layout: vquala``.
    """

    default_layout = "vquala"


def _vquala_source_frame(src: Dict[str, Any], phase: str):
    norm = src.get("mos_normalize", False)
    frame = vquala_frame(
        Path(src["dataroot_target"]),
        val_ratio=float(src.get("val_ratio", 0.1)),
        seed=int(src.get("split_seed", 0)),
        label_file=src.get("label_file", "train.csv"),
        image_folder=src.get("image_folder", "train"),
        mos_range=src.get("mos_range") if norm else None,
        lower_better=bool(src.get("lower_better", False)) if norm else False,
    )
    wanted = src.get("split_value", phase)
    wanted = [wanted] if isinstance(wanted, str) else list(wanted)
    frame = frame[frame["split"].isin(wanted)].reset_index(drop=True)
    frame["abs_path"] = frame["dist_img"]
    return frame
