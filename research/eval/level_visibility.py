"""Can a no-reference score see a photometric step? Each level against the spread of pristine photos.

Usage::

    python -m research.eval.level_visibility --config research/release/configs/mspt_face_v11.yml \
        --cache runs/mspt_face_v22/pools --levels levels_clean_common --levels levels_mixed_common \
        --model mspt_face_v11 --model mspt_face_v22=runs/mspt_face_v22/stage3_best.pth \
        --out research/reports/level_visibility

Issue 6's order bar counts the pristine photo at severity 0, so a ladder fails when a mild
version scores at or above its own pristine photo. For the photometric kinds (saturation,
colour cast, exposure, contrast) a no-reference score cannot compare with the original: it
can only judge how *typical* a global statistic of the image is among good photos. This
harness measures that statistic (CIELAB, D65, on the ``S x S`` face crop):

* ``saturation``: mean chroma C*ab; ``contrast_loss``: standard deviation of L*;
  ``colour_cast``: mean (a*, b*) (all over the whole crop);
* ``overexposure`` / ``underexposure``: mean L* of the crop's central half (``face_lightness``):
  the pools' crops are centred on the face, so that region is mostly skin, whose lightness is
  what an exposure change moves; the whole crop's mean L* also follows hair, clothes and
  background, which vary between good photos on their own (on v11's pools the typicality
  scorer's overexposure order is 0.38 / 0.31 / 0.16 with the whole crop's mean L* and
  0.61 / 0.67 / 0.55 with the centre's: clean sets / all sets / All-Age-Faces);

and its *atypicality* in units of the pristine population's spread: ``|t - mean| / sd``
(Mahalanobis distance for the 2-D colour cast). The population is ``--reference-photos``
pristine train-split photos of the levels pool's source sets (never a test photo),
preprocessed as the pools are. Per kind (saturation split by direction, as
``research/eval/ladder_failures.py``) and level it reports:

* ``step_z``: median |change of the statistic| from the pristine photo, in population sd;
* ``toward_typical``: fraction of ladders whose version is *less* atypical than its pristine
  photo (the step moved it towards the typical good photo);
* per model, ``above``: fraction of ladders whose version scores at or above its pristine
  photo, overall and split by ``toward_typical``;

and per kind the order figure of the *typicality scorer* (score = -atypicality of the kind's
statistic; what a score that knows only this statistic and the good photos would get) next
to the models', and each model's order figure over the ladders whose *mildest* step moved the
photo away from typical (``MODEL|away``; ``away_ladders``: their fraction), the ladders that are
a degradation from their first step by this measure. Last, per model, issue 6's two ladder bars
(worst kind's order, pristine above degraded) over every ladder and over the degradation-only
ladders (every ladder of the other kinds plus those away ladders), with bootstrap intervals over photos.
No-op ladders are left out. ``--clean-per-set N`` widens the clean-sets pools to N test photos
per set (0: all of them) for a tighter estimate of the bars.
Writes ``<out>.md``, ``<out>.csv`` (levels), ``<out>_order.csv``, ``<out>_bars.csv`` and
``<out>_kinds.csv`` (every kind's order figure, both ways) atomically.
"""
from __future__ import annotations

import argparse
import csv
import io
import logging
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from skimage.color import rgb2lab
from tqdm import tqdm

from mspt_pyiqa.bench.cache import atomic_write_text
from mspt_pyiqa.corpus.sources import Source, SourceImageError, load_rgb
from research.release.evaluate import (ladder_rows, ladders, load_net, model_spec_error, order_figures, predict,
                                         summarise_ladders)
from research.release.pools import Pool, square_face
from research.release.run import LEVELS_POOLS, harness_setup, levels_pools_named, split_sources

logger = logging.getLogger("level_visibility")

#: Kind -> the image statistics (names of :func:`lab_stats`) a no-reference score can judge it by.
KIND_STATS: Dict[str, Tuple[str, ...]] = {
    "saturation": ("chroma",),
    "overexposure": ("face_lightness",),
    "underexposure": ("face_lightness",),
    "contrast_loss": ("contrast",),
    "colour_cast": ("a", "b"),
}
STAT_NAMES = ("chroma", "lightness", "contrast", "a", "b", "face_lightness")
LEVEL_COLUMNS = ["pool", "kind", "severity", "ladders", "step_z", "toward_typical"]
LEVELS = tuple(name + suffix for suffix in ("", "_common") for name in LEVELS_POOLS)


