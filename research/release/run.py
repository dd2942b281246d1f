"""Train (and optionally publish) the released mspt_face weights.

Usage::

    python -m research.release.run --config research/release/configs/mspt_face_v11.yml \
        --out runs/mspt_face_v11 [--publish]

Everything is cached in ``--out`` (pools, teacher, stage checkpoints), so the same command
resumes after an interruption. ``--publish`` copies the final checkpoint into ``weights/``
as ``<name>-<sha8>.pth`` and writes its catalog entry and figures (``weights/<name>_report.json``).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import shutil
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import yaml

from mspt_pyiqa.archs import MSPTNet
from mspt_pyiqa.corpus.config import load_stage
from mspt_pyiqa.corpus.sampler import DegradationSampler
from mspt_pyiqa.corpus.sources import Source, assign_splits, list_sources
from research.release.evaluate import correlations, order_figures, predict
from research.release.feature_init import feature_init
from research.release.ladders import DEFAULT_BINS, build_ladder_pool
from research.release.pools import Pool, build_pool, cached_pool
from research.release.trainer import (StageData, fit_teacher, forgetting_table, memory_format_of, teacher_targets,
                                        train_stage)
from research.release.teacher import MobileNetV2Teacher, fetch_mobilenet_v2_imagenet
from mspt_pyiqa.train.runfiles import git_commit
from mspt_pyiqa.weights import read_checkpoint, sha256_file

logger = logging.getLogger("research.release")


def stage_sampler(stage: Dict[str, Any]) -> Tuple[DegradationSampler, Dict[str, Any]]:
    cfg = load_stage(stage["sampler"])
    cfg.update(stage.get("sampler_overrides", {}))
    return DegradationSampler(cfg), cfg


def levels_spec(cfg: Dict[str, Any], last_cfg: Dict[str, Any]) -> List[Dict[str, Any]]:
    """The levels pools' rows per photo: pristine, then every ``levels_kinds`` kind at every level."""
    return [{"kind": "pristine", "severity": 0.0}] + [
        {"kind": kind, "severity": float(sev)} for kind in cfg["levels_kinds"]
        for sev in last_cfg.get("levels", [0.1, 0.25, 0.45, 0.7, 1.0])]


def levels_sources(cfg: Dict[str, Any], test_src: List[Source]) -> Tuple[List[Source], List[Source], List[Source]]:
    """Photos of the levels pool (the first ``max_levels_sources`` test photos by id), of
    the all-sets levels pool (the first ``levels_per_set`` test photos of each source set)
    and of the clean levels pool (the first ``levels_clean.per_set`` test photos of each of
    ``levels_clean.sets``; empty without ``levels_clean``)."""
    first = test_src[: cfg.get("max_levels_sources", 60)]

    def per_set_of(names: Sequence[str], per_set: int) -> List[Source]:
        return [s for name in sorted(names) for s in [t for t in test_src if t.source_set == name][:per_set]]

    mixed = per_set_of({s.source_set for s in test_src}, int(cfg.get("levels_per_set") or 0))
    clean_cfg = cfg.get("levels_clean") or {}
    clean = per_set_of(clean_cfg.get("sets", []), int(clean_cfg.get("per_set", 0)))
    return first, mixed, clean


def split_sources(cfg: Dict[str, Any]) -> Tuple[List[Source], Dict[str, str]]:
    """The config's source photos and their split (by source photo, ``cfg['split']``)."""
    sources = list_sources(Path(cfg["faces"]))
    return sources, assign_splits([s.source_id for s in sources], cfg["split"]["fractions"], int(cfg["split"]["seed"]))


#: Levels pools: name -> (which photos of ``levels_sources``, seed offset). The offsets are
#: those every release report was built with; changing them changes published figures.
#: ``levels_clean`` holds only photos whose own quality is known to be good (the corpus never
#: uses All-Age-Faces photos as pristine anchors: docs/corpus.md), so that "pristine above
#: degraded" and photometric ladders (brightening a dark scan can improve it) are well posed.
LEVELS_POOLS = {"levels": (0, 2000), "levels_mixed": (1, 3000), "levels_clean": (2, 4000)}


