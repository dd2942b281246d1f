"""Severity ladders from a meta-info CSV, and the seeded ladder batches of the ranking term.

A *ladder* is one clean photo (level 0) and versions of it made worse step by step by one
degradation kind (levels 1, 2, ...); its labels order its images. Two CSV layouts:

* explicit: columns ``dist_img, mos, ladder_id, level`` (level 0 = the clean photo, repeated in
  every ladder of that photo), optional ``source_id`` (the photo; default: the ladder id),
  ``degradation`` (the kind; default ``ladder``), ``severity`` (one damage scale across
  photos and kinds, 0 = clean; needed by ``train.ladder.cross_loss``, which leaves out rows
  where it is blank) and ``detail_img`` (the
  image's detail view, for a network with one; batches then carry ``detail``);
* the corpus's levels layout (``mspt-face corpus build --levels``): no ``ladder_id``; ladders
  are ``(source_id, degradation)`` and each photo's level-0 row heads all its ladders.

Paths are relative to ``dataroot_target`` (default: the CSV's folder), as in the common
meta-info CSV, so ladders generated at any resolution (native included) train the same way.

A ladder batch draws ``ladders_per_batch`` photos uniformly (with replacement only when there
are fewer photos), then a kind per photo with probabilities ``kind_weights`` (missing kinds
weigh 1; a kind the photo lacks is redrawn among its own kinds): the draw of the release
trainer on a complete photo x kind grid, given the same generator.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import pandas as pd
import torch
from PIL import Image
from torch.utils.data import Dataset
from torchvision.transforms.functional import hflip, resize, to_tensor

from mspt_pyiqa.data.meta import DETAIL_COLUMN, MetaInfoError, read_meta_csv


@dataclass
class Ladders:
    """Rows (absolute paths, labels, levels) and the ladders over them.

    ``ladders[i]``: row indices of ladder i, level 0 first; ``photo_of[i]`` / ``kind_of[i]``:
    indices into ``photos`` / ``kinds`` (kinds in order of first appearance).
    """

    paths: List[str]
    labels: np.ndarray  # (N,) float32 in [0, 1], higher = better
    levels: np.ndarray  # (N,) int, 0 = clean photo
    ladders: List[np.ndarray]
    photo_of: np.ndarray
    kind_of: np.ndarray
    photos: List[str]
    kinds: List[str]
    teacher: Optional[np.ndarray] = None  # (N,) teacher scores in [0, 1] (NaN = none)
    severity: Optional[np.ndarray] = None  # (N,) float >= 0 on one scale across ladders (0 = clean); None = no column
    detail_paths: Optional[List[str]] = None  # (N,) absolute paths of the detail views; None = no column
    _index: Dict[Tuple[int, int], int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._index = {(int(p), int(k)): i for i, (p, k) in enumerate(zip(self.photo_of, self.kind_of))}

    def ladder(self, photo: int, kind: int) -> Optional[int]:
        """Index of the ladder of ``(photo, kind)``, or ``None``."""
        return self._index.get((int(photo), int(kind)))


def _limit_short_side(frame: pd.DataFrame, meta: Path, limit: Union[int, Mapping[str, int]]) -> pd.DataFrame:
    """The rows of ``frame`` within ``limit`` (see :func:`read_ladders`); errors name ``meta``."""
    if "short_side" not in frame.columns:
        raise MetaInfoError(f"{meta}: max_short_side needs a 'short_side' column (mspt-face corpus native-ladders writes one)")
    short = pd.to_numeric(frame["short_side"], errors="coerce")
    if not isinstance(limit, Mapping):
        return frame[short <= int(limit)]
    if "degradation" not in frame.columns:
        raise MetaInfoError(f"{meta}: max_short_side per kind needs a 'degradation' column")
    kind = frame["degradation"].astype(str)
    unknown = sorted(set(map(str, limit)) - set(kind))
    if unknown:
        raise MetaInfoError(f"{meta}: max_short_side names kinds the ladders do not have: {unknown} (kinds: {sorted(set(kind))})")
    named = kind.isin([str(k) for k in limit])
    cap = kind.map({str(k): float(v) for k, v in limit.items()})
    return frame[~named | (short <= cap)]


def _read_frame(meta: Path, root: Optional[Path], prefix: str) -> pd.DataFrame:
    """One ladder CSV with absolute image paths; ``prefix`` keeps its ladders and photos apart from other files'."""
    frame = read_meta_csv(meta)
    if "level" not in frame.columns:
        raise MetaInfoError(f"{meta}: ladder CSV needs a 'level' column (0 = the clean photo), columns: {list(frame.columns)}")
    base = Path(root) if root else meta.parent
    frame["dist_img"] = [str(base / p) for p in frame["dist_img"]]
    if DETAIL_COLUMN in frame.columns:
        frame[DETAIL_COLUMN] = [p if isinstance(p, float) else str(base / p) for p in frame[DETAIL_COLUMN]]
    for col in ("ladder_id", "source_id"):
        if prefix and col in frame.columns:
            frame[col] = prefix + frame[col].astype(str)
    return frame


