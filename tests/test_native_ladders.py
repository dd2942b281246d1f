"""Native-scale training ladders (mspt-face corpus native-ladders) and @release: start weights."""
from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import torch

from mspt_pyiqa.bench import native
from mspt_pyiqa.bench.native_run import SPLIT_FRACTIONS, SPLIT_SEED
from mspt_pyiqa.corpus import native_ladders as NL
from mspt_pyiqa.corpus.sources import assign_splits, list_sources
from mspt_pyiqa.train.ladder_data import LadderBatches, read_ladders

FACES = Path(__file__).resolve().parents[2] / "shared" / "data" / "faces"
SIZES = (32, 48)


@pytest.fixture(scope="module")
def built(tmp_path_factory, textured_faces):
    faces = textured_faces(tmp_path_factory.mktemp("faces"))
    out = tmp_path_factory.mktemp("ladders")
    res = NL.build_native_ladders(faces, out, SIZES, photos=3, kinds=("gaussian_noise", "jpeg"), progress=False)
    return faces, out, res


def test_only_train_photos(built) -> None:
    faces, out, res = built
    frame = pd.read_csv(out / "32" / "ladders.csv")
    splits = assign_splits([s.source_id for s in list_sources(faces)], SPLIT_FRACTIONS, SPLIT_SEED)
    assert res["photos"] == 3 and frame["source_id"].nunique() == 3
    assert {splits[s] for s in frame["source_id"]} == {"train"}


@pytest.mark.skipif(not (FACES / "manifest.csv").is_file(), reason="shared face photos not present (../shared/data/faces)")
def test_no_yardstick_photo_in_train_split() -> None:
    from mspt_pyiqa.bench.native_run import DEFAULT_SETS, test_photos

    train = {s.source_id for s in NL.split_photos(FACES, DEFAULT_SETS, "train")}
    held = {s.source_id for s in test_photos(FACES, DEFAULT_SETS, 10_000)}
    assert train and held and not train & held


def test_images_square_and_csv_readable_by_trainer(built) -> None:
    _, out, res = built
    assert res["ladders"] == 6
    for size in SIZES:
        lad = read_ladders(out / str(size) / "ladders.csv")
        assert sorted(lad.kinds) == ["gaussian_noise", "jpeg"] and len(lad.ladders) == 6
        for rows in lad.ladders:
            assert lad.levels[rows[0]] == 0 and np.all(np.diff(lad.labels[rows]) < 0)  # clean first, labels fall
            assert lad.severity[rows[0]] == 0 and np.all(np.diff(lad.severity[rows]) > 0)  # one scale, grows along the ladder
        for p in lad.paths[:8]:
            img = cv2.imread(p)
            assert img is not None and img.shape == (size, size, 3), p
        anchors = pd.read_csv(out / str(size) / "anchors.csv")
        assert len(anchors) == 6 and anchors["mos"].isna().all()
        assert all((out / str(size) / p).is_file() for p in anchors["dist_img"])


def test_matches_training_ladder(built) -> None:
    """A written ladder is native.training_ladder at that size (up to 8-bit rounding)."""
    faces, out, _ = built
    frame = pd.read_csv(out / "48" / "ladders.csv")
    row = frame[(frame["degradation"] == "gaussian_noise")].iloc[0]
    src = next(s for s in list_sources(faces) if s.source_id == row["source_id"])
    photo = NL.center_square(cv2.cvtColor(cv2.imread(str(src.path)), cv2.COLOR_BGR2RGB))
    ref = native.training_ladder(photo, "gaussian_noise", NL.TRAIN_LEVELS["gaussian_noise"],
                                 NL.ladder_seed(src.source_id, "gaussian_noise", 0), short_side=int(row["short_side"]), test_img_size=48)
    rows = frame[frame["ladder_id"] == row["ladder_id"]].sort_values("level")
    assert len(rows) == ref.shape[0] == 1 + len(NL.TRAIN_LEVELS["gaussian_noise"])
    for lv, rel in zip(rows["level"], rows["dist_img"]):
        got = torch.from_numpy(cv2.cvtColor(cv2.imread(str(out / "48" / rel)), cv2.COLOR_BGR2RGB)).permute(2, 0, 1).float() / 255
        assert float((got - ref[lv].clamp(0, 1)).abs().max()) <= 0.5 / 255 + 1e-6
    assert 256 <= int(row["short_side"]) <= 1024


