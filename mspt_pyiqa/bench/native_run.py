"""The native-scale yardstick's images and scores: photo choice, degraded files, resumable scoring.

Layout under the cache folder (``runs/native_scale`` by default, git-ignored)::

    images/<arm>/<source_id without extension>/<kind>_<level>.<png|jpg>   # clean: clean_0.png
    scores.csv                                                            # one row per image
    leaderboard.csv                                                       # the images as a leaderboard dataset

Arms: ``native`` keeps each photo at its own resolution; ``realworld`` first resizes it to a
short side drawn (seeded, per photo) from :data:`mspt_pyiqa.bench.native.USER_SHORT_RANGE`.
Every file is written atomically and reused on a rerun; ``scores.csv`` keeps one column per
metric, is rewritten atomically every ``flush_every`` images, and a rerun scores only the
(image, metric) cells still empty.
"""
from __future__ import annotations

import csv
import logging
import os
from pathlib import Path
from typing import Callable, Dict, List, Mapping, Optional, Sequence

import numpy as np
from tqdm import tqdm

from mspt_pyiqa.bench import native
from mspt_pyiqa.corpus.sources import Source, load_rgb, split_photos, stable_hash
from mspt_pyiqa.utils.io import atomic_write, atomic_write_bytes

log = logging.getLogger(__name__)

ARMS = ("native", "realworld")
#: The corpus's split (release configs: ``split: {fractions: {val: 0.1, test: 0.1}, seed: 0}``).
SPLIT_FRACTIONS = {"val": 0.1, "test": 0.1}
SPLIT_SEED = 0
#: Sets whose photos are clean enough that "clean beats level 1" is well posed (docs/corpus.md).
DEFAULT_SETS = ("scut", "celebahq")
PLAN_COLUMNS = ("file", "photo", "set", "arm", "short", "kind", "level", "value", "setting", "seed")
#: The leaderboard dataset written next to ``scores.csv`` (the corpus layout of :mod:`mspt_pyiqa.bench.datasets`).
LEADERBOARD_CSV = "leaderboard.csv"
LEADERBOARD_COLUMNS = ("dist_img", "mos", "ref_img", "source_id", "source_set", "degradation", "severity", "level",
                       "split", "setting", "short")
#: The clean photo's ``degradation`` in that CSV: the name the order checks read as level 0.
PRISTINE = "pristine"
_MASK = (1 << 63) - 1


def test_photos(faces: Path, sets: Sequence[str], n: int, seed: int = 0) -> List[Source]:
    """``n`` held-out test photos of ``sets``, balanced across the sets (round robin), seeded.

    The split is the corpus's (by source photo, :data:`SPLIT_FRACTIONS`, :data:`SPLIT_SEED`), so
    no photo any release trained on is chosen. Fewer are returned when the sets hold fewer.
    """
    return split_photos(faces, sets, "test", SPLIT_FRACTIONS, SPLIT_SEED, limit=n, seed=seed, salt="native")


def plan(photos: Sequence[Source], sizes: Mapping[str, int], levels: Mapping[str, Sequence[float]],
         seed: int = 0, arms: Sequence[str] = ARMS, arm_photos: Optional[Mapping[str, int]] = None,
         ) -> List[Dict[str, object]]:
    """One row per image to score: clean + every kind x level, for each photo and arm.

    ``sizes``: ``{source_id: short side of the photo as stored}`` (the native arm's ``short``).
    Levels are numbered 1.. in the order given (mildest first); the clean image is level 0.
    Rows come arm by arm (all photos of the first arm first), so a run scores the cheap native
    arm before the large real-world images. ``arm_photos``: ``{arm: n}`` keeps only the first
    ``n`` photos in that arm (default: all).
    """
    rows: List[Dict[str, object]] = []
    for arm in arms:
        if arm not in ARMS:
            raise ValueError(f"unknown arm {arm!r}; known: {', '.join(ARMS)}")
        limit = (arm_photos or {}).get(arm, len(photos))
        for src in photos[:limit]:
            stem = src.source_id.rsplit(".", 1)[0]
            short = sizes[src.source_id] if arm == "native" else native.draw_short_side(
                stable_hash(f"short|{src.source_id}", seed) & _MASK)
            base = {"photo": src.source_id, "set": src.source_set, "arm": arm, "short": int(short)}
            rows.append({**base, "file": f"images/{arm}/{stem}/clean_0.png", "kind": "clean", "level": 0,
                         "value": "", "setting": "clean", "seed": ""})
            for kind, values in levels.items():
                kseed = stable_hash(f"ladder|{arm}|{src.source_id}|{kind}", seed) & _MASK
                ext = ".jpg" if kind == "jpeg" else ".webp" if kind == "webp" else ".png"
                for i, v in enumerate(values, start=1):
                    rows.append({**base, "file": f"images/{arm}/{stem}/{kind}_{i}{ext}", "kind": kind, "level": i,
                                 "value": float(v), "setting": native.setting(kind, v), "seed": kseed})
    return rows


