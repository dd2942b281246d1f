"""The native-scale yardstick's images as a leaderboard dataset: the CSV, its reading, a tiny leaderboard run."""
from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Dict, List, Tuple

import cv2
import numpy as np
import pytest

from mspt_pyiqa.bench import native, native_run
from mspt_pyiqa.bench.datasets import DatasetSpec, load_dataset


def _faces(tmp: Path) -> Tuple[Path, List[native_run.Source]]:
    """Two small photos written here (no ../shared needed): one per set, 120 and 96 px short sides."""
    faces = tmp / "faces"
    rng = np.random.default_rng(0)
    out = []
    for sid, (h, w) in (("scut/AF1.jpg", (150, 120)), ("celebahq/00001.jpg", (96, 96))):
        img = cv2.resize(rng.uniform(0, 255, (10, 8, 3)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
        img = np.clip(img + rng.normal(0, 8, (h, w, 3)), 0, 255).astype(np.uint8)
        (faces / sid).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(faces / sid), img, [cv2.IMWRITE_JPEG_QUALITY, 95])
        out.append(native_run.Source(sid, sid.split("/")[0], faces / sid))
    return faces, out


@pytest.fixture()
def yardstick(tmp_path: Path) -> Tuple[Path, List[Dict[str, object]]]:
    """A materialised two-photo, two-arm yardstick cache and its plan rows."""
    faces, photos = _faces(tmp_path)
    rows = native_run.plan(photos, native_run.photo_sizes(photos), native.YARDSTICK_LEVELS, seed=0)
    cache = tmp_path / "cache"
    native_run.materialise(rows, faces, cache, show_progress=False)
    return cache, rows


def test_csv_has_the_corpus_columns_and_the_level_label(yardstick):
    cache, rows = yardstick
    path = native_run.write_leaderboard_csv(rows, cache)
    assert path == cache / "leaderboard.csv"
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        table = list(reader)
    assert tuple(reader.fieldnames or ()) == native_run.LEADERBOARD_COLUMNS
    assert len(table) == len(rows) == 2 * 2 * 25
    for r in table:
        assert float(r["mos"]) == pytest.approx(1 - int(r["level"]) / 5)  # the yardstick's level, not an opinion
        assert r["split"] in ("native", "realworld") and r["dist_img"].startswith(f"images/{r['split']}/")
        assert r["ref_img"].startswith(f"images/{r['split']}/") and r["ref_img"].endswith("/clean_0.png")
        assert Path(r["ref_img"]).parent == Path(r["dist_img"]).parent  # the same photo's clean file
        assert (r["degradation"] == "pristine") == (r["level"] == "0") == (r["dist_img"] == r["ref_img"])
    assert {r["degradation"] for r in table} == {"pristine", *native.YARDSTICK_LEVELS}
    assert {r["source_id"] for r in table} == {"scut/AF1.jpg", "celebahq/00001.jpg"}


def test_leaderboard_reader_selects_an_arm_with_existing_references(yardstick):
    cache, rows = yardstick
    path = native_run.write_leaderboard_csv(rows, cache)
    ds = load_dataset(DatasetSpec.parse(f"path={path},split=native"))
    assert ds.layout == "corpus" and ds.name == "leaderboard-native" and len(ds.items) == 50
    assert ds.has_ref and ds.has_order and not ds.dropped
    assert all(it.path.is_file() and it.ref is not None and it.ref.is_file() for it in ds.items)
    assert all("/native/" in it.path.as_posix() and "/native/" in it.ref.as_posix() for it in ds.items)
    short = {it.info["source_id"]: min(cv2.imread(str(it.ref)).shape[:2]) for it in ds.items}
    assert short == {"scut/AF1.jpg": 120, "celebahq/00001.jpg": 96}  # native arm: each photo as stored
    assert len(load_dataset(DatasetSpec.parse(f"path={path},split=realworld")).items) == 50


def test_csv_elsewhere_points_back_into_the_cache(yardstick, tmp_path):
    cache, rows = yardstick
    path = native_run.write_leaderboard_csv(rows, cache, tmp_path / "elsewhere" / "ns.csv")
    ds = load_dataset(DatasetSpec(path=path, split="native"))
    assert all(it.path.is_file() and it.ref.is_file() for it in ds.items)


def test_missing_file_or_clean_image_is_refused(yardstick):
    cache, rows = yardstick
    (cache / str(rows[3]["file"])).unlink()
    with pytest.raises(FileNotFoundError, match=str(rows[3]["file"])):
        native_run.write_leaderboard_csv(rows, cache)
    no_clean = [r for r in rows if r["kind"] != "clean" and r is not rows[3]]
    with pytest.raises(ValueError, match="no clean image"):
        native_run.write_leaderboard_csv(no_clean, cache)


def test_level_label():
    assert [native_run.level_label(i, 4) for i in range(5)] == [1.0, 0.8, 0.6, 0.4, 0.2]
    assert native_run.level_label(1, 1) == 0.5


def test_csv_only_flag_writes_files_and_csv_without_scoring(shared_dir, tmp_path, eval_script, capsys):
    mod = eval_script("native_scale")
    argv = ["--faces", str(shared_dir / "data" / "faces"), "--photos", "1", "--arms", "native",
            "--cache", str(tmp_path / "cache"), "--out", str(tmp_path / "rep" / "ns"), "--leaderboard-csv-only"]
    assert mod.main(argv) == 0
    path = Path(capsys.readouterr().out.strip())  # stdout is the CSV's path and nothing else
    assert path.name == "leaderboard.csv" and path.parent.parent == tmp_path / "cache"
    assert len(load_dataset(DatasetSpec(path=path, split="native")).items) == 25
    assert not (path.parent / "scores.csv").exists() and not (tmp_path / "rep").exists()


def test_tiny_leaderboard_run_on_the_yardstick(yardstick, tmp_path):
    """psnr (FR, against the clean file) and niqe (NR) on two photos' native arm, end to end."""
    from mspt_pyiqa.bench import classic_params
    from mspt_pyiqa.cli.main import main

    try:
        classic_params.niqe_params(classic_params.cache_dir())
    except classic_params.ParamsError as err:
        pytest.skip(f"NIQE parameters not available here: {err}")
    cache, rows = yardstick
    path = native_run.write_leaderboard_csv(rows, cache)
    out = tmp_path / "board"
    rc = main(["bench", "--dataset", f"path={path},split=native,name=ns", "--metrics", "psnr,niqe", "--out", str(out),
               "--n-boot", "20", "--timing-runs", "1", "--timing-size", "64", "--offline", "yes", "--no-plots"])
    assert rc == 0
    res = {r["metric"]: r for r in json.loads((out / "results.json").read_text())["results"]}
    assert res["psnr"]["status"] == "ok" and res["psnr"]["mode"] == "FR"
    assert res["niqe"]["status"] == "ok" and res["niqe"]["mode"] == "NR"
    for r in res.values():
        assert r["n"] == 50 and r["n_invalid"] == 0 and r["n_errors"] == 0  # the clean rows (dist == ref) score too
    psnr = {(o["degradation"], o["level"]): o for o in res["psnr"]["order"]}
    assert psnr[("jpeg", "1")]["pairs"] == 2  # clean (pristine, level 0) vs level 1, one pair per photo
    assert psnr[("gaussian_noise", "all")]["correct_frac"] == 1.0
    assert res["psnr"]["srcc"] > 0.5
    assert "| psnr" in (out / "leaderboard.md").read_text()
