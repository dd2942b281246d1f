"""Training ladders degraded at native resolution, written as the metric sees them.

``mspt-face corpus native-ladders`` builds the ranking data of a native-scale fine-tune: each
TRAIN photo of the clean sets (the corpus's split, the one the native-scale yardstick draws its
test photos from, so no test photo is used) gets one ladder per kind. A ladder draws a native
short side from :data:`mspt_pyiqa.bench.native.USER_SHORT_RANGE` (per photo and kind, seeded),
degrades the photo there at every level (same seed along the ladder: only the strength moves),
round-trips each level through its file format and resizes it with the metric's own
:func:`mspt_pyiqa.preprocess.resize_to_test_size` to every requested stage size; that is
:func:`mspt_pyiqa.bench.native.training_ladder`, with the degradation done once for all sizes.
Photos are centre-cropped to a square first, so every image is ``S x S`` and a trainer's
``augment: {resize: [S, S]}`` leaves it untouched.

Layout under ``--out`` (one folder per stage size ``S``)::

    <S>/images/<set>/<stem>/<kind>_<level>.png      # level 0 = the clean photo of that ladder
    <S>/ladders.csv    dist_img, mos, ladder_id, level, source_id, degradation, short_side, value, severity
    <S>/anchors.csv    dist_img, mos (empty), source_id, kind: every ladder's clean image, plus
                       real-world photos (All-Age-Faces train split) at their own resolution, plus
                       with ``photometric_anchors`` N: N photometric versions of every train photo
    detail<D>/images/<set>/<stem>/...                # with detail_size D: each image's detail view

With ``detail_size`` D (``--detail-size``) every image also gets its detail view
(:func:`mspt_pyiqa.preprocess.detail_view`: the centre D x D square at the native resolution the
ladder was degraded at), the second input of a release with a detail view; both CSVs then carry
a ``detail_img`` column, relative to the size folder (``../detail<D>/images/...``).

Photometric anchors (``--photometric-anchors N``): the ladders hold only damage that depends on
scale (blur, noise, compression, resampling); exposure, contrast, saturation and colour casts
are left to the teacher. Each train photo gets N versions with one of :data:`PHOTOMETRIC_KINDS`
(drawn per photo and index, seeded) at a severity drawn from [0.1, 1] (the corpus's
``mspt_pyiqa.degrade`` scale), applied at the photo's own resolution (these kinds act per pixel
or globally, so the size does not matter), then resized like every other image. They join
``anchors.csv`` with their kind, so a teacher's scores on them are held as on the clean photos.

``mos`` of a ladder row is ``1 - level / (levels + 1)`` (higher = better): only its order
inside a ladder is meant (``LadderRankLoss``). ``severity`` puts every row on one scale across
photos and kinds, the yardstick's (:func:`mspt_pyiqa.bench.native.severity`: 0 = clean, 1-4 =
the yardstick's levels), for a ranking term across ladders (``train.ladder.cross_loss``). ``anchors.csv`` carries no labels: it is the
set on which a teacher's scores are held (``train.teacher`` + a ``teacher_score`` term).
Images are 8-bit PNGs (the resize runs in float, then rounds once). Files are written
atomically; a rerun skips the ones already there.
"""
from __future__ import annotations

import logging
import multiprocessing as mp
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import cv2
import numpy as np
import pandas as pd
from tqdm import tqdm

from mspt_pyiqa import degrade
from mspt_pyiqa.bench import native
from mspt_pyiqa.bench.native_run import DEFAULT_SETS, SPLIT_FRACTIONS, SPLIT_SEED
from mspt_pyiqa.corpus import sources
from mspt_pyiqa.corpus.sources import Source, load_rgb, stable_hash
from mspt_pyiqa.data.meta import DETAIL_COLUMN
from mspt_pyiqa.preprocess import detail_view, resize_to_test_size
from mspt_pyiqa.utils.io import atomic_write_bytes, atomic_write_text

log = logging.getLogger(__name__)
_MASK = (1 << 63) - 1