def lab_stats(img: np.ndarray) -> np.ndarray:
    """``(6,)`` float64 statistics of an RGB uint8 ``(H, W, 3)`` image, in :data:`STAT_NAMES`
    order: mean chroma C*ab, mean L*, sd of L*, mean a*, mean b*, mean L* of the central half
    (rows and columns H/4..3H/4, W/4..3W/4) (CIELAB, D65; L* in [0, 100])."""
    lab = rgb2lab(np.asarray(img, np.uint8))
    chroma = np.hypot(lab[..., 1], lab[..., 2])
    h, w = lab.shape[:2]
    centre = lab[h // 4: h - h // 4, w // 4: w - w // 4, 0]
    return np.array([chroma.mean(), lab[..., 0].mean(), lab[..., 0].std(), lab[..., 1].mean(), lab[..., 2].mean(),
                     centre.mean()])


class Population:
    """Mean and covariance of :func:`lab_stats` over pristine photos; ``stats``: ``(N, 6)``."""

    def __init__(self, stats: np.ndarray) -> None:
        stats = np.asarray(stats, np.float64)
        if stats.ndim != 2 or stats.shape[1] != len(STAT_NAMES) or len(stats) < 3:
            raise ValueError(f"need (N >= 3, {len(STAT_NAMES)}) statistics, got shape {stats.shape}")
        self.mean = stats.mean(0)
        self.cov = np.cov(stats, rowvar=False)
        self.n = len(stats)

    def atypicality(self, stats: np.ndarray, kind: str) -> np.ndarray:
        """``(N,)`` distance of ``(N, 6)`` statistics from the population centre along ``kind``'s
        statistics, in population sd (Mahalanobis for two statistics); 0 = the typical photo."""
        idx = [STAT_NAMES.index(s) for s in KIND_STATS[kind]]
        d = np.asarray(stats, np.float64)[:, idx] - self.mean[idx]
        inv = np.linalg.inv(self.cov[np.ix_(idx, idx)])
        return np.sqrt(np.einsum("ni,ij,nj->n", d, inv, d))

    def step(self, before: np.ndarray, after: np.ndarray, kind: str) -> np.ndarray:
        """``(N,)`` size of the change ``before -> after`` (``(N, 6)`` each) in population sd."""
        idx = [STAT_NAMES.index(s) for s in KIND_STATS[kind]]
        d = np.asarray(after, np.float64)[:, idx] - np.asarray(before, np.float64)[:, idx]
        inv = np.linalg.inv(self.cov[np.ix_(idx, idx)])
        return np.sqrt(np.einsum("ni,ij,nj->n", d, inv, d))


def pool_stats(pool: Pool) -> np.ndarray:
    """``(len(pool), 6)`` :func:`lab_stats` of every image of ``pool``."""
    return np.stack([lab_stats(img) for img in tqdm(pool.images, desc="statistics", unit="img")])


def reference_stats(sources: Sequence[Source], resolution: int) -> np.ndarray:
    """Statistics of the pristine ``sources`` as the pools see them (square face crop at
    ``resolution``); an unreadable photo is skipped with a warning naming it."""
    out = []
    for src in tqdm(sources, desc="reference photos", unit="photo"):
        try:
            out.append(lab_stats(square_face(load_rgb(src.path), resolution)))
        except SourceImageError as err:
            logger.warning("skipping reference photo: %s", err)
    if len(out) < 3:
        raise RuntimeError(f"only {len(out)} readable reference photos; need at least 3")
    return np.stack(out)


def _key(kind: str, stats: np.ndarray, p: int, rows: np.ndarray) -> str:
    """Saturation ladders split by direction: the strongest version's chroma below or above the pristine's."""
    if kind != "saturation":
        return kind
    return "saturation:" + ("oversat" if stats[rows[-1], 0] > stats[p, 0] else "desat")


def level_rows(pool: Pool, stats: np.ndarray, population: Population, preds: Dict[str, np.ndarray],
               pool_name: str) -> List[Dict[str, object]]:
    """One row per (kind or saturation direction, severity) of the :data:`KIND_STATS` kinds of
    ``pool``: the module doc's columns. ``stats``: ``(len(pool), 6)``; ``preds``: model ->
    ``(len(pool),)`` scores, higher = better."""
    acc: Dict[Tuple[str, float], Dict[str, list]] = {}
    for p, kind, rows, noop in ladders(pool):
        if noop or p < 0 or kind not in KIND_STATS:
            continue
        rows = rows[np.argsort(pool.severities[rows], kind="stable")]
        atyp = population.atypicality(stats[rows], kind)
        atyp_p = population.atypicality(stats[[p]], kind)[0]
        steps = population.step(np.repeat(stats[[p]], len(rows), 0), stats[rows], kind)
        for key in (kind, _key(kind, stats, p, rows)) if kind == "saturation" else (kind,):
            for j, r in enumerate(rows):
                a = acc.setdefault((key, round(float(pool.severities[r]), 4)), {"step": [], "toward": [], **{m: [] for m in preds}})
                a["step"].append(float(steps[j]))
                a["toward"].append(bool(atyp[j] < atyp_p))
                for m, pred in preds.items():
                    a[m].append(bool(pred[r] >= pred[p]))
    out = []
    for (key, sev), a in sorted(acc.items()):
        toward = np.array(a["toward"])
        row: Dict[str, object] = {"pool": pool_name, "kind": key, "severity": sev, "ladders": len(toward),
                                  "step_z": round(float(np.median(a["step"])), 3),
                                  "toward_typical": round(float(toward.mean()), 3)}
        for m in preds:
            above = np.array(a[m])
            row[f"{m}:above"] = round(float(above.mean()), 3)
            row[f"{m}:above|toward"] = round(float(above[toward].mean()), 3) if toward.any() else float("nan")
            row[f"{m}:above|away"] = round(float(above[~toward].mean()), 3) if (~toward).any() else float("nan")
        out.append(row)
    return out


def mild_step_toward(pool: Pool, stats: np.ndarray, population: Population) -> Dict[Tuple[str, str], bool]:
    """``(photo, kind) -> True`` where the ladder's mildest version is less atypical than its
    pristine photo (its first step moved the photo towards the typical good photo)."""
    out: Dict[Tuple[str, str], bool] = {}
    for p, kind, rows, noop in ladders(pool):
        if noop or p < 0 or kind not in KIND_STATS:
            continue
        mild = rows[np.argmin(pool.severities[rows])]
        atyp = population.atypicality(stats[[p, mild]], kind)
        out[(str(pool.source_ids[p]), kind)] = bool(atyp[1] < atyp[0])
    return out


def _kept(recs: List[Dict[str, object]], toward: Dict[Tuple[str, str], bool]) -> List[Dict[str, object]]:
    """The :func:`ladder_rows` records of the degradation-only ladders: every ladder whose first step
    did not move the photo towards typical (ladders of kinds without a statistic all stay)."""
    return [r for r in recs if not toward.get((str(r["photo"]), str(r["kind"])), False)]


def order_rows(pool: Pool, stats: np.ndarray, population: Population, recs: Dict[str, List[Dict[str, object]]],
               toward: Dict[Tuple[str, str], bool], pool_name: str) -> List[Dict[str, object]]:
    """Per :data:`KIND_STATS` kind of ``pool``: the order figure (``evaluate.order_figures``) of
    the typicality scorer and of every model, and every model's figure over the ladders whose
    mildest step moved the photo away from typical (``m|away``: a degradation by this measure;
    ``away_ladders``: their fraction). ``recs``: :func:`model_ladders` of ``pool`` or of the
    whole levels pool (other kinds' ladders are ignored); ``toward``: :func:`mild_step_toward`."""
    every = {m: summarise_ladders(r)["monotonicity_per_kind"] for m, r in recs.items()}
    away = {m: summarise_ladders(_kept(r, toward))["monotonicity_per_kind"] for m, r in recs.items()}
    out = []
    for kind in sorted(set(pool.kinds.tolist()) & set(KIND_STATS)):
        typical = order_figures(-population.atypicality(stats, kind), pool)["monotonicity_per_kind"]
        n_kind = sum(k[1] == kind for k in toward)
        n_away = sum(k[1] == kind and not t for k, t in toward.items())
        row: Dict[str, object] = {"pool": pool_name, "kind": kind, "typicality_scorer": round(typical[kind], 4),
                                  "away_ladders": round(n_away / max(1, n_kind), 3)}
        row.update({m: round(f[kind], 4) for m, f in every.items()})
        row.update({f"{m}|away": round(f[kind], 4) if kind in f else float("nan") for m, f in away.items()})
        out.append(row)
    return out


def bootstrap_bars(recs: Sequence[Dict[str, object]], draws: int, seed: int = 0) -> Dict[str, object]:
    """Percentile 95% intervals of the two ladder bars when the *photos* are resampled.

    ``recs``: :func:`evaluate.ladder_rows` records (any subset). Each draw takes the photos with
    replacement, every ladder of a drawn photo with it, and recomputes what
    :func:`evaluate.summarise_ladders` would: the worst kind's mean order and wins / pairs.
    Returns ``order_min_ci`` and ``pristine_above_ci`` (``[lo, hi]``) and ``meets`` (fraction of
    draws in which both bars, order >= 0.95 for every kind and pristine above >= 0.95, hold);
    ``nan`` where ``draws`` is 0 or there are no records. Seeded: the same records give the same intervals.
    """
    nan = float("nan")
    if not draws or not recs:
        return {"order_min_ci": [nan, nan], "pristine_above_ci": [nan, nan], "meets": nan}
    photos = sorted({str(r["photo"]) for r in recs})
    kinds = sorted({str(r["kind"]) for r in recs if np.isfinite(r["order"])})
    p_of, k_of = {p: i for i, p in enumerate(photos)}, {k: i for i, k in enumerate(kinds)}
    order, has = np.zeros((len(photos), len(kinds))), np.zeros((len(photos), len(kinds)))
    wins, pairs = np.zeros(len(photos)), np.zeros(len(photos))
    for r in recs:
        i = p_of[str(r["photo"])]
        wins[i] += int(r["wins"])
        pairs[i] += int(r["pairs"])
        if np.isfinite(r["order"]):
            order[i, k_of[str(r["kind"])]] += float(r["order"])
            has[i, k_of[str(r["kind"])]] += 1
    rng = np.random.default_rng(seed)
    w = rng.multinomial(len(photos), np.full(len(photos), 1.0 / len(photos)), size=draws).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mono = (w @ order) / (w @ has)  # (draws, kinds); nan where a draw holds no ladder of a kind
        worst = np.nanmin(mono, axis=1) if kinds else np.full(draws, nan)
        above = (w @ wins) / (w @ pairs)
    meets = (worst >= 0.95) & (above >= 0.95)
    return {"order_min_ci": np.percentile(worst, [2.5, 97.5]).round(4).tolist(),
            "pristine_above_ci": np.percentile(above, [2.5, 97.5]).round(4).tolist(),
            "meets": round(float(meets.mean()), 3)}


def model_ladders(pool: Pool, preds: Dict[str, np.ndarray]) -> Dict[str, List[Dict[str, object]]]:
    """Per model, the :func:`evaluate.ladder_rows` records of ``pool`` (no-op ladders left out),
    computed once for :func:`bar_rows` and :func:`kind_rows`."""
    return {m: ladder_rows(pred, pool)[0] for m, pred in preds.items()}


def bar_rows(recs: Dict[str, List[Dict[str, object]]], toward: Dict[Tuple[str, str], bool],
             pool_name: str, draws: int = 1000) -> List[Dict[str, object]]:
    """Issue 6's two ladder bars per model, over every ladder (as the release reports) and over the
    degradation-only ladders (:func:`_kept`). ``recs``: :func:`model_ladders` of the whole levels
    pool, every kind; ``toward``: :func:`mild_step_toward`. Columns: ``photos`` with a ladder,
    ``ladders`` kept, worst kind and its order, kinds below 0.95, pristine above degraded (pairs of
    the kept ladders), and with ``draws`` bootstrap draws over photos (:func:`bootstrap_bars`) their
    95% intervals and ``meets``."""
    out = []
    for m, every in recs.items():
        row: Dict[str, object] = {"pool": pool_name, "model": m, "photos": len({r["photo"] for r in every})}
        for tag, kept in (("all", every), ("degradation_only", _kept(every, toward))):
            fig = summarise_ladders(kept)
            mono = fig["monotonicity_per_kind"]
            worst = min(mono, key=mono.get) if mono else ""
            boot = bootstrap_bars(kept, draws)
            row.update({f"{tag}:ladders": len(kept), f"{tag}:worst_kind": worst,
                        f"{tag}:order_min": round(fig["monotonicity_min"], 4),
                        f"{tag}:order_min_ci": "{:.4f}..{:.4f}".format(*boot["order_min_ci"]),
                        f"{tag}:kinds_below_0.95": sum(v < 0.95 for v in mono.values()),
                        f"{tag}:pristine_above": round(fig["pristine_above_degraded"], 4),
                        f"{tag}:pristine_above_ci": "{:.4f}..{:.4f}".format(*boot["pristine_above_ci"]),
                        f"{tag}:meets_both": boot["meets"]})
        out.append(row)
    return out


def kind_rows(recs: Dict[str, List[Dict[str, object]]], toward: Dict[Tuple[str, str], bool],
              pool_name: str) -> List[Dict[str, object]]:
    """Every kind's order figure (issue 6: >= 0.95 for every kind) per model, over every ladder
    (``m``) and over the degradation-only ladders (``m|degrading``, :func:`_kept`), with the
    kind's ladder counts. ``recs``: :func:`model_ladders` of the whole levels pool."""
    if not recs:
        return []
    kept = {m: _kept(r, toward) for m, r in recs.items()}
    every_fig = {m: summarise_ladders(r)["monotonicity_per_kind"] for m, r in recs.items()}
    kept_fig = {m: summarise_ladders(r)["monotonicity_per_kind"] for m, r in kept.items()}
    first = next(iter(recs))  # every model has the same ladders
    out = []
    for kind in sorted(every_fig[first]):
        row: Dict[str, object] = {"pool": pool_name, "kind": kind,
                                  "ladders": sum(r["kind"] == kind for r in recs[first]),
                                  "degrading_ladders": sum(r["kind"] == kind for r in kept[first])}
        for m in recs:
            row[m] = round(every_fig[m][kind], 4)
            row[f"{m}|degrading"] = round(kept_fig[m][kind], 4) if kind in kept_fig[m] else float("nan")
        out.append(row)
    return out


def _table(rows: List[Dict[str, object]]) -> List[str]:
    cols = list(rows[0])
    return ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)] + [
        "| " + " | ".join(str(r[c]) for c in cols) + " |" for r in rows]