def read_ladders(meta_info_file: Union[Path, str, Sequence[Union[Path, str]]], dataroot_target: Optional[Path] = None,
                 split_value: Optional[str] = None, max_short_side: Union[None, int, Mapping[str, int]] = None) -> Ladders:
    """The ladders of a meta-info CSV, or of several (see module docstring); one-line errors name the file.

    Several CSVs (a list, e.g. native ladders plus the corpus's small-face ladders written by
    ``mspt-face corpus metric-views --ladders``) are read as one set: each keeps its own photos
    and ladders (ids are prefixed with the file's position), paths are relative to each CSV's
    folder (or to ``dataroot_target`` for all), and all must use the same layout. A row whose
    ``severity`` is blank (or a file without that column) is off the cross-ladder scale:
    ``train.ladder.cross_loss`` leaves it out.

    ``max_short_side``: keep only the rows whose photo was degraded at a short side of at most
    that many px (the ``short_side`` column of ``mspt-face corpus native-ladders``); a mapping
    ``{kind: px}`` limits only the ladders of the kinds it names (the ``degradation`` column),
    e.g. to drop the large photos' blur ladders but keep their noise and JPEG ones.
    """
    files = [Path(m) for m in ([meta_info_file] if isinstance(meta_info_file, (str, Path)) else meta_info_file)]
    if not files:
        raise MetaInfoError("train.ladder.meta_info_file: no ladder CSV given")
    frames = [_read_frame(m, dataroot_target, f"{i}:" if len(files) > 1 else "") for i, m in enumerate(files)]
    layouts = {"ladder_id" in f.columns for f in frames}
    if len(layouts) > 1:
        raise MetaInfoError(f"{', '.join(map(str, files))}: ladder CSVs mix the explicit layout (ladder_id) and the "
                            "corpus's levels layout; write both one way (mspt-face corpus metric-views --ladders)")
    if any((DETAIL_COLUMN in f.columns) != (DETAIL_COLUMN in frames[0].columns) for f in frames):
        raise MetaInfoError(f"{', '.join(map(str, files))}: some ladder CSVs have a {DETAIL_COLUMN!r} column and some do not")
    meta = files[0] if len(files) == 1 else Path(" + ".join(map(str, files)))
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    if split_value is not None and "split" in frame.columns:
        frame = frame[frame["split"].astype(str) == str(split_value)]
    if max_short_side is not None:
        frame = _limit_short_side(frame, meta, max_short_side)
    frame = frame.reset_index(drop=True)
    if frame.empty:
        raise MetaInfoError(f"{meta}: no ladder rows" + (f" in split {split_value!r}" if split_value else ""))
    if frame["level"].isna().any() or frame["mos"].isna().any():
        raise MetaInfoError(f"{meta}: ladder rows need a level and a mos on every row")
    frame["level"] = frame["level"].astype(int)
    kind_col = frame["degradation"].astype(str) if "degradation" in frame.columns else pd.Series(["ladder"] * len(frame))
    if "ladder_id" in frame.columns:
        lid = frame["ladder_id"].astype(str)
        photo = frame["source_id"].astype(str) if "source_id" in frame.columns else lid
        members = {k: list(v) for k, v in frame.groupby(lid, sort=False).groups.items()}
        keys = list(members)
        kind_of_ladder = {k: next((kind_col[i] for i in members[k] if frame["level"][i] > 0), "ladder") for k in keys}
        photo_of_ladder = {k: photo[members[k][0]] for k in keys}
    else:
        if "source_id" not in frame.columns:
            raise MetaInfoError(f"{meta}: ladder CSV needs 'ladder_id' or 'source_id' + 'degradation' columns")
        photo = frame["source_id"].astype(str)
        clean = frame["level"] == 0
        members, kind_of_ladder, photo_of_ladder = {}, {}, {}
        for i in np.flatnonzero(~clean.to_numpy()):
            key = f"{photo[i]}/{kind_col[i]}"
            if key not in members:
                heads = np.flatnonzero((clean & (photo == photo[i])).to_numpy())
                members[key], kind_of_ladder[key], photo_of_ladder[key] = [int(h) for h in heads[:1]], kind_col[i], photo[i]
            members[key].append(int(i))
        keys = list(members)
    ladders, p_of, k_of, photos, kinds = [], [], [], [], []
    levels = frame["level"].to_numpy()
    for key in keys:
        rows = np.asarray(sorted(members[key], key=lambda r: (levels[r], r)), dtype=np.int64)
        if len(rows) < 2 or levels[rows[0]] != 0 or (levels[rows] == 0).sum() != 1:
            raise MetaInfoError(f"{meta}: ladder {key!r} needs exactly one level-0 row (the clean photo) and at least one degraded row")
        for name, table in ((photo_of_ladder[key], photos), (kind_of_ladder[key], kinds)):
            if name not in table:
                table.append(name)
        ladders.append(rows)
        p_of.append(photos.index(photo_of_ladder[key]))
        k_of.append(kinds.index(kind_of_ladder[key]))
    severity = None
    if "severity" in frame.columns:
        raw = frame["severity"]
        severity = pd.to_numeric(raw, errors="coerce").to_numpy(np.float32)
        bad = (raw.notna() & np.isnan(severity)) | np.isinf(severity) | (severity < 0)
        if bad.any():
            raise MetaInfoError(f"{meta}: 'severity' must be a number >= 0 (or blank: off the cross-ladder scale), "
                                f"got {raw[bad].iloc[0]!r}")
    detail = None
    if DETAIL_COLUMN in frame.columns:
        if frame[DETAIL_COLUMN].isna().any():
            raise MetaInfoError(f"{meta}: {DETAIL_COLUMN!r} must name a file on every row")
        detail = list(frame[DETAIL_COLUMN].astype(str))
    return Ladders(paths=list(frame["dist_img"].astype(str)), labels=frame["mos"].to_numpy(np.float32), levels=levels,
                   ladders=ladders, photo_of=np.asarray(p_of), kind_of=np.asarray(k_of), photos=photos, kinds=kinds,
                   severity=severity, detail_paths=detail)


