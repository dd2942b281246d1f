"""Within-photo order of the released weights under two ladder protocols.

Usage::

    python -m research.eval.release_levels --config research/release/configs/mspt_face_v2.yml \
        --cache runs/release_levels --out research/reports/release_levels \
        [--candidate mspt_face_v4=runs/mspt_face_v4/stage3_best.pth]

Issue 6 asks that "for one face degraded at increasing severity, the score decreases". The
release reports (``weights/<name>_report.json``) build each severity level of a ladder with
its own random draws (``independent``): a saturation ladder then mixes desaturation and
oversaturation, a colour-cast ladder changes hue from level to level, and a noise ladder
switches between grey and colour noise, so it is not one degradation made stronger. The
``common`` protocol gives every level of one (photo, kind) ladder the same draws
(``build_pool(..., common_random=True)``). Both protocols use the same photos (the release
config's held-out test photos), kinds and severity levels; every release in the catalog is
scored on both. Writes ``<out>.md`` (readable tables) and ``<out>.csv`` (one row per
release x protocol x pool x kind). Pools are cached under ``--cache`` (resumable).
"""
from __future__ import annotations

import argparse
import csv
import logging
import sys
from pathlib import Path
from typing import Any, Dict, List, Tuple

import torch
import yaml

from mspt_pyiqa.archs import MSPTNet
from research.release.evaluate import level_steps, order_figures, predict
from research.release.run import build_levels_pools, split_sources
from mspt_pyiqa.weights import load_catalog, load_mspt_weights, read_checkpoint

PROTOCOLS = {"independent": False, "common": True}
#: Report name of each levels pool of research.release.run (common-draw pools end in ``_common``).
POOL_NAMES = {"levels": "levels", "levels_mixed": "levels_all_sets", "levels_clean": "levels_clean"}
#: Readable title of each report pool.
POOL_TITLES = {"levels": "first test photos by id (All-Age-Faces)", "levels_all_sets": "test photos of every source set",
               "levels_clean": "test photos of the clean sets (SCUT-FBP5500, CelebA-HQ; the corpus's pristine anchors)"}


def build_levels_pools_both(cfg: Dict[str, Any], cache: Path) -> Dict[tuple, Any]:
    """``{(protocol, pool_name): Pool}``: the release runner's levels pools under both protocols."""
    sources, splits = split_sources(cfg)
    test_src = [s for s in sources if splits[s.source_id] == "test"]
    pools = {}
    for proto, common in PROTOCOLS.items():
        for name, pool in build_levels_pools(cfg, test_src, cache, common_random=common).items():
            pools[(proto, POOL_NAMES[name.removesuffix("_common")])] = pool
    return pools


#: The pool whose per-level steps are tabulated (clean photos, one degradation made stronger).
STEPS_POOL = ("common", "levels_clean")


def evaluate(cfg: Dict[str, Any], cache: Path, candidates: Dict[str, Path] = None
             ) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
    """Order rows (release x protocol x pool x kind) and per-level step rows (``STEPS_POOL``)
    for every release in the catalog and every ``candidates`` checkpoint (name -> file)."""
    pools = build_levels_pools_both(cfg, cache)
    rows: List[Dict[str, Any]] = []
    steps: List[Dict[str, Any]] = []
    nets = list(load_catalog()) + sorted(candidates or {})
    for release in nets:
        net = MSPTNet(pretrained=False, test_img_size=None)
        if candidates and release in candidates:
            net.load_state_dict(read_checkpoint(candidates[release]))
        else:
            load_mspt_weights(net, weights_name=release)
        net.eval()
        for (proto, name), pool in pools.items():
            pred = predict(net, pool)
            fig = order_figures(pred, pool)
            if (proto, name) == STEPS_POOL:
                for kind, st in level_steps(pred, pool).items():
                    steps += [{"release": release, "kind": kind, "photos": st["photos"], "severity": sv,
                               "delta": round(d, 4), "above_pristine": round(a, 4)}
                              for sv, d, a in zip(st["severity"], st["delta"], st["above_pristine"])]
            base = {"release": release, "protocol": proto, "pool": name, "photos": len(set(pool.source_ids.tolist()))}
            rows.append({**base, "kind": "ALL_min", "value": round(fig["monotonicity_min"], 4)})
            rows.append({**base, "kind": "pristine_above", "value": round(fig["pristine_above_degraded"], 4)})
            rows.append({**base, "kind": "noop_ladders", "value": fig["noop_ladders"]})
            rows += [{**base, "kind": k, "value": round(v, 4)} for k, v in fig["monotonicity_per_kind"].items()]
    return rows, steps