#: Training levels per kind, mildest first: a dense mild end, then the yardstick's range.
TRAIN_LEVELS: Dict[str, Tuple[float, ...]] = {
    "gaussian_noise": (2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 12.0, 20.0, 35.0),
    "jpeg": (70.0, 60.0, 50.0, 40.0, 30.0, 20.0, 10.0, 5.0),
    "gaussian_blur": (0.5, 0.75, 1.0, 1.25, 1.5, 2.5, 4.5),
    "motion_blur": (2.0, 3.0, 5.0, 8.0, 13.0, 21.0),
    "resample": (1.5, 2.0, 3.0, 4.0, 6.0),
    "chain": (0.1, 0.25, 0.5, 0.75, 1.0),
}
LADDER_COLUMNS = ("dist_img", "mos", "ladder_id", "level", "source_id", "degradation", "short_side", "value", "severity")
ANCHOR_COLUMNS = ("dist_img", "mos", "source_id", "kind")
#: The real-world set whose train photos join the anchors (mixed quality, no ladders).
REALWORLD_SET = "aaf"
#: Kinds of the photometric anchors: the corpus's damage that the ladders do not cover.
PHOTOMETRIC_KINDS: Tuple[str, ...] = ("overexposure", "underexposure", "contrast_loss", "saturation", "colour_cast")
#: Severity range of a photometric anchor on the ``mspt_pyiqa.degrade`` scale (the corpus's levels span 0.1-1).
PHOTOMETRIC_SEVERITY: Tuple[float, float] = (0.1, 1.0)


@dataclass(frozen=True)
class LadderTask:
    """One photo's work: its ladders (one per kind) at every size."""

    source: Source
    kinds: Tuple[str, ...]
    sizes: Tuple[int, ...]
    seed: int
    detail_size: Optional[int] = None
    photometric: int = 0  # photometric anchors of this photo


def detail_folder(size: int) -> str:
    """Folder (under ``--out``) of the detail views of ``size`` px."""
    return f"detail{int(size)}"


def split_photos(faces: Path, sets: Sequence[str], split: str = "train", limit: Optional[int] = None,
                 seed: int = 0) -> List[Source]:
    """Photos of ``sets`` in ``split`` of the corpus's split (:data:`SPLIT_FRACTIONS`, :data:`SPLIT_SEED`).

    ``limit``: at most that many, balanced across the sets (round robin over a seeded order).
    The yardstick's test photos are the ``test`` split of the same assignment, so ``train``
    never holds one of them.
    """
    return sources.split_photos(faces, sets, split, SPLIT_FRACTIONS, SPLIT_SEED, limit=limit, seed=seed,
                                salt="native-ladders")


def ladder_seed(source_id: str, kind: str, seed: int) -> int:
    """The degradation seed of one (photo, kind) ladder."""
    return stable_hash(f"train-ladder|{source_id}|{kind}", seed) & _MASK


def ladder_short_side(source_id: str, kind: str, seed: int) -> int:
    """The native short side (px) the ladder of (photo, kind) is degraded at."""
    return native.draw_short_side(stable_hash(f"train-short|{source_id}|{kind}", seed) & _MASK)


def _stem(source: Source) -> str:
    return source.source_id.rsplit(".", 1)[0]


def image_name(source: Source, kind: str, level: int) -> str:
    """Path of one ladder image relative to a size folder."""
    return f"images/{_stem(source)}/{kind}_{level}.png"


def center_square(img: np.ndarray) -> np.ndarray:
    """Centre crop of RGB ``(H, W, 3)`` to ``(s, s, 3)``, ``s = min(H, W)``."""
    h, w = img.shape[:2]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    return img[top:top + s, left:left + s]


def png_bytes(batch_img) -> bytes:
    """(3, S, S) float in [0, 1] -> PNG bytes (rounded to 8 bits)."""
    arr = (batch_img.clamp(0, 1).mul(255.0).round().byte().permute(1, 2, 0).numpy())
    ok, buf = cv2.imencode(".png", cv2.cvtColor(np.ascontiguousarray(arr), cv2.COLOR_RGB2BGR))
    if not ok:
        raise RuntimeError("OpenCV could not encode PNG")
    return buf.tobytes()


def ladder_rows(task: LadderTask) -> List[Dict[str, object]]:
    """The CSV rows of one photo's ladders (no image work; same for every size)."""
    rows: List[Dict[str, object]] = []
    for kind in task.kinds:
        levels = TRAIN_LEVELS[kind]
        lid = f"{_stem(task.source)}/{kind}"
        short = ladder_short_side(task.source.source_id, kind, task.seed)
        for lv in range(len(levels) + 1):
            rows.append({"dist_img": image_name(task.source, kind, lv), "mos": round(1.0 - lv / (len(levels) + 1), 6),
                         "ladder_id": lid, "level": lv, "source_id": task.source.source_id, "degradation": kind,
                         "short_side": short, "value": "" if lv == 0 else levels[lv - 1],
                         "severity": 0.0 if lv == 0 else round(native.severity(kind, levels[lv - 1]), 6)})
    return rows