def kind_probabilities(kinds: Sequence[str], weights: Optional[Mapping[str, float]]) -> Optional[np.ndarray]:
    """Normalised sampling probabilities of ``kinds`` from ``{kind: weight}`` (missing = 1); ``None`` = uniform."""
    if not weights:
        return None
    unknown = set(weights) - set(kinds)
    if unknown:
        raise ValueError(f"ladder kind_weights name kinds the ladders do not have: {sorted(unknown)} (kinds: {list(kinds)})")
    w = np.array([float(weights.get(k, 1.0)) for k in kinds])
    if np.any(w < 0) or w.sum() <= 0:
        raise ValueError(f"ladder kind_weights must be >= 0 with a positive sum, got {dict(weights)}")
    return w / w.sum()


def ladder_batch(ladders: Ladders, n: int, rng: np.random.Generator, kind_p: Optional[np.ndarray] = None) -> Tuple[np.ndarray, np.ndarray]:
    """Row indices and ladder ids ``(sum of ladder lengths,)`` of a batch of ``n`` ladders."""
    n_photos = len(ladders.photos)
    photos = rng.choice(n_photos, size=n, replace=n > n_photos)
    kinds = rng.choice(len(ladders.kinds), size=n, p=kind_p)
    idx: List[int] = []
    group: List[int] = []
    for g, (p, k) in enumerate(zip(photos, kinds)):
        li = ladders.ladder(p, k)
        if li is None:  # this photo lacks that kind: redraw among its own
            own = [int(kk) for kk in range(len(ladders.kinds)) if ladders.ladder(p, kk) is not None]
            w = np.array([kind_p[kk] if kind_p is not None else 1.0 for kk in own])
            li = ladders.ladder(p, own[int(rng.choice(len(own), p=w / w.sum()))])
        rows = ladders.ladders[li]
        idx.extend(int(r) for r in rows)
        group.extend([g] * len(rows))
    return np.asarray(idx), np.asarray(group)