def build_levels_pools(cfg: Dict[str, Any], test_src: List[Source], pool_dir: Path,
                       common_random: bool = False, only: Optional[Sequence[str]] = None) -> Dict[str, Pool]:
    """``levels``, ``levels_mixed`` (if ``levels_per_set``) and ``levels_clean`` (if
    ``levels_clean``), cached in ``pool_dir``.

    ``common_random``: the same photos and levels with one set of random draws per (photo,
    kind) ladder (``build_pool``); the pools are then named ``levels_common``,
    ``levels_mixed_common`` and ``levels_clean_common``. ``only``: build (or load) just these
    pool names; the others are skipped (a harness that needs one pool does not build six).
    """
    sampler, last_cfg = stage_sampler(cfg["stages"][-1])
    res, seed = int(cfg["stages"][-1]["resolution"]), int(cfg["seed"])
    photo_sets, spec = levels_sources(cfg, test_src), levels_spec(cfg, last_cfg)
    suffix = "_common" if common_random else ""
    pools: Dict[str, Pool] = {}
    for name, (which, offset) in LEVELS_POOLS.items():
        photos = photo_sets[which]
        if photos and (only is None or name + suffix in only):
            build = lambda p=photos, o=offset, n=name: build_pool(  # noqa: E731
                p, sampler, res, 0, seed + o, desc=n + suffix, fixed=spec, common_random=common_random)
            pools[name + suffix] = cached_pool(pool_dir / f"{name}{suffix}.npz", build, photos)
    return pools


def levels_pools_named(cfg: Dict[str, Any], test_src: List[Source], pool_dir: Path,
                       names: Sequence[str]) -> Dict[str, Pool]:
    """The levels pools ``names`` (``LEVELS_POOLS`` names or their ``_common`` twins) that the
    config builds, cached in ``pool_dir``; a name it builds no pool for is absent."""
    return {**build_levels_pools(cfg, test_src, pool_dir, only=names),
            **build_levels_pools(cfg, test_src, pool_dir, common_random=True, only=names)}