def test_ladder_batches_do_not_resize(built) -> None:
    _, out, _ = built
    batches = LadderBatches({"meta_info_file": str(out / "32" / "ladders.csv"), "ladders_per_batch": 2,
                             "augment": {"resize": [32, 32], "hflip": False}})
    b = batches.batch([0, 1, 0])
    x = b["img"][0]
    raw = torch.from_numpy(cv2.cvtColor(cv2.imread(batches.ladders.paths[int(b["index"][0])]), cv2.COLOR_BGR2RGB)).permute(2, 0, 1).float() / 255
    assert torch.equal(x, raw)


def test_rerun_writes_nothing_and_is_deterministic(built, tmp_path) -> None:
    faces, out, _ = built
    before = (out / "32" / "ladders.csv").read_text()
    res = NL.build_native_ladders(faces, out, SIZES, photos=3, kinds=("gaussian_noise", "jpeg"), progress=False)
    assert res["images_written"] == 0 and (out / "32" / "ladders.csv").read_text() == before


def test_bad_input_messages(tmp_path, textured_faces) -> None:
    faces = textured_faces(tmp_path / "faces", n=4)
    with pytest.raises(ValueError, match="unknown ladder kind"):
        NL.build_native_ladders(faces, tmp_path / "o", [32], kinds=("sharpen",), progress=False)
    with pytest.raises(ValueError, match="--size must be >= 16"):
        NL.build_native_ladders(faces, tmp_path / "o", [8], progress=False)
    from mspt_pyiqa.corpus.sources import SourceImageError

    train = NL.split_photos(faces, ["scut"], "train")
    assert train, "the tiny faces folder must have a scut train photo"
    train[0].path.write_bytes(b"not an image")
    with pytest.raises(SourceImageError, match=train[0].path.name):
        NL.build_native_ladders(faces, tmp_path / "o", [32], sets=("scut",), kinds=("jpeg",), progress=False)


def test_release_ref_resolves_to_catalog_file() -> None:
    from mspt_pyiqa.train.release_refs import ReleaseRefError, resolve_release_refs
    from mspt_pyiqa.weights import get_entry, sha256_file

    entry = get_entry("mspt_face_v11")
    opt = {"path": {"pretrain_network": "@release:mspt_face_v11"}, "train": {"teacher": {"path": "@release:mspt_face_v11"}}}
    assert resolve_release_refs(opt) == ["path.pretrain_network", "train.teacher.path"]
    assert sha256_file(Path(opt["path"]["pretrain_network"])) == entry.sha256
    with pytest.raises(ReleaseRefError, match=r"train.teacher.path: @release:nope: .*unknown MSPT weights 'nope'"):
        resolve_release_refs({"train": {"teacher": {"path": "@release:nope"}}})


def test_v12_recipe_dry_run_is_clean() -> None:
    from mspt_pyiqa.train.publish import release_block
    from mspt_pyiqa.train.recipe import check_recipe

    recipe, stages, problems = check_recipe(Path("mspt_face_v12"))
    assert problems == []
    assert [s["network"]["test_img_size"] for s in stages] == [224, 336, 448, 320, 320]  # MSPT's rising sizes, then two views
    assert [s["network"].get("detail_size") for s in stages] == [None, None, None, 320, 320]
    assert stages[0]["path"]["pretrain_network"].endswith(".pth")
    assert all(s["train"]["ladder"]["augment"]["resize"] == [s["network"]["test_img_size"]] * 2 for s in stages)
    block = release_block(recipe)  # the release metadata agrees with the last stage
    assert (block["input_size"], block["detail_size"], block["enlarge"]) == (320, 320, False)
    assert stages[-1]["train"]["ladder"]["teacher_loss"]["kinds"]  # the teacher's differences on chosen kinds only
    assert 0.0 < float(recipe["weight_interpolation"]["weight"]) < 1.0