def markdown(levels: List[Dict[str, object]], orders: List[Dict[str, object]], bars: List[Dict[str, object]],
             command: str, populations: Dict[str, str], kinds: Sequence[Dict[str, object]] = ()) -> str:
    lines = ["# Photometric levels against the spread of pristine photos", "", f"Command: `{command}`", "",
             "Columns: see the script's docstring. `above`: the version scores at or above its pristine photo "
             "(`|toward` / `|away`: among the ladders whose step moved the statistic towards / away "
             "from the typical good photo).", ""]
    for pool_name in dict.fromkeys(r["pool"] for r in levels):
        lines += [f"## {pool_name}", "", f"Population: {populations.get(str(pool_name), '?')}.", "", "### Per level", ""]
        lines += _table([{k: v for k, v in r.items() if k != "pool"} for r in levels if r["pool"] == pool_name])
        lines += ["", "### Order figure per kind (issue 6 bar: >= 0.95)", ""]
        lines += _table([{k: v for k, v in r.items() if k != "pool"} for r in orders if r["pool"] == pool_name])
        pool_bars = [{k: v for k, v in r.items() if k != "pool"} for r in bars if r["pool"] == pool_name]
        if pool_bars:  # none without --model
            lines += ["", "### Issue 6's ladder bars: every ladder, and degradation-only ladders", "",
                      "Degradation-only: every ladder of the other kinds, and the photometric kinds' ladders whose "
                      "mildest step moved the photo away from typical. Bars: order >= 0.95 for every kind, "
                      "pristine above >= 0.95. `_ci`: 95% bootstrap interval over photos (a draw takes every ladder of a "
                      "drawn photo); `meets_both`: fraction of draws in which both bars hold.", ""]
            lines += _table(pool_bars)
        pool_kinds = [{k: v for k, v in r.items() if k != "pool"} for r in kinds if r["pool"] == pool_name]
        if pool_kinds:
            lines += ["", "Every kind's order figure, over every ladder and over the degradation-only ladders "
                      "(`MODEL|degrading`):", ""]
            lines += _table(pool_kinds)
        lines.append("")
    return "\n".join(lines) + "\n"