def harness_setup(config: Path) -> Tuple[Dict[str, Any], List[Source], List[Source]]:
    """The start of an eval harness: logging, the release ``config`` (``yaml.safe_load``),
    torch threads from it, its source photos and its test-split photos."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    cfg = yaml.safe_load(Path(config).read_text())
    torch.set_num_threads(int(cfg.get("threads", 2)))
    sources, splits = split_sources(cfg)
    return cfg, sources, [s for s in sources if splits[s.source_id] == "test"]


def build_test_pool(cfg: Dict[str, Any], test_src: List[Source], pool_dir: Path) -> Pool:
    """The held-out test pool (2 degraded versions of each of the first ``max_test_sources``
    test photos, last stage's sampler and resolution), cached as ``pool_dir/test.npz``."""
    sampler, _ = stage_sampler(cfg["stages"][-1])
    res, seed = int(cfg["stages"][-1]["resolution"]), int(cfg["seed"])
    return cached_pool(pool_dir / "test.npz", lambda: build_pool(
        test_src[: cfg.get("max_test_sources", 600)], sampler, res, 2, seed + 1000, desc="test"))


def make_pools(cfg: Dict[str, Any], out: Path) -> Dict[str, Any]:
    seed = int(cfg["seed"])
    sources, splits = split_sources(cfg)
    pools: Dict[str, Any] = {"train": [], "val": []}
    for k, stage in enumerate(cfg["stages"]):
        sampler, scfg = stage_sampler(stage)
        res, sets = int(stage["resolution"]), set(scfg["sources"])
        for split, per in (("train", stage["per_source"]), ("val", stage.get("val_per_source", 2))):
            chosen = [s for s in sources if s.source_set in sets and splits[s.source_id] == split]
            chosen = chosen[: stage.get("max_sources", len(chosen))] if split == "train" else chosen[: cfg.get("max_val_sources", 300)]
            path = out / "pools" / f"{stage['name']}_{split}.npz"
            pools[split].append(cached_pool(path, lambda c=chosen, p=per, s=split: build_pool(
                c, sampler, res, int(p), seed + 17 * k + (0 if s == "train" else 1), desc=f"{stage['name']} {s}")))
    pools["ladders"] = []
    for k, stage in enumerate(cfg["stages"]):  # severity ladders for the ranking loss (ladders.py)
        lcfg = stage.get("ladder")
        if not lcfg:
            pools["ladders"].append(None)
            continue
        sampler, scfg = stage_sampler(stage)
        chosen = [s for s in sources if s.source_set in set(scfg["sources"]) and splits[s.source_id] == "train"]
        pick = np.sort(np.random.default_rng([seed, k]).permutation(len(chosen))[: int(lcfg.get("photos", 1000))])
        pools["ladders"].append(cached_pool(out / "pools" / f"{stage['name']}_ladders.npz", lambda c=[chosen[i] for i in pick],
            sm=sampler, st=stage, lc=lcfg, kk=k: build_ladder_pool(
                c, sm, int(st["resolution"]), lc.get("kinds", cfg["levels_kinds"]), lc.get("bins", DEFAULT_BINS),
                seed + 17 * kk + 5, desc=f"{st['name']} ladders", common_random=bool(lc.get("common_random", False)))))
    test_src = [s for s in sources if splits[s.source_id] == "test"]
    pools["test"] = build_test_pool(cfg, test_src, out / "pools")
    pools.update(build_levels_pools(cfg, test_src, out / "pools"))
    if cfg.get("levels_common_random"):  # the same photos and levels, one set of draws per ladder
        pools.update(build_levels_pools(cfg, test_src, out / "pools", common_random=True))
    pools["splits"] = {n: sum(1 for v in splits.values() if v == n) for n in ("train", "val", "test")}
    return pools


def get_teacher(cfg: Dict[str, Any], out: Path, pools: Dict[str, Any]) -> MobileNetV2Teacher:
    """The trained teacher; on first run also caches its targets on its training subset.

    The teacher trains on ``teacher.max_images`` images of the last stage's pool, a seeded
    subset (all of it when omitted, as in the ``mspt_face_v9`` recipe: its frozen lower blocks cost
    about 2 min over the 13,308-image pool on 2 cores, and 3,000 images overfit it).
    ``teacher.targets``: ``trained`` (default) caches targets on that subset only; ``all``
    runs the trained teacher over the whole pool, so every stage-3 label batch is distilled.
    """
    tcfg = cfg["teacher"]
    targets = tcfg.get("targets", "trained")
    if targets not in ("trained", "all"):  # checked before any training
        raise ValueError(f"teacher.targets must be 'trained' or 'all', got {targets!r}")
    teacher = MobileNetV2Teacher(fetch_mobilenet_v2_imagenet(), split_block=int(tcfg.get("split_block", 14)))
    path = out / "teacher.pth"
    if path.is_file():
        teacher.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        teacher.eval()
        return teacher
    last = pools["train"][-1]
    subset = np.sort(np.random.default_rng(int(cfg["seed"])).permutation(len(last))[: int(tcfg.get("max_images", len(last)))])
    fig, (score, feat) = fit_teacher(teacher, last.subset(subset), pools["val"][-1], tcfg, int(cfg["seed"]))
    record = {"val": fig, "train_images": int(len(subset)), "targets": targets}
    if targets == "all":  # targets on the whole pool, not only the subset it was fitted on
        subset = np.arange(len(last))
        score, feat = teacher_targets(teacher, last, memory_format=memory_format_of(tcfg))
    np.savez(out / "teacher_subset_targets.npz", index=subset, score=score, feat=feat)
    torch.save(teacher.state_dict(), path)
    record["target_images"] = int(len(subset))
    (out / "teacher_record.json").write_text(json.dumps(record, indent=2))
    return teacher


def ladder_teacher_scores(cfg: Dict[str, Any], out: Path, k: int, pools: Dict[str, Any]) -> np.ndarray:
    """The fitted teacher's scores ``(N,)`` of stage ``k``'s ladder pool (for the ladder
    ``teacher_weight`` term), cached in ``<stage>_ladder_teacher.npy`` (written atomically)."""
    ladders = pools["ladders"][k]
    path = out / f"{cfg['stages'][k]['name']}_ladder_teacher.npy"
    if path.is_file():
        score = np.load(path)
        if len(score) == len(ladders):
            return score
        logger.warning("%s has %d scores for %d ladder images: recomputing", path, len(score), len(ladders))
    teacher = get_teacher(cfg, out, pools)
    score, _ = teacher_targets(teacher, ladders, memory_format=memory_format_of(cfg["teacher"]))
    tmp = out / f"{path.stem}.tmp.npy"
    np.save(tmp, score.astype(np.float32))
    tmp.replace(path)
    return score.astype(np.float32)


def stage_data(cfg: Dict[str, Any], out: Path, k: int, pools: Dict[str, Any]) -> StageData:
    """Train pool ``k`` with teacher targets where the stage uses them (NaN where none)."""
    pool = pools["train"][k]
    lcfg = cfg["stages"][k].get("ladder") or {}
    ladders = {"ladders": pools["ladders"][k], "ladder_kinds": lcfg.get("kinds", cfg["levels_kinds"]),
               "ladder_bins": len(lcfg.get("bins", DEFAULT_BINS)),
               "ladder_t_score": (ladder_teacher_scores(cfg, out, k, pools)
                                  if lcfg.get("teacher_weight") and pools["ladders"][k] is not None else None)}
    if not cfg["stages"][k].get("teacher_targets", True):
        return StageData(pool, None, None, **ladders)
    get_teacher(cfg, out, pools)
    if k != len(cfg["stages"]) - 1:
        raise ValueError("teacher targets are cached for the last stage's pool only")
    t = np.load(out / "teacher_subset_targets.npz")
    score = np.full(len(pool), np.nan, np.float32)
    feat = np.zeros((len(pool), t["feat"].shape[1]), np.float16)
    score[t["index"]], feat[t["index"]] = t["score"], t["feat"]
    return StageData(pool, score, feat, **ladders)


def stage_seed(cfg: Dict[str, Any], stage: Dict[str, Any]) -> int:
    """The training seed of a stage: its own ``seed`` field, else the run's.

    Why a stage may have its own: a second seed of one stage redraws only that stage's batches,
    dropout and head initialisation, so it measures training noise without rebuilding the
    pools, the teacher or the earlier stages (pools always use the run's seed).
    """
    return int(stage.get("seed", cfg["seed"]))


def initial_checkpoint(cfg: Dict[str, Any], out: Path, pools: Dict[str, Any]) -> Optional[Path]:
    """Where stage 1 starts: ``None`` (random weights) or, with a ``feature_init`` block, the
    student distilled from the teacher's intermediate features (``feature_init.py``) on the
    last stage's train pool."""
    if not cfg.get("feature_init"):
        return None
    return feature_init(cfg["feature_init"], get_teacher(cfg, out, pools), pools["train"][-1], pools["train"][0],
                        out, int(cfg["seed"]))


def markdown_table(rows: List[Dict[str, Any]], cols: List[str]) -> str:
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(str(r[c]) for c in cols) + " |" for r in rows]
    return "\n".join(lines)