def make_ladders(task: LadderTask, out: Path) -> int:
    """Write the images of one photo's ladders that are missing; returns how many were written."""
    folders = [str(s) for s in task.sizes] + ([detail_folder(task.detail_size)] if task.detail_size else [])
    todo = [k for k in task.kinds
            if not all((out / f / image_name(task.source, k, lv)).is_file()
                       for f in folders for lv in range(len(TRAIN_LEVELS[k]) + 1))]
    if not todo:
        return 0
    photo = center_square(load_rgb(task.source.path))
    written = 0
    for kind in todo:
        short = ladder_short_side(task.source.source_id, kind, task.seed)
        ladder = native.training_ladder(photo, kind, TRAIN_LEVELS[kind], ladder_seed(task.source.source_id, kind, task.seed),
                                        short_side=short, test_img_size=None)
        for size in task.sizes:
            view = resize_to_test_size(ladder, size)  # the metric's resize, as training_ladder(test_img_size=size)
            for lv in range(view.shape[0]):
                dest = out / str(size) / image_name(task.source, kind, lv)
                if not dest.is_file():
                    atomic_write_bytes(dest, png_bytes(view[lv]))
                    written += 1
        if task.detail_size:
            view = detail_view(ladder, task.detail_size)  # the metric's detail view of the native-size ladder
            for lv in range(view.shape[0]):
                dest = out / detail_folder(task.detail_size) / image_name(task.source, kind, lv)
                if not dest.is_file():
                    atomic_write_bytes(dest, png_bytes(view[lv]))
                    written += 1
    return written


def _anchor_image(source: Source, out: Path, sizes: Sequence[int], detail_size: Optional[int] = None) -> int:
    written = 0
    name = f"images/{_stem(source)}/photo.png"
    missing = [s for s in sizes if not (out / str(s) / name).is_file()]
    need_detail = bool(detail_size) and not (out / detail_folder(detail_size) / name).is_file()  # type: ignore[arg-type]
    if not missing and not need_detail:
        return 0
    x = native.to_tensor(center_square(load_rgb(source.path))).unsqueeze(0)
    for size in missing:
        atomic_write_bytes(out / str(size) / name, png_bytes(resize_to_test_size(x, size)[0]))
        written += 1
    if need_detail:
        atomic_write_bytes(out / detail_folder(detail_size) / name, png_bytes(detail_view(x, detail_size)[0]))  # type: ignore[arg-type]
        written += 1
    return written


def photometric_draw(source_id: str, index: int, seed: int) -> Tuple[str, float, int]:
    """``(kind, severity, degradation seed)`` of photometric anchor ``index`` of a photo."""
    h = stable_hash(f"photometric-anchor|{source_id}|{index}", seed) & _MASK
    rng = np.random.default_rng(h)
    kind = PHOTOMETRIC_KINDS[int(rng.integers(len(PHOTOMETRIC_KINDS)))]
    return kind, round(float(rng.uniform(*PHOTOMETRIC_SEVERITY)), 4), int(rng.integers(1 << 62))


def photometric_name(source: Source, index: int, seed: int) -> str:
    """Path of one photometric anchor relative to a size folder."""
    return f"images/{_stem(source)}/{photometric_draw(source.source_id, index, seed)[0]}_anchor{index}.png"


def _photometric_anchors(source: Source, count: int, seed: int, out: Path, sizes: Sequence[int],
                         detail_size: Optional[int] = None) -> int:
    """Write the photometric anchors of one photo that are missing; returns how many files were written."""
    folders = [str(s) for s in sizes] + ([detail_folder(detail_size)] if detail_size else [])
    written, photo = 0, None
    for i in range(count):
        name = photometric_name(source, i, seed)
        if all((out / f / name).is_file() for f in folders):
            continue
        if photo is None:
            photo = center_square(load_rgb(source.path))
        kind, severity, dseed = photometric_draw(source.source_id, i, seed)
        x = native.to_tensor(degrade.apply(photo, kind, severity, np.random.default_rng(dseed))).unsqueeze(0)
        for size in sizes:
            atomic_write_bytes(out / str(size) / name, png_bytes(resize_to_test_size(x, size)[0]))
            written += 1
        if detail_size:
            atomic_write_bytes(out / detail_folder(detail_size) / name, png_bytes(detail_view(x, detail_size)[0]))
            written += 1
    return written