def materialise(rows: Sequence[Mapping[str, object]], faces: Path, cache: Path, show_progress: bool = True) -> int:
    """Write every planned image that is not in ``cache`` yet; returns how many were written.

    Photos are read once per (photo, arm); an unreadable photo raises
    :class:`mspt_pyiqa.corpus.sources.SourceImageError` naming the file.
    """
    todo: Dict[tuple, List[Mapping[str, object]]] = {}
    for r in rows:
        if not (cache / str(r["file"])).is_file():
            todo.setdefault((r["photo"], r["arm"], r["short"]), []).append(r)
    written = 0
    for (photo, arm, short), group in tqdm(todo.items(), desc="degrading", unit="ladder", disable=not show_progress):
        img = load_rgb(Path(faces) / str(photo))
        if arm != "native":
            img = native.resize_photo(img, int(short))
        for r in group:
            if r["kind"] == "clean":
                data, _ = native.encode(img, "gaussian_blur", 0.0, 0)  # sigma 0: the lossless clean PNG
            else:
                data, _ = native.encode(img, str(r["kind"]), float(r["value"]), int(r["seed"]))
            atomic_write_bytes(cache / str(r["file"]), data)
            written += 1
    return written


def level_label(level: int, n_levels: int) -> float:
    """The leaderboard label of an image at ``level`` (0 = clean): ``1 - level / (n_levels + 1)``.

    With the yardstick's four levels that is ``1 - level/5`` (clean 1.0, level 4 0.2): the
    yardstick's level, not a human opinion.
    """
    return round(1.0 - level / (n_levels + 1), 6)


def write_leaderboard_csv(rows: Sequence[Mapping[str, object]], cache: Path, path: Optional[Path] = None) -> Path:
    """Write the planned images as a leaderboard dataset CSV; returns its path.

    ``path`` defaults to ``<cache>/leaderboard.csv`` (next to ``scores.csv``). One row per
    image in the corpus layout (:data:`LEADERBOARD_COLUMNS`): ``dist_img`` and ``ref_img`` are
    relative to the CSV's folder, ``ref_img`` is the photo's clean file of the same arm (FR
    metrics compare with it), ``mos`` is :func:`level_label`, ``source_id`` the photo,
    ``degradation`` the kind (the clean photo: ``pristine``, level 0), ``severity`` the level
    (the yardstick's scale), ``split`` the arm (``split=native`` selects one arm). Every
    image must already be in ``cache`` (:func:`materialise`); a missing one raises
    ``FileNotFoundError`` naming it.
    """
    cache = Path(cache)
    path = Path(path) if path is not None else cache / LEADERBOARD_CSV
    clean = {(r["arm"], r["photo"]): str(r["file"]) for r in rows if r["kind"] == "clean"}
    n_levels = max((int(str(r["level"])) for r in rows), default=0)
    base = path.resolve().parent

    def rel(file: str) -> str:
        full = cache / file
        if not full.is_file():
            raise FileNotFoundError(f"{full}: not in the cache yet (materialise the plan first)")
        return Path(os.path.relpath(full.resolve(), base)).as_posix()

    out = []
    for r in rows:
        ref = clean.get((r["arm"], r["photo"]))
        if ref is None:
            raise ValueError(f"{r['file']}: the plan has no clean image of {r['photo']} in arm {r['arm']}")
        level = int(str(r["level"]))
        out.append({"dist_img": rel(str(r["file"])), "mos": level_label(level, n_levels), "ref_img": rel(ref),
                    "source_id": r["photo"], "source_set": r["set"],
                    "degradation": PRISTINE if r["kind"] == "clean" else r["kind"], "severity": level, "level": level,
                    "split": r["arm"], "setting": r["setting"], "short": r["short"]})
    with atomic_write(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(LEADERBOARD_COLUMNS))
        w.writeheader()
        w.writerows(out)
    log.info("leaderboard dataset: %s (%d images; label 1 - level/%d)", path, len(out), n_levels + 1)
    return path


