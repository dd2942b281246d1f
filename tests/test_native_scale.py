"""Native-scale degradations, the yardstick's planning / scoring cache, figures, bars and reference file."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List

import cv2
import numpy as np
import pytest
import torch

from mspt_pyiqa.bench import native, native_figures, native_run
from mspt_pyiqa.preprocess import resize_to_test_size


def _photo(h: int = 300, w: int = 260, seed: int = 0) -> np.ndarray:
    """A natural-looking RGB uint8 test image: smooth shapes plus fine texture (no shared data needed)."""
    rng = np.random.default_rng(seed)
    base = cv2.resize(rng.uniform(0, 255, (12, 10, 3)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    fine = cv2.GaussianBlur(rng.normal(0, 25, (h, w, 3)).astype(np.float32), (0, 0), 1.2)
    return np.clip(base + fine, 0, 255).astype(np.uint8)


# ----------------------------------------------------------------------------- levels and settings
def test_yardstick_levels_meet_the_stated_mild_ends():
    lv = native.YARDSTICK_LEVELS
    assert set(lv) == {"gaussian_blur", "motion_blur", "gaussian_noise", "jpeg", "resample", "chain"}
    assert all(len(v) == 4 for v in lv.values())
    assert lv["gaussian_noise"][0] <= 5 and lv["jpeg"][0] >= 40 and lv["gaussian_blur"][0] <= 1.0
    dense = native.DENSE_MILD
    assert min(dense["gaussian_noise"]) >= 2 and max(dense["gaussian_noise"]) <= 8
    assert min(dense["jpeg"]) >= 30 and max(dense["jpeg"]) <= 70
    assert min(dense["gaussian_blur"]) >= 0.5 and max(dense["gaussian_blur"]) <= 1.5


def test_severity_scale_hits_the_yardstick_levels_and_grows_with_damage():
    for kind, values in native.YARDSTICK_LEVELS.items():
        assert native.severity(kind, native.NEUTRAL[kind]) == 0.0
        assert [native.severity(kind, v) for v in values] == pytest.approx([1.0, 2.0, 3.0, 4.0])
    dense = [native.severity("gaussian_noise", v) for v in (2, 3, 4, 5, 6, 8, 12, 20, 35)]
    assert np.all(np.diff(dense) > 0) and dense[0] == pytest.approx(0.4)
    jpeg = [native.severity("jpeg", q) for q in (70, 60, 50, 40, 30, 20, 10, 5)]
    assert np.all(np.diff(jpeg) > 0) and jpeg[0] == pytest.approx(0.5)
    assert native.severity("gaussian_blur", 6.0) == pytest.approx(5.0)  # past level 4: the last segment extended
    with pytest.raises(ValueError, match="webp: no severity scale"):
        native.severity("webp", 50)
    with pytest.raises(ValueError, match="quality must be in"):
        native.severity("jpeg", 0)


def test_settings_are_plain_words():
    assert native.setting("jpeg", 20) == "JPEG quality 20"
    assert native.setting("gaussian_noise", 5) == "Gaussian noise sigma 5/255"
    assert "384 px" in native.setting("gaussian_blur", 1.0)
    assert "JPEG q50" in native.setting("chain", 0.5)


@pytest.mark.parametrize("kind,value,msg", [
    ("sharpen", 1.0, "unknown native degradation kind"),
    ("jpeg", 0, "quality must be in [1, 100]"),
    ("webp", 101, "quality must be in [1, 100]"),
    ("resample", 0.5, "factor must be >= 1"),
    ("chain", 1.5, "strength must be in [0, 1]"),
    ("gaussian_noise", -1, "must be >= 0"),
    ("gaussian_blur", float("nan"), "must be finite"),
])
def test_bad_settings_are_refused_with_a_clear_message(kind, value, msg):
    with pytest.raises(ValueError, match=msg.replace("[", r"\[").replace("]", r"\]")):
        native.encode(_photo(), kind, value, 0)


def test_bad_image_is_refused():
    with pytest.raises(ValueError, match="RGB image"):
        native.encode(np.zeros((64, 64), np.uint8), "jpeg", 40, 0)
    with pytest.raises(ValueError, match="uint8"):
        native.encode(np.zeros((64, 64, 3), np.float32), "jpeg", 40, 0)


# ----------------------------------------------------------------------------- degradations
def test_files_are_what_a_user_has():
    img = _photo()
    data, ext = native.encode(img, "jpeg", 20, 0)
    assert ext == ".jpg" and data[:2] == b"\xff\xd8"
    assert len(native.encode(img, "jpeg", 5, 0)[0]) < len(native.encode(img, "jpeg", 40, 0)[0])
    for kind in ("gaussian_blur", "motion_blur", "gaussian_noise", "resample", "chain"):
        data, ext = native.encode(img, kind, native.YARDSTICK_LEVELS[kind][0], 0)
        assert ext == ".png" and data[:4] == b"\x89PNG"
        out = native.decode(data)
        assert out.shape == img.shape and out.dtype == np.uint8


def test_identity_at_zero_and_lossless_png():
    img = _photo()
    for kind in ("gaussian_blur", "gaussian_noise", "chain"):
        assert np.array_equal(native.degrade(img, kind, 0.0, 3), img)


def test_deterministic_and_common_random_along_a_ladder():
    img = _photo()
    a = native.degrade(img, "gaussian_noise", 10, seed=7)
    assert np.array_equal(a, native.degrade(img, "gaussian_noise", 10, seed=7))
    assert not np.array_equal(a, native.degrade(img, "gaussian_noise", 10, seed=8))
    # same seed, two strengths: the same noise field, scaled (correlation of the residuals ~1)
    r5 = native.degrade(img, "gaussian_noise", 5, 7).astype(float) - img
    r20 = native.degrade(img, "gaussian_noise", 20, 7).astype(float) - img
    assert np.corrcoef(r5.ravel(), r20.ravel())[0, 1] > 0.9


@pytest.mark.parametrize("kind", ["gaussian_blur", "motion_blur", "gaussian_noise", "jpeg", "webp", "resample", "chain"])
def test_psnr_falls_along_every_ladder(kind):
    img = _photo()
    levels = native.YARDSTICK_LEVELS.get(kind, native.DENSE_MILD.get(kind))
    psnrs = [native.psnr(img, x) for x in native.native_ladder(img, kind, levels, seed=1)[1:]]
    assert all(a > b for a, b in zip(psnrs, psnrs[1:])), psnrs


@pytest.mark.parametrize("kind", sorted(native.DENSE_MILD))
def test_dense_mild_end_is_monotone(kind):
    img = _photo(seed=2)
    psnrs = [native.psnr(img, x) for x in native.native_ladder(img, kind, native.DENSE_MILD[kind], seed=4)[1:]]
    assert all(a > b for a, b in zip(psnrs, psnrs[1:])), psnrs


def test_blur_scales_with_the_short_side():
    small, big = _photo(192, 192), _photo(768, 768)
    # the same setting removes the same share of detail at 4x the size: compare after resizing to 192
    d_small = native.psnr(small, native.degrade(small, "gaussian_blur", 3.0, 0))
    big_b = cv2.resize(native.degrade(big, "gaussian_blur", 3.0, 0), (192, 192), interpolation=cv2.INTER_AREA)
    d_big = native.psnr(cv2.resize(big, (192, 192), interpolation=cv2.INTER_AREA), big_b)
    assert abs(d_small - d_big) < 6.0


# ----------------------------------------------------------------------------- training ladder
def test_training_ladder_shapes_range_and_clean_first():
    img = _photo(400, 300)
    x = native.training_ladder(img, "gaussian_noise", native.DENSE_MILD["gaussian_noise"], seed=3,
                               short_side=(256, 512), test_img_size=224)
    assert x.shape == (7, 3, 299, 224) and x.dtype == torch.float32
    assert float(x.min()) >= -0.05 and float(x.max()) <= 1.05
    y = native.training_ladder(img, "gaussian_noise", native.DENSE_MILD["gaussian_noise"], seed=3,
                               short_side=(256, 512), test_img_size=224)
    assert torch.equal(x, y)
    short = native.draw_short_side(3, 256, 512)
    clean = resize_to_test_size(native.to_tensor(native.resize_photo(img, short))[None], 224)
    assert torch.allclose(x[0:1], clean)
    errs = [float((x[i] - x[0]).pow(2).mean()) for i in range(1, 7)]
    assert all(a < b for a, b in zip(errs, errs[1:]))


def test_training_ladder_native_size_and_no_resize():
    img = _photo(300, 260)
    x = native.training_ladder(img, "jpeg", [60, 30], seed=0, short_side=None, test_img_size=None)
    assert x.shape == (3, 3, 300, 260)


def test_training_ladder_is_what_the_metric_reads_from_the_file(tmp_path):
    """The tensor equals pyiqa's reading of the saved file, then the metric's own resize."""
    from pyiqa.utils.img_util import imread2tensor

    img = _photo(360, 320)
    for kind, value in (("gaussian_noise", 5.0), ("jpeg", 40.0)):
        data, ext = native.encode(img, kind, value, seed=9)
        path = tmp_path / f"x{ext}"
        path.write_bytes(data)
        from_file = resize_to_test_size(imread2tensor(str(path))[None].float(), 224)
        ours = native.training_ladder(img, kind, [value], seed=9, short_side=None, test_img_size=224)[1:]
        assert from_file.shape == ours.shape
        assert float((from_file - ours).abs().max()) <= 3.0 / 255.0, kind  # JPEG decoders may round differently


def test_draw_short_side_range_and_errors():
    vals = [native.draw_short_side(s) for s in range(200)]
    assert min(vals) >= 256 and max(vals) <= 1024 and len(set(vals)) > 100
    with pytest.raises(ValueError, match="short-side range"):
        native.draw_short_side(0, 500, 400)


# ----------------------------------------------------------------------------- figures and bars
def _rows(n_photos: int, score_fn, kinds=("gaussian_noise", "jpeg")) -> List[Dict[str, object]]:
    rows = []
    for p in range(n_photos):
        for arm in ("native", "realworld"):
            rows.append({"photo": f"s/{p}.jpg", "arm": arm, "kind": "clean", "level": 0, "m": score_fn(p, "clean", 0)})
            for k in kinds:
                for lvl in range(1, 5):
                    rows.append({"photo": f"s/{p}.jpg", "arm": arm, "kind": k, "level": lvl, "m": score_fn(p, k, lvl)})
    return rows


def test_perfect_reversed_and_tied_metrics():
    kinds = ["gaussian_noise", "jpeg"]
    good = native_figures.figures(_rows(10, lambda p, k, lv: 10.0 - lv + 0.01 * p), "m", False, kinds, n_boot=50)
    assert native_figures.lookup(good, "order", "all")["value"] == 1.0
    assert native_figures.lookup(good, "clean_beats_1", "jpeg")["value"] == 1.0
    assert native_figures.lookup(good, "srcc", "all")["value"] > 0.95
    # the same scores read as lower-is-better are perfectly wrong
    bad = native_figures.figures(_rows(10, lambda p, k, lv: 10.0 - lv + 0.01 * p), "m", True, kinds, n_boot=50)
    assert native_figures.lookup(bad, "order", "all")["value"] == 0.0
    assert native_figures.lookup(bad, "srcc", "all")["value"] < -0.95
    tied = native_figures.figures(_rows(10, lambda p, k, lv: 1.0), "m", False, kinds, n_boot=0)
    assert native_figures.lookup(tied, "order", "jpeg")["value"] == 0.5
    assert all(f["photos"] == 10 for f in tied)


def test_figures_count_only_the_failing_type_and_intervals_are_seeded():
    kinds = ["gaussian_noise", "jpeg"]
    rng = np.random.default_rng(0)
    flips = rng.random(40) < 0.3

    def score(p, k, lvl):  # noise level 1 beats clean for 30% of photos
        if k == "gaussian_noise" and lvl == 1 and flips[p]:
            return 10.5
        return 10.0 - lvl
    figs = native_figures.figures(_rows(40, score), "m", False, kinds, n_boot=300, seed=1)
    c = native_figures.lookup(figs, "clean_beats_1", "gaussian_noise")
    assert c["value"] == pytest.approx(1 - flips.mean())
    assert c["lo"] <= c["value"] <= c["hi"] and c["hi"] - c["lo"] > 0.05
    assert native_figures.lookup(figs, "clean_beats_1", "jpeg")["value"] == 1.0
    assert figs == native_figures.figures(_rows(40, score), "m", False, kinds, n_boot=300, seed=1)


def test_bars_met_and_missed():
    kinds = ["gaussian_noise", "jpeg"]
    perfect = native_figures.figures(_rows(8, lambda p, k, lv: 10.0 - lv), "m", False, kinds, n_boot=0)
    flat_noise = native_figures.figures(
        _rows(8, lambda p, k, lv: 10.0 if k == "gaussian_noise" else 10.0 - lv), "m", False, kinds, n_boot=0)
    bars = {b["bar"]: b["met"] for b in native_figures.bars(flat_noise, perfect, kinds)}
    assert bars == {"order >= 0.97 for every type": False, "clean beats level 1 for >= 95% of faces, every type": False,
                    "order >= NIQE's for every type": False, "SRCC >= NIQE's + 0.03": False}
    ok = {b["bar"]: b["met"] for b in native_figures.bars(perfect, flat_noise, kinds)}
    assert all(ok.values())
    assert len(native_figures.bars(perfect, None, kinds)) == 2


def test_reference_file_schema():
    kinds = ["gaussian_noise", "jpeg"]
    levels = {"gaussian_noise": (5, 10, 20, 35), "jpeg": (40, 20, 10, 5)}
    rows = _rows(12, lambda p, k, lv: 0.9 - 0.1 * lv + 0.001 * p, kinds)
    ref = native_figures.reference(rows, "m", "rel", "python eval/native_scale.py", kinds, levels, native.setting)
    assert set(ref) == {"release", "made_by", "photos", "clean_percentiles", "conditions"}
    assert ref["photos"] == 12 and len(ref["clean_percentiles"]) == 101
    assert ref["clean_percentiles"] == sorted(ref["clean_percentiles"])
    assert len(ref["conditions"]) == 8
    c = ref["conditions"][4]
    assert c["kind"] == "jpeg" and c["level"] == 1 and c["setting"] == "JPEG quality 40"
    assert c["p25"] <= c["median"] <= c["p75"]
    json.dumps(ref)


# ----------------------------------------------------------------------------- plan, files, resumable scores
def test_plan_files_and_arms():
    src = native_run.Source("scut/AF1.jpg", "scut", Path("/nowhere/scut/AF1.jpg"))
    rows = native_run.plan([src], {"scut/AF1.jpg": 350}, native.YARDSTICK_LEVELS, seed=0)
    assert len(rows) == 2 * 25
    nat = [r for r in rows if r["arm"] == "native"]
    assert {r["short"] for r in nat} == {350}
    rw = {r["short"] for r in rows if r["arm"] == "realworld"}
    assert len(rw) == 1 and 256 <= rw.pop() <= 1024
    assert all(str(r["file"]).endswith(".jpg") == (r["kind"] == "jpeg") for r in rows)
    assert len({r["file"] for r in rows}) == len(rows)
    with pytest.raises(ValueError, match="unknown arm"):
        native_run.plan([src], {"scut/AF1.jpg": 350}, native.YARDSTICK_LEVELS, arms=["upscaled"])


def test_scores_resume_from_the_cache(tmp_path):
    rows = [{"file": f"images/x{i}.png", "photo": "p", "set": "s", "arm": "native", "short": 10, "kind": "clean",
             "level": 0, "value": "", "setting": "clean", "seed": ""} for i in range(5)]
    calls: List[str] = []

    def metric(path: str) -> float:
        calls.append(path)
        return float(len(calls))
    first = native_run.score_all(rows, tmp_path, {"m": metric}, flush_every=2, show_progress=False)
    assert len(calls) == 5 and [r["m"] for r in first] == [1.0, 2.0, 3.0, 4.0, 5.0]
    again = native_run.score_all(rows[:3], tmp_path, {"m": metric}, show_progress=False)
    assert len(calls) == 5 and [r["m"] for r in again] == [1.0, 2.0, 3.0]
    assert len(native_run.read_scores(tmp_path / "scores.csv")) == 5  # other rows kept in the cache
    native_run.score_all(rows, tmp_path, {"m": metric, "n": metric}, show_progress=False)
    assert len(calls) == 10  # only the new column was scored


def test_test_photos_are_held_out_and_balanced(shared_dir):
    from mspt_pyiqa.corpus.sources import assign_splits, list_sources

    faces = shared_dir / "data" / "faces"
    photos = native_run.test_photos(faces, ["scut", "celebahq"], 20, seed=0)
    assert len(photos) == 20 and sum(p.source_set == "scut" for p in photos) == 10
    ids = [s.source_id for s in list_sources(faces, ["scut", "celebahq"])]
    split = assign_splits(ids, {"val": 0.1, "test": 0.1}, 0)
    assert all(split[p.source_id] == "test" for p in photos)
    assert [p.source_id for p in photos] == [p.source_id for p in native_run.test_photos(faces, ["scut", "celebahq"], 20)]


def test_materialise_writes_real_files_once(shared_dir, tmp_path):
    faces = shared_dir / "data" / "faces"
    photos = native_run.test_photos(faces, ["scut"], 1)
    rows = native_run.plan(photos, native_run.photo_sizes(photos), {"jpeg": (40, 20), "gaussian_noise": (5, 10)},
                           arms=["native"])
    assert native_run.materialise(rows, faces, tmp_path, show_progress=False) == 5
    assert native_run.materialise(rows, faces, tmp_path, show_progress=False) == 0
    jpg = next(r for r in rows if r["kind"] == "jpeg")
    img = cv2.imread(str(tmp_path / str(jpg["file"])))
    assert img is not None and min(img.shape[:2]) == 350


@pytest.mark.slow
def test_quick_run_end_to_end(shared_dir, tmp_path, eval_script):
    mod = eval_script("native_scale")
    out, ref = tmp_path / "rep" / "ns", tmp_path / "ref.json"
    argv = ["--faces", str(shared_dir / "data" / "faces"), "--photos", "2", "--arms", "native", "--sizes", "224",
            "--no-classic", "--boot", "20", "--cache", str(tmp_path / "cache"), "--out", str(out),
            "--reference-out", str(ref)]
    assert mod.main(argv) == 0
    md = out.with_suffix(".md").read_text()
    assert "## Headline" in md and "order, Gaussian noise" in md and ("missed" in md or "met" in md)
    data = json.loads(out.with_suffix(".json").read_text())
    assert data["meta"]["photos"] == 2 and data["meta"]["images"] == 50
    r = json.loads(ref.read_text())
    assert r["release"] and r["photos"] == 2 and len(r["conditions"]) == 24 and "--photos 2" in r["made_by"]


def test_plan_orders_arms_and_limits_the_realworld_photos():
    srcs = [native_run.Source(f"scut/AF{i}.jpg", "scut", Path(f"/nowhere/scut/AF{i}.jpg")) for i in range(3)]
    rows = native_run.plan(srcs, {s.source_id: 350 for s in srcs}, {"jpeg": (40,)}, arm_photos={"realworld": 1})
    assert [r["arm"] for r in rows] == ["native"] * 6 + ["realworld"] * 2
    assert {r["photo"] for r in rows if r["arm"] == "realworld"} == {"scut/AF0.jpg"}


def test_sizes_with_a_detail_view(eval_script, tmp_path):
    """``--sizes S+D`` scores with a detail view of D px (column ``<release>@S+D``); ``S+0`` without."""
    import argparse

    mod = eval_script("native_scale")
    assert mod.parse_size("336") == (336, None) and mod.parse_size("320+320") == (320, 320) and mod.parse_size("448+0") == (448, 0)
    for bad in ("320+8", "abc", "8", "1+2+3"):
        with pytest.raises(argparse.ArgumentTypeError, match="S\\+D"):
            mod.parse_size(bad)
    metrics = mod.build_metrics([(64, 48), (64, 0)], None, classic=False)
    (with_detail, d_fn), (plain, p_fn) = [(k, v["fn"]) for k, v in metrics.items()]
    assert with_detail.endswith("@64+48") and plain.endswith("@64") and "detail_size=48" in metrics[with_detail]["source"]
    img = np.random.default_rng(0).integers(0, 256, (200, 160, 3), dtype=np.uint8)
    path = tmp_path / "x.png"
    cv2.imwrite(str(path), img)
    a, b = d_fn(str(path)), p_fn(str(path))
    assert np.isfinite(a) and np.isfinite(b) and a != b