def run(cfg: Dict[str, Any], out: Path) -> Dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(int(cfg.get("threads", 2)))
    (out / "config.yml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    (out / "run_info.json").write_text(json.dumps({"seed": cfg["seed"], "git_commit": git_commit(Path(__file__)),
                                                   "started": dt.datetime.now().isoformat()}, indent=2))
    pools = make_pools(cfg, out)
    data: List[StageData] = []
    records, ckpts = [], []
    prev = initial_checkpoint(cfg, out, pools)
    for k, stage in enumerate(cfg["stages"]):
        rec_path = out / f"{stage['name']}_record.json"
        data.append(stage_data(cfg, out, k, pools))
        if k > 0 and prev is not None:  # frozen previous stage's scores on replayed data
            pnet = MSPTNet(pretrained=False, test_img_size=None)
            pnet.load_state_dict(read_checkpoint(prev))
            pnet.eval()
            for d in data[:k]:
                d.prev_score = predict(pnet, d.pool).astype(np.float32)
        if rec_path.is_file():
            rec = json.loads(rec_path.read_text())
        else:
            rec = train_stage(stage, k, data, pools["val"], cfg["loss"], out, prev, stage_seed(cfg, stage))
        records.append(rec)
        prev = Path(rec["best_checkpoint"])
        ckpts.append(prev)
    teacher = get_teacher(cfg, out, pools)
    teacher_test = correlations(predict(lambda x: teacher(x)[0], pools["test"]), pools["test"].labels)
    teacher_order = order_figures(predict(lambda x: teacher(x)[0], pools["levels"]), pools["levels"])
    names = [s["name"] for s in cfg["stages"]]
    extra = {"levels_mixed": "levels_all_sets", "levels_common": "levels_common_random",
             "levels_mixed_common": "levels_all_sets_common_random", "levels_clean": "levels_clean",
             "levels_clean_common": "levels_clean_common_random"}  # pool -> report key
    for pname, key in extra.items():
        if pname in pools:
            teacher_order[key] = order_figures(predict(lambda x: teacher(x)[0], pools[pname]), pools[pname])
    table = forgetting_table(ckpts, names, pools["val"])
    final = MSPTNet(pretrained=False, test_img_size=int(cfg["stages"][-1]["resolution"]))
    final.load_state_dict(read_checkpoint(ckpts[-1]))
    final.eval()
    report = {
        "splits": pools["splits"],
        "pool_sizes": {f"{n}_{s}": len(p) for s in ("train", "val") for n, p in zip(names, pools[s])},
        "test_size": len(pools["test"]), "levels_size": len(pools["levels"]),
        "teacher": {"test": teacher_test, **teacher_order},
        "student": {"test": correlations(predict(final, pools["test"]), pools["test"].labels),
                    **order_figures(predict(final, pools["levels"]), pools["levels"])},
        "levels_sources": sorted({str(s).split("/")[0] for s in pools["levels"].source_ids}),
        "stages": [{k: v for k, v in r.items() if k != "history"} for r in records],
        "feature_init": (json.loads((out / "feature_init_record.json").read_text())
                         if cfg.get("feature_init") else None),
        "forgetting": table,
        "final_checkpoint": str(ckpts[-1]), "final_sha256": sha256_file(ckpts[-1]),
    }
    for pname, key in extra.items():
        if pname in pools:
            report["student"][key] = order_figures(predict(final, pools[pname]), pools[pname])
            report[f"{key}_size"] = len(pools[pname])
    (out / "report.json").write_text(json.dumps(report, indent=2))
    (out / "forgetting.md").write_text(markdown_table(table, ["checkpoint", "val_set", "resolution", "srcc", "plcc"]) + "\n")
    print(markdown_table(table, ["checkpoint", "val_set", "resolution", "srcc", "plcc"]))
    print(json.dumps({"teacher": report["teacher"], "student": report["student"]}, indent=2))
    return report