def _work(job: Tuple[str, object, Path, Tuple[int, ...], Optional[int]]) -> int:
    kind, payload, out, sizes, detail_size = job
    if kind == "ladders":
        task: LadderTask = payload  # type: ignore[assignment]
        return make_ladders(task, out) + _photometric_anchors(task.source, task.photometric, task.seed, out, sizes, detail_size)
    return _anchor_image(payload, out, sizes, detail_size)  # type: ignore[arg-type]


def _csv(rows: Iterable[Mapping[str, object]], columns: Sequence[str]) -> str:
    return pd.DataFrame(list(rows), columns=list(columns)).to_csv(index=False)


def build_native_ladders(faces: Path, out: Path, sizes: Sequence[int], photos: Optional[int] = None,
                         sets: Sequence[str] = DEFAULT_SETS, kinds: Sequence[str] = tuple(TRAIN_LEVELS),
                         realworld_photos: int = 0, seed: int = 0, workers: int = 1,
                         progress: bool = True, detail_size: Optional[int] = None,
                         photometric_anchors: int = 0) -> Dict[str, object]:
    """Write the ladders and anchors of ``photos`` train photos at every size (see module docstring).

    Returns ``{"photos", "ladders", "images_written", "csv": {size: path}}``. Raises
    ``ValueError`` for an unknown kind or a size below 16 px, and
    :class:`mspt_pyiqa.corpus.sources.SourceImageError` naming an unreadable photo.
    """
    unknown = [k for k in kinds if k not in TRAIN_LEVELS]
    if unknown:
        raise ValueError(f"unknown ladder kind(s) {unknown}; known: {', '.join(TRAIN_LEVELS)}")
    sizes = tuple(sorted({int(s) for s in sizes}))
    if not sizes or min(sizes) < 16:
        raise ValueError(f"--size must be >= 16 px, got {list(sizes)}")
    if detail_size is not None and int(detail_size) < 16:
        raise ValueError(f"--detail-size must be >= 16 px, got {detail_size}")
    if int(photometric_anchors) < 0:
        raise ValueError(f"--photometric-anchors must be >= 0, got {photometric_anchors}")
    chosen = split_photos(faces, sets, "train", photos, seed)
    real = split_photos(faces, [REALWORLD_SET], "train", realworld_photos, seed) if realworld_photos else []
    tasks = [LadderTask(s, tuple(kinds), sizes, seed, detail_size, int(photometric_anchors)) for s in chosen]
    jobs = [("ladders", t, Path(out), sizes, detail_size) for t in tasks] + [("anchor", s, Path(out), sizes, detail_size) for s in real]
    written = 0
    if workers > 1:
        with mp.get_context("spawn").Pool(workers) as pool:
            for n in tqdm(pool.imap_unordered(_work, jobs), total=len(jobs), desc="native ladders", unit="photo", disable=not progress):
                written += n
    else:
        for job in tqdm(jobs, desc="native ladders", unit="photo", disable=not progress):
            written += _work(job)
    rows = [r for t in tasks for r in ladder_rows(t)]
    anchors = [{"dist_img": r["dist_img"], "mos": "", "source_id": r["source_id"], "kind": "clean"} for r in rows if r["level"] == 0]
    anchors += [{"dist_img": photometric_name(t.source, i, seed), "mos": "", "source_id": t.source.source_id,
                 "kind": photometric_draw(t.source.source_id, i, seed)[0]} for t in tasks for i in range(t.photometric)]
    anchors += [{"dist_img": f"images/{_stem(s)}/photo.png", "mos": "", "source_id": s.source_id, "kind": "realworld"} for s in real]
    ladder_cols, anchor_cols = list(LADDER_COLUMNS), list(ANCHOR_COLUMNS)
    if detail_size:
        for r in rows + anchors:
            r[DETAIL_COLUMN] = f"../{detail_folder(detail_size)}/{r['dist_img']}"
        ladder_cols.append(DETAIL_COLUMN)
        anchor_cols.append(DETAIL_COLUMN)
    paths: Dict[int, str] = {}
    for size in sizes:
        atomic_write_text(Path(out) / str(size) / "ladders.csv", _csv(rows, ladder_cols))
        atomic_write_text(Path(out) / str(size) / "anchors.csv", _csv(anchors, anchor_cols))
        paths[size] = str(Path(out) / str(size) / "ladders.csv")
    log.info("%d photos, %d ladders, %d anchors, %d images written", len(chosen), len(rows) and len({r['ladder_id'] for r in rows}), len(anchors), written)
    return {"photos": len(chosen), "ladders": len({r["ladder_id"] for r in rows}), "anchors": len(anchors),
            "images_written": written, "csv": paths}