def steps_markdown(steps: List[Dict[str, Any]]) -> List[str]:
    """Per release: mean (score - pristine score) per kind and level, and how often it is > 0."""
    if not steps:
        return []
    out = ["## Steps on the clean pool (common draws): is each severity level seen?", "",
           "Mean of (score - the photo's pristine score) per level; in brackets the fraction of photos whose "
           "degraded version scores above its pristine one. Saturation is split by direction (`down` = towards "
           "grey). A level whose mean is about 0 and whose fraction is about 0.5 is not seen at all.", ""]
    for release in dict.fromkeys(r["release"] for r in steps):  # catalog order, then candidates
        rs = [r for r in steps if r["release"] == release]
        sevs = sorted({r["severity"] for r in rs})
        out += [f"### {release}", "", "| kind | photos | " + " | ".join(f"s={v:g}" for v in sevs) + " |",
                "|---|---:|" + "---:|" * len(sevs)]
        for kind in sorted({r["kind"] for r in rs}):
            cell = {r["severity"]: f"{r['delta']:+.3f} ({r['above_pristine']:.2f})" for r in rs if r["kind"] == kind}
            n = next(r["photos"] for r in rs if r["kind"] == kind)
            out.append(f"| {kind} | {n} | " + " | ".join(cell.get(v, "") for v in sevs) + " |")
        out.append("")
    return out


def markdown(rows: List[Dict[str, Any]], config: Path, extra_args: str = "") -> str:
    releases = list(dict.fromkeys(r["release"] for r in rows))  # catalog order (v1, v2, ...), then candidates
    cols = [(rel, proto) for rel in releases for proto in PROTOCOLS]
    head = "| figure | " + " | ".join(f"{rel} {proto}" for rel, proto in cols) + " |"
    sep = "|---|" + "---:|" * len(cols)
    val = {(r["release"], r["protocol"], r["pool"], r["kind"]): r["value"] for r in rows}
    out = [
        "# Within-photo order of the releases: independent vs common random draws per ladder", "",
        f"Command: `python -m research.eval.release_levels --config {config}{extra_args}` (held-out test photos of that config; "
        "pools are the release reports' levels pools, `independent`, and the same photos, kinds and levels "
        "with one set of random draws per (photo, kind) ladder, `common`). Order = mean over photos of "
        "-SRCC(score, severity) with the pristine photo at severity 0 (1 = score always falls); "
        "pristine above = fraction of (pristine, degraded) pairs of a photo where the pristine scores higher. "
        "Bars (issue 6): >= 0.95 for every kind, >= 0.95 pristine above. A ladder whose images all equal "
        "the pristine photo (saturation on a greyscale scan) has no order and is left out (`no-op ladders`). "
        "`levels_clean` holds only SCUT-FBP5500 and CelebA-HQ photos, whose own quality is good: the corpus "
        "never takes All-Age-Faces photos (casts, blur, dark scans) as pristine anchors, and on a dark scan "
        "'overexposure' can be an improvement, so the bars are well posed only there.", "",
    ]
    special = ("ALL_min", "pristine_above", "noop_ladders")
    for pool in POOL_TITLES:
        kinds = sorted({r["kind"] for r in rows if r["pool"] == pool and r["kind"] not in special})
        if not kinds:
            continue
        n = next(r["photos"] for r in rows if r["pool"] == pool)
        out += [f"## `{pool}`: {n} {POOL_TITLES[pool]}", "", head, sep]
        for kind in list(special) + kinds:
            label = {"ALL_min": "**worst kind**", "pristine_above": "**pristine above degraded**",
                     "noop_ladders": "no-op ladders left out"}.get(kind, kind)
            fmt = "{:.0f}" if kind == "noop_ladders" else "{:.4f}"
            out.append(f"| {label} | " + " | ".join(fmt.format(val.get((rel, proto, pool, kind), float("nan")))
                                                   for rel, proto in cols) + " |")
        out.append("")
    return "\n".join(out)


def main(argv: List[str] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=Path("research/release/configs/mspt_face_v2.yml"))
    parser.add_argument("--cache", type=Path, default=Path("runs/release_levels"))
    parser.add_argument("--out", type=Path, default=Path("research/reports/release_levels"))
    parser.add_argument("--candidate", action="append", default=[], metavar="NAME=CHECKPOINT",
                        help="also score an unreleased checkpoint (repeatable)")
    args = parser.parse_args(argv)
    candidates = {}
    for item in args.candidate:
        name, sep, path = item.partition("=")
        if not sep or not name or not Path(path).is_file():
            parser.error(f"--candidate wants NAME=CHECKPOINT with an existing file, got {item!r}")
        candidates[name] = Path(path)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    cfg = yaml.safe_load(args.config.read_text())
    torch.set_num_threads(int(cfg.get("threads", 2)))
    rows, steps = evaluate(cfg, args.cache, candidates)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for suffix, table in (("", rows), ("_steps", steps)):
        if not table:
            continue
        with open(f"{args.out}{suffix}.csv.tmp", "w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=list(table[0]))
            w.writeheader()
            w.writerows(table)
        Path(f"{args.out}{suffix}.csv.tmp").replace(f"{args.out}{suffix}.csv")
    extra = "".join(f" --candidate {n}={p}" for n, p in candidates.items())
    md = "\n".join([markdown(rows, args.config, extra), *steps_markdown(steps)])
    Path(f"{args.out}.md.tmp").write_text(md + "\n", encoding="utf-8")
    Path(f"{args.out}.md.tmp").replace(f"{args.out}.md")
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