def publish(cfg: Dict[str, Any], report: Dict[str, Any], weights_dir: Path) -> Path:
    """Copy the final checkpoint into ``weights/`` and write its catalog entry."""
    rel = cfg["release"]
    sha = report["final_sha256"]
    fname = f"{rel['name']}-{sha[:8]}.pth"
    shutil.copyfile(report["final_checkpoint"], weights_dir / fname)
    catalog_path = weights_dir / "catalog.yaml"
    catalog = yaml.safe_load(catalog_path.read_text()) or {}
    releases = catalog.get("releases") or {}
    releases[rel["name"]] = {
        "file": fname, "sha256": sha, "input_size": int(cfg["stages"][-1]["resolution"]),
        "backbone": "mobilenetv3_small_100", "training_data": rel["training_data"], "license": rel["license"],
        "date": dt.date.today().isoformat(), "url": rel["url_base"] + fname, "description": rel["description"],
    }
    catalog["releases"] = releases
    catalog["default"] = rel["name"]
    header = "# Released MSPT checkpoints. One entry per release; `default` is what\n" \
             "# pyiqa.create_metric('mspt_face') loads. Read by mspt_pyiqa/weights.py (yaml.safe_load).\n"
    catalog_path.write_text(header + yaml.safe_dump(catalog, sort_keys=False))
    (weights_dir / f"{rel['name']}_report.json").write_text(json.dumps(report, indent=2))
    return weights_dir / fname


def main(argv: List[str] = None) -> int:
    parser = argparse.ArgumentParser(description="train the released mspt_face weights")
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--publish", action="store_true", help="copy the result into weights/ and the catalog")
    parser.add_argument("--weights-dir", type=Path, default=Path(__file__).resolve().parents[2] / "weights")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    cfg = yaml.safe_load(args.config.read_text())
    report = run(cfg, args.out)
    if args.publish:
        print("published", publish(cfg, report, args.weights_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