def photo_sizes(photos: Sequence[Source]) -> Dict[str, int]:
    """``{source_id: short side}`` read from each photo's header (decodes the image)."""
    return {s.source_id: int(min(load_rgb(s.path).shape[:2])) for s in photos}


def read_scores(path: Path) -> Dict[str, Dict[str, str]]:
    """``{file: row}`` of an existing ``scores.csv`` (empty when absent)."""
    if not Path(path).is_file():
        return {}
    with open(path, newline="", encoding="utf-8") as f:
        return {r["file"]: r for r in csv.DictReader(f)}


def _write_scores(path: Path, rows: Sequence[Mapping[str, object]], columns: Sequence[str]) -> None:
    with atomic_write(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(columns), extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)


def score_all(rows: Sequence[Mapping[str, object]], cache: Path, metrics: Mapping[str, Callable[[str], float]],
              flush_every: int = 50, show_progress: bool = True,
              on_flush: Optional[Callable[[], None]] = None) -> List[Dict[str, object]]:
    """Score every planned image with every metric (on the file path); resumes from ``scores.csv``.

    ``metrics``: ``{column name: fn(path) -> float}``. Returns the planned rows with one float
    column per metric (raw metric output: NIQE / BRISQUE lower is better, mspt_face higher).
    ``on_flush`` is called after every write of ``scores.csv`` (e.g. to save timings).
    """
    path = Path(cache) / "scores.csv"
    old = read_scores(path)
    extra = [c for r in old.values() for c in r if c not in PLAN_COLUMNS and c not in metrics]
    columns = list(PLAN_COLUMNS) + list(metrics) + sorted(set(extra))
    out: List[Dict[str, object]] = []
    for r in rows:
        prev = old.get(str(r["file"]), {})
        out.append({**{k: v for k, v in prev.items() if k not in PLAN_COLUMNS}, **r})
    planned = {str(r["file"]) for r in rows}
    kept = [r for f, r in old.items() if f not in planned]  # other photos' cached scores stay
    pending = [i for i, r in enumerate(out) if any(r.get(m) in (None, "") for m in metrics)]
    log.info("%d of %d images need scores (cache %s)", len(pending), len(out), path)
    for n, i in enumerate(tqdm(pending, desc="scoring", unit="img", disable=not show_progress), start=1):
        r = out[i]
        file = str(Path(cache) / str(r["file"]))
        for name, fn in metrics.items():
            if r.get(name) in (None, ""):
                r[name] = float(fn(file))
        if n % flush_every == 0:
            _write_scores(path, out + kept, columns)
            if on_flush:
                on_flush()
    _write_scores(path, out + kept, columns)
    if on_flush:
        on_flush()
    for r in out:
        for m in metrics:
            r[m] = float(r[m])
    return out


def metric_values(rows: Sequence[Mapping[str, object]], column: str) -> np.ndarray:
    """The float scores of ``column`` over ``rows`` (nan where missing)."""
    return np.array([float(r[column]) if r.get(column) not in (None, "") else np.nan for r in rows])


def scorer(metric: object) -> Callable[[str], float]:
    """``fn(path) -> float`` calling a pyiqa InferenceModel on an image file path under ``no_grad``."""
    import torch

    def fn(path: str) -> float:
        with torch.no_grad():
            return float(metric(path).item())  # type: ignore[operator]

    return fn


def restrict(rows: Sequence[Mapping[str, object]], arm: Optional[str]) -> List[Mapping[str, object]]:
    """Rows of one arm (``None``: all)."""
    return [r for r in rows if arm is None or r["arm"] == arm]