def test_ladder_recipe_without_val_set_finishes_with_cross_loss(built, tmp_path, caplog) -> None:
    """One native-ladder stage (no validation set) from the v11 release with cross_loss: the run
    finishes, with a warning instead of a forgetting table, and the cross term was trained."""
    import json
    import logging

    import yaml

    from mspt_pyiqa.options import resolve_option_file
    from mspt_pyiqa.train import run_recipe

    _, out, _ = built
    size = SIZES[-1]
    recipe = {
        "name": "tiny_native", "manual_seed": 1, "num_gpu": 0, "replay": {"enabled": False},
        "anti_forgetting": {"distill": 0.0, "distill_features": 0.0, "l2_pull": 0.0},
        "stages": [{"option": str(resolve_option_file(Path("options/stages/native_ladders_finetune.yml"))), "overrides": {
            "name": "tiny_native_stage", "network": {"test_img_size": size},
            "datasets": {"train": {"meta_info_file": str(out / str(size) / "anchors.csv"), "augment": {"resize": [size, size]},
                                   "batch_size_per_gpu": 3}},
            "train": {"total_epoch": 1, "teacher": {"network": {"type": "MSPTNet", "test_img_size": size}},
                      "ladder": {"meta_info_file": str(out / str(size) / "ladders.csv"), "ladders_per_batch": 2,
                                 "augment": {"resize": [size, size]},
                                 "cross_loss": {"type": "LadderRankLoss", "loss_weight": 1.0, "margin_per_gap": 0.1, "min_gap": 0.5}}},
            "logger": {"save_latest_freq": 100}}}],
    }
    path = tmp_path / "recipe.yml"
    path.write_text(yaml.safe_dump(recipe))
    run = tmp_path / "run"
    with caplog.at_level(logging.WARNING):
        summary = run_recipe(path, run, forgetting=True)
    assert len(summary["stages"]) == 1 and not (run / "forgetting.csv").exists()
    assert any("no forgetting table" in r.getMessage() for r in caplog.records)
    result = json.loads((run / "1_tiny_native_stage" / "result.json").read_text())
    assert math.isfinite(result["history"][-1]["l_ladder_cross"]) and result["history"][-1]["l_ladder_cross"] > 0


def test_photometric_anchors_join_the_anchor_set(tmp_path, textured_faces) -> None:
    faces = textured_faces(tmp_path / "faces")
    out = tmp_path / "o"
    res = NL.build_native_ladders(faces, out, [32], photos=2, kinds=("jpeg",), progress=False, detail_size=24,
                                  photometric_anchors=3)
    anchors = pd.read_csv(out / "32" / "anchors.csv")
    photo = anchors[anchors["kind"].isin(NL.PHOTOMETRIC_KINDS)]
    assert res["anchors"] == 2 + 6 and len(photo) == 6  # 2 clean photos + 3 photometric versions of each
    assert set(photo["source_id"]) == set(anchors[anchors["kind"] == "clean"]["source_id"])
    for _, row in photo.iterrows():
        img = cv2.imread(str(out / "32" / row["dist_img"]))
        det = cv2.imread(str(out / "32" / row["detail_img"]))
        assert img.shape == (32, 32, 3) and det.shape == (24, 24, 3)
        clean = cv2.imread(str(out / "32" / anchors[(anchors["kind"] == "clean") & (anchors["source_id"] == row["source_id"])]
                                 ["dist_img"].iloc[0]))
        assert np.abs(img.astype(int) - clean.astype(int)).mean() > 1.0  # damaged, not a copy
    kinds = [NL.photometric_draw("scut/a.jpg", i, 0) for i in range(40)]
    assert {k for k, _, _ in kinds} == set(NL.PHOTOMETRIC_KINDS)  # every kind is drawn
    assert all(NL.PHOTOMETRIC_SEVERITY[0] <= s <= NL.PHOTOMETRIC_SEVERITY[1] for _, s, _ in kinds)
    again = NL.build_native_ladders(faces, out, [32], photos=2, kinds=("jpeg",), progress=False, detail_size=24,
                                    photometric_anchors=3)
    assert again["images_written"] == 0 and pd.read_csv(out / "32" / "anchors.csv").equals(anchors)
    with pytest.raises(ValueError, match="--photometric-anchors must be >= 0"):
        NL.build_native_ladders(faces, out, [32], photometric_anchors=-1, progress=False)


def test_cli_kind_option_limits_the_ladders(tmp_path, textured_faces) -> None:
    from mspt_pyiqa.cli.main import main

    faces = textured_faces(tmp_path / "faces")
    out = tmp_path / "o"
    rc = main(["corpus", "native-ladders", "--faces", str(faces), "--out", str(out), "--size", "32", "--photos", "2",
               "--kind", "jpeg", "--kind", "resample", "--no-progress"])
    assert rc == 0
    assert set(pd.read_csv(out / "32" / "ladders.csv")["degradation"]) == {"jpeg", "resample"}
    assert main(["corpus", "native-ladders", "--faces", str(faces), "--out", str(out), "--size", "32", "--kind", "sharpen",
                 "--no-progress"]) == 2  # unknown kind: a configuration error, nothing written