def _csv(rows: List[Dict[str, object]]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def reference_sources(cfg: Dict[str, object], sets: Sequence[str], per_set: int) -> List[Source]:
    """The first ``per_set`` train-split photos (by id) of each of ``sets``."""
    sources, splits = split_sources(cfg)
    train = [s for s in sources if splits[s.source_id] == "train"]
    return [s for name in sorted(sets) for s in [t for t in train if t.source_set == name][:per_set]]


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, required=True, help="a release config (pools, split, resolution)")
    parser.add_argument("--cache", type=Path, required=True, help="pools folder (a release run's pools/); built where missing")
    parser.add_argument("--levels", action="append", default=[], choices=LEVELS, help="levels pool (repeatable)")
    parser.add_argument("--model", action="append", default=[], metavar="NAME[=CHECKPOINT]")
    parser.add_argument("--reference-photos", type=int, default=300, help="train photos per source set")
    parser.add_argument("--bootstrap", type=int, default=1000, metavar="DRAWS",
                        help="bootstrap draws over photos for the bars' 95%% intervals (0: none)")
    parser.add_argument("--clean-per-set", type=int, default=None, metavar="N",
                        help="levels_clean pools: N test photos of each clean set instead of the config's "
                             "levels_clean.per_set (0: every one); use a --cache folder of its own")
    parser.add_argument("--out", type=Path, default=Path("research/reports/level_visibility"))
    args = parser.parse_args(argv)
    if not args.config.is_file():
        parser.error(f"--config {args.config}: no such file")
    if not args.levels:
        parser.error("give at least one --levels pool")
    for spec in args.model:
        error = model_spec_error(spec)
        if error:
            parser.error(error)
    if args.clean_per_set is not None and args.clean_per_set < 0:
        parser.error(f"--clean-per-set {args.clean_per_set}: give N >= 0 (0: every clean test photo)")
    cfg, sources, test_src = harness_setup(args.config)
    if args.clean_per_set is not None:
        if not (cfg.get("levels_clean") or {}).get("sets"):
            parser.error(f"--clean-per-set: the config {args.config} has no levels_clean sets")
        cfg = {**cfg, "levels_clean": {**cfg["levels_clean"], "per_set": args.clean_per_set or len(test_src)}}
    pools = levels_pools_named(cfg, test_src, args.cache, args.levels)
    missing = [n for n in args.levels if n not in pools]
    if missing:
        parser.error(f"--levels {missing}: the config {args.config} builds no such pool")
    set_of = {s.source_id: s.source_set for s in sources}
    res = int(cfg["stages"][-1]["resolution"])
    nets = {spec.partition("=")[0]: load_net(spec) for spec in args.model}
    levels_out, orders_out, bars_out, kinds_out, populations = [], [], [], [], {}
    pop_desc: Dict[str, str] = {}
    for name in args.levels:
        # Each pool is judged against good photos of its own source sets.
        sets = tuple(sorted({set_of[str(sid)] for sid in np.unique(pools[name].source_ids)}))
        if sets not in populations:
            populations[sets] = Population(reference_stats(reference_sources(cfg, sets, args.reference_photos), res))
        pop = populations[sets]
        full = pools[name]  # every kind: the bars need them all
        keep = np.flatnonzero(np.isin(full.kinds, ["pristine", *KIND_STATS]))
        pool = full.subset(keep)  # the statistics only where a kind has one
        stats = pool_stats(pool)
        full_preds = {m: predict(net, full) for m, net in nets.items()}
        preds = {m: p[keep] for m, p in full_preds.items()}
        toward = mild_step_toward(pool, stats, pop)
        recs = model_ladders(full, full_preds)  # once: order, bars and kinds all read them
        levels_out += level_rows(pool, stats, pop, preds, name)
        orders_out += order_rows(pool, stats, pop, recs, toward, name)
        bars_out += bar_rows(recs, toward, name, args.bootstrap)
        kinds_out += kind_rows(recs, toward, name)
        pop_desc[name] = f"{pop.n} pristine train-split photos (the first {args.reference_photos} by id of {', '.join(sets)})"
    command = (f"python -m research.eval.level_visibility --config {args.config} --cache {args.cache}"
               + "".join(f" --levels {n}" for n in args.levels) + "".join(f" --model {m}" for m in args.model)
               + f" --reference-photos {args.reference_photos} --bootstrap {args.bootstrap}"
               + (f" --clean-per-set {args.clean_per_set}" if args.clean_per_set is not None else "")
               + f" --out {args.out}")
    atomic_write_text(args.out.with_suffix(".csv"), _csv(levels_out))
    atomic_write_text(args.out.with_name(args.out.name + "_order.csv"), _csv(orders_out))
    if bars_out:
        atomic_write_text(args.out.with_name(args.out.name + "_bars.csv"), _csv(bars_out))
        atomic_write_text(args.out.with_name(args.out.name + "_kinds.csv"), _csv(kinds_out))
    text = markdown(levels_out, orders_out, bars_out, command, pop_desc, kinds_out)
    atomic_write_text(args.out.with_suffix(".md"), text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