class LadderImages(Dataset):
    """Images of a :class:`Ladders` set: item ``i`` -> (3, S, S) float in [0, 1], resized to
    ``size`` (``None``: as stored; batches then need equal sizes), mirrored when ``flip``."""

    def __init__(self, ladders: Ladders, size: Optional[Sequence[int]] = None) -> None:
        self.ladders, self.size = ladders, (list(size) if size else None)

    def __len__(self) -> int:
        return len(self.ladders.paths)

    def load(self, index: int, flip: bool = False, detail: bool = False) -> torch.Tensor:
        """Image ``index`` (its detail view when ``detail``: not resized, only mirrored)."""
        path = self.ladders.detail_paths[index] if detail and self.ladders.detail_paths else self.ladders.paths[index]
        try:
            with Image.open(path) as img:
                x = to_tensor(img.convert("RGB"))
        except OSError as err:
            raise MetaInfoError(f"ladder image {path} cannot be read ({err})") from None
        if not detail and self.size is not None and list(x.shape[-2:]) != self.size:
            x = resize(x, self.size, antialias=True)
        return hflip(x) if flip else x

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.load(index)


def _listed(meta_info_file: Union[str, Path, Sequence[Union[str, Path]], None]) -> List[str]:
    """The entries of a ``meta_info_file`` option as written (one CSV or a list)."""
    return [str(m) for m in ([meta_info_file] if isinstance(meta_info_file, (str, Path)) else (meta_info_file or []))]


def teacher_rows(ladders: Ladders, kinds: Optional[Sequence[str]] = None, files: Optional[Sequence[str]] = None,
                 meta_info_file: Union[str, Sequence[str], None] = None,
                 known_kinds: Optional[Sequence[str]] = None) -> Optional[np.ndarray]:
    """``(N,)`` bool: rows of a ladder the teacher term covers (``train.ladder.teacher_loss``), or
    ``None`` when neither ``kinds`` nor ``files`` is set (every row).

    ``kinds``: only ladders of these kinds (checked against ``known_kinds``, default the ladders'
    own). ``files``: only ladders read from these entries of ``meta_info_file`` (given as written
    there). Why: the teacher's step sizes are a target only where the ladders carry no lesson of
    their own (e.g. the photometric kinds, or the corpus's ladders v11 was trained on); on
    native-scale noise they would pull the student's margins back to the teacher's.
    """
    if kinds is None and files is None:
        return None
    if kinds is not None:
        unknown = sorted(set(kinds) - set(known_kinds if known_kinds is not None else ladders.kinds))
        if unknown:
            raise ValueError(f"train.ladder.teacher_loss.kinds names kinds the ladders do not have: {unknown} "
                             f"(kinds: {list(known_kinds if known_kinds is not None else ladders.kinds)})")
    positions: Optional[set] = None
    listed = _listed(meta_info_file)
    if files is not None:
        missing = [f for f in files if str(f) not in listed]
        if missing:
            raise ValueError(f"train.ladder.teacher_loss.files: {missing} not in train.ladder.meta_info_file {listed}")
        positions = {listed.index(str(f)) for f in files}
    keep = np.zeros(len(ladders.paths), dtype=bool)
    for rows, p, k in zip(ladders.ladders, ladders.photo_of, ladders.kind_of):
        if kinds is not None and ladders.kinds[int(k)] not in kinds:
            continue
        if positions is not None:
            # several CSVs: photo ids carry their file's position as a prefix "<k>:" (read_ladders)
            position = int(str(ladders.photos[int(p)]).split(":", 1)[0]) if len(listed) > 1 else 0
            if position not in positions:
                continue
        keep[np.asarray(rows, dtype=np.int64)] = True
    return keep


@dataclass
class LadderSet:
    """One set of ladders and how its batches are drawn (see :class:`LadderBatches`)."""

    ladders: Ladders
    images: LadderImages
    per_batch: int
    kind_p: Optional[np.ndarray]
    hflip: bool
    cross: bool  # its rows' ``severity`` enters ``train.ladder.cross_loss``
    offset: int  # its first row in the rows of all sets (``paths_mos``, batch ``index``)
    files: List[str]  # its ``meta_info_file`` entries as written


def _ladder_set(opt: Mapping[str, Any], offset: int, hflip_default: bool, cross: bool) -> LadderSet:
    ladders = read_ladders(opt["meta_info_file"], opt.get("dataroot_target"), opt.get("split_value"), opt.get("max_short_side"))
    augment = opt.get("augment") or {}
    return LadderSet(ladders=ladders, images=LadderImages(ladders, augment.get("resize")),
                     per_batch=int(opt.get("ladders_per_batch", 12)),
                     kind_p=kind_probabilities(ladders.kinds, opt.get("kind_weights")),
                     hflip=bool(augment.get("hflip", hflip_default)), cross=cross, offset=offset,
                     files=_listed(opt["meta_info_file"]))


class LadderBatches:
    """Seeded ladder batches for training: ``batch(seed_key)`` -> batch dict.

    Batch keys: ``img`` (B, 3, S, S) in [0, 1]; ``mos_label`` (B, 1); ``ladder_group`` (B,)
    int64; ``ladder_anchor`` (B,) bool (level 0); ``teacher_score`` (B, 1) (NaN without a
    teacher); ``ladder_severity`` (B,) float (NaN without a ``severity`` column); ``detail``
    (B, 3, D, D) in [0, 1], mirrored with ``img``, when the CSV has ``detail_img``. The draw
    depends only on ``seed_key`` (e.g. ``[seed, stage, iteration]``).

    ``extra_sets`` (optional): further ladder sets, each ``{meta_info_file, share, ...}`` with its
    own ``augment`` (default: no resize, images as stored), ``ladders_per_batch``,
    ``kind_weights``, ``max_short_side``, ``dataroot_target``, ``split_value`` and ``cross_loss``
    (``false``: its ``severity`` is another scale, its rows stay off the cross-ladder ranking).
    Each batch comes from one set, an extra one with probability ``share`` (the first set takes
    the rest), so images of one batch share their size. Why: a release that never enlarges
    scores a 224 px face at 224 px; its ladders train at that size beside 320 px native ladders.
    ``teacher_loss.kinds`` and ``files`` cover every set (``files`` names any set's entries).
    """

    def __init__(self, opt: Mapping[str, Any]) -> None:
        hflip = bool((opt.get("augment") or {}).get("hflip", True))
        self.sets = [_ladder_set(opt, 0, hflip, cross=True)]
        shares = []
        for extra in opt.get("extra_sets") or []:
            share = float(extra.get("share", 0.0))
            if not 0.0 < share < 1.0:
                raise ValueError(f"train.ladder.extra_sets: share must be in (0, 1), got {extra.get('share')!r} "
                                 f"for {extra.get('meta_info_file')}")
            offset = self.sets[-1].offset + len(self.sets[-1].images)
            self.sets.append(_ladder_set(extra, offset, hflip, cross=bool(extra.get("cross_loss", True))))
            shares.append(share)
        if sum(shares) >= 1.0:
            raise ValueError(f"train.ladder.extra_sets: shares sum to {sum(shares):g}; they must leave the first set a share (< 1)")
        self.shares = np.array([1.0 - sum(shares), *shares])
        first = self.sets[0]  # one-set callers read its draw settings here
        self.ladders, self.images, self.kind_p, self.per_batch = first.ladders, first.images, first.kind_p, first.per_batch
        t_opt = opt.get("teacher_loss") or {}
        kinds_all = [k for s in self.sets for k in s.ladders.kinds]
        files = t_opt.get("files")
        if files is not None:
            missing = [f for f in files if not any(str(f) in s.files for s in self.sets)]
            if missing:
                raise ValueError(f"train.ladder.teacher_loss.files: {missing} not in train.ladder.meta_info_file "
                                 f"{[f for s in self.sets for f in s.files]}")
        self.teacher_rows = [teacher_rows(s.ladders, t_opt.get("kinds"),
                                          None if files is None else [f for f in files if str(f) in s.files],
                                          s.files, known_kinds=kinds_all) for s in self.sets]
        if opt.get("cross_loss") and (self.ladders.severity is None or not np.isfinite(self.ladders.severity).any()):
            raise MetaInfoError(f"{opt['meta_info_file']}: train.ladder.cross_loss needs a 'severity' column "
                                "(mspt-face corpus native-ladders writes one)")

    @property
    def n_rows(self) -> int:
        """Rows of all sets."""
        return sum(len(s.images) for s in self.sets)

    @property
    def paths_mos(self) -> List[List[Any]]:
        """``[path, label]`` per row of every set in turn (the interface teachers attach scores through)."""
        return [[p, float(m)] for s in self.sets for p, m in zip(s.ladders.paths, s.ladders.labels)]

    @property
    def seeds(self) -> List[int]:
        """Degradation seed per row for the teacher cache key (unknown: -1)."""
        return [-1] * self.n_rows

    def set_teacher_scores(self, scores: np.ndarray) -> None:
        """Attach the teacher's score of every row, ``(N,)`` over all sets in turn; rows outside
        ``teacher_loss.kinds`` / ``files`` (when set) get NaN, so no pair of theirs enters the teacher term."""
        scores = np.asarray(scores, dtype=np.float32)
        if scores.shape != (self.n_rows,):
            raise ValueError(f"expected {self.n_rows} ladder teacher scores, got shape {scores.shape}")
        for s, keep in zip(self.sets, self.teacher_rows):
            own = scores[s.offset:s.offset + len(s.images)]
            s.ladders.teacher = own if keep is None else np.where(keep, own, np.float32(np.nan))

    def batch(self, seed_key: Sequence[int]) -> Dict[str, torch.Tensor]:
        rng = np.random.default_rng(list(seed_key))
        # one set: the draw is the same as before extra sets existed (no extra random number)
        s = self.sets[0] if len(self.sets) == 1 else self.sets[int(rng.choice(len(self.sets), p=self.shares))]
        lad = s.ladders
        idx, group = ladder_batch(lad, s.per_batch, rng, s.kind_p)
        flips = rng.random(len(idx)) < 0.5 if s.hflip else np.zeros(len(idx), bool)
        teacher = lad.teacher[idx] if lad.teacher is not None else np.full(len(idx), np.nan, np.float32)
        severity = lad.severity[idx] if lad.severity is not None and s.cross else np.full(len(idx), np.nan, np.float32)
        extra = {}
        if lad.detail_paths is not None:
            extra["detail"] = torch.stack([s.images.load(int(i), bool(f), detail=True) for i, f in zip(idx, flips)])
        imgs = [s.images.load(int(i), bool(f)) for i, f in zip(idx, flips)]
        odd = next((k for k, x in enumerate(imgs) if x.shape != imgs[0].shape), None)
        if odd is not None:  # images kept as stored (no augment.resize) must share one size
            raise MetaInfoError(f"ladder images of one batch differ in size: {lad.paths[idx[0]]} is "
                                f"{tuple(imgs[0].shape[-2:])}, {lad.paths[idx[odd]]} is {tuple(imgs[odd].shape[-2:])}; "
                                "give the set augment.resize, or write square views (mspt-face corpus metric-views)")
        return {
            **extra,
            "img": torch.stack(imgs),
            "mos_label": torch.from_numpy(lad.labels[idx]).view(-1, 1),
            "ladder_group": torch.from_numpy(group).long(),
            "ladder_anchor": torch.from_numpy(lad.levels[idx] == 0),
            "teacher_score": torch.from_numpy(np.asarray(teacher, np.float32)).view(-1, 1),
            "ladder_severity": torch.from_numpy(np.asarray(severity, np.float32)),
            "index": torch.from_numpy(idx + s.offset).long(),
        }


def ladder_steps(fraction: float, iteration: int) -> int:
    """Ladder steps to run after pool iteration ``iteration`` (1-based) so that ladder batches
    make up ``fraction`` of all optimiser steps, spread evenly (0.5: one after every pool step)."""
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"train.ladder.fraction must be in [0, 1), got {fraction}")
    ratio = fraction / (1.0 - fraction)
    return int(np.floor(iteration * ratio + 1e-9) - np.floor((iteration - 1) * ratio + 1e-9))
