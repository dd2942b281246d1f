"""Training with a detail view: native-ladders --detail-size, the datasets' ``detail`` key, a recipe stage."""
from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import pandas as pd
import pytest
import torch

from mspt_pyiqa.bench import native
from mspt_pyiqa.corpus import native_ladders as NL
from mspt_pyiqa.corpus.sources import list_sources
from mspt_pyiqa.preprocess import detail_view
from mspt_pyiqa.train.ladder_data import LadderBatches, read_ladders

SIZE, DETAIL = 32, 24


def _rgb(path: Path) -> torch.Tensor:
    return torch.from_numpy(cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)).permute(2, 0, 1).float() / 255


@pytest.fixture(scope="module")
def built(tmp_path_factory, textured_faces):
    faces = textured_faces(tmp_path_factory.mktemp("faces"), seed=1)
    out = tmp_path_factory.mktemp("ladders")
    NL.build_native_ladders(faces, out, [SIZE], photos=2, kinds=("gaussian_noise",), realworld_photos=0,
                            detail_size=DETAIL, progress=False)
    return faces, out


def test_detail_images_are_the_native_centre_crop(built) -> None:
    """Each ladder image's detail view is detail_view of the ladder degraded at its native size."""
    faces, out = built
    frame = pd.read_csv(out / str(SIZE) / "ladders.csv")
    assert NL.DETAIL_COLUMN in frame.columns
    row = frame.iloc[0]
    src = next(s for s in list_sources(faces) if s.source_id == row["source_id"])
    photo = NL.center_square(cv2.cvtColor(cv2.imread(str(src.path)), cv2.COLOR_BGR2RGB))
    ladder = native.training_ladder(photo, "gaussian_noise", NL.TRAIN_LEVELS["gaussian_noise"],
                                    NL.ladder_seed(src.source_id, "gaussian_noise", 0), short_side=int(row["short_side"]),
                                    test_img_size=None)
    ref = detail_view(ladder, DETAIL)
    rows = frame[frame["ladder_id"] == row["ladder_id"]].sort_values("level")
    for lv, rel in zip(rows["level"], rows[NL.DETAIL_COLUMN]):
        assert rel.startswith(f"../detail{DETAIL}/")
        got = _rgb(out / str(SIZE) / rel)
        assert got.shape == (3, DETAIL, DETAIL)
        assert float((got - ref[lv].clamp(0, 1)).abs().max()) <= 0.5 / 255 + 1e-6
    anchors = pd.read_csv(out / str(SIZE) / "anchors.csv")
    assert all((out / str(SIZE) / p).is_file() for p in anchors[NL.DETAIL_COLUMN])


def test_ladder_batches_carry_detail_mirrored_with_img(built) -> None:
    _, out = built
    batches = LadderBatches({"meta_info_file": str(out / str(SIZE) / "ladders.csv"), "ladders_per_batch": 2,
                             "augment": {"resize": [SIZE, SIZE], "hflip": True}})
    b = batches.batch([0, 1, 3])
    assert b["detail"].shape == (b["img"].shape[0], 3, DETAIL, DETAIL)
    for k in range(b["img"].shape[0]):
        i = int(b["index"][k])
        img, det = _rgb(Path(batches.ladders.paths[i])), _rgb(Path(batches.ladders.detail_paths[i]))
        flipped = not torch.equal(b["img"][k], img)
        assert torch.equal(b["img"][k], img.flip(-1) if flipped else img)
        assert torch.equal(b["detail"][k], det.flip(-1) if flipped else det)  # the same flip as its image


def test_ladders_without_detail_have_none(built, tmp_path) -> None:
    _, out = built
    frame = pd.read_csv(out / str(SIZE) / "ladders.csv").drop(columns=[NL.DETAIL_COLUMN])
    frame["dist_img"] = [str(out / str(SIZE) / p) for p in frame["dist_img"]]
    frame.to_csv(tmp_path / "l.csv", index=False)
    lad = read_ladders(tmp_path / "l.csv")
    assert lad.detail_paths is None
    assert "detail" not in LadderBatches({"meta_info_file": str(tmp_path / "l.csv"), "ladders_per_batch": 1}).batch([0])


def test_face_dataset_detail_follows_flip(built) -> None:
    from mspt_pyiqa.data.datasets import FaceIQADataset

    _, out = built
    ds = FaceIQADataset({"name": "a", "phase": "train", "meta_info_file": str(out / str(SIZE) / "anchors.csv"),
                         "augment": {"hflip": True}})
    seen = set()
    for idx in range(len(ds)):
        for _ in range(6):
            item = ds[idx]
            img, det = _rgb(Path(ds.paths_mos[idx][0])), _rgb(Path(ds.detail_paths[idx]))
            flipped = not torch.equal(item["img"], img)
            seen.add(flipped)
            assert torch.equal(item["detail"], det.flip(-1) if flipped else det)
    assert seen == {True, False}


def test_recipe_stage_with_detail_view(built, tmp_path, monkeypatch) -> None:
    """One native-ladder stage of a two-view network (detail_size) from v11 trains on the stored
    detail views (pool and ladder steps) and saves."""
    import yaml

    from mspt_pyiqa.archs.mspt_arch import MSPTNet
    from mspt_pyiqa.options import resolve_option_file
    from mspt_pyiqa.train import run_recipe

    _, out = built
    recipe = {
        "name": "tiny_detail", "manual_seed": 1, "num_gpu": 0, "replay": {"enabled": False},
        "anti_forgetting": {"distill": 0.0, "distill_features": 0.0, "l2_pull": 0.0},
        "stages": [{"option": str(resolve_option_file(Path("options/stages/native_ladders_finetune.yml"))), "overrides": {
            "name": "tiny_detail_stage", "network": {"test_img_size": SIZE, "detail_size": DETAIL},
            "datasets": {"train": {"meta_info_file": str(out / str(SIZE) / "anchors.csv"), "augment": {"resize": [SIZE, SIZE]},
                                   "batch_size_per_gpu": 2}},
            "train": {"total_epoch": 1, "teacher": {"network": {"type": "MSPTNet", "test_img_size": SIZE}},
                      "ladder": {"meta_info_file": str(out / str(SIZE) / "ladders.csv"), "ladders_per_batch": 1,
                                 "augment": {"resize": [SIZE, SIZE]},
                                 "cross_loss": {"type": "LadderRankLoss", "loss_weight": 1.0, "margin_per_gap": 0.1, "min_gap": 0.5},
                                 "view_weight": 0.5}},
            "logger": {"save_latest_freq": 100}}}],
    }
    path = tmp_path / "recipe.yml"
    path.write_text(yaml.safe_dump(recipe))
    run = tmp_path / "run"
    calls = []
    original = MSPTNet.view_features

    def spy(self, x, detail=None):
        if self.training:
            calls.append((self.detail_size, None if detail is None else tuple(detail.shape[-2:])))
        return original(self, x, detail)

    monkeypatch.setattr(MSPTNet, "view_features", spy)
    run_recipe(path, run, forgetting=False)
    assert calls and all(c == (DETAIL, (DETAIL, DETAIL)) for c in calls)  # every training forward got the stored views
    result = json.loads((run / "1_tiny_detail_stage" / "result.json").read_text())
    assert math.isfinite(result["history"][-1]["l_ladder_cross"])
    assert math.isfinite(result["history"][-1]["l_ladder_views"])  # each view ranked on its own too
    assert result["git_commit"]  # the commit the stage trained from, for the release's catalog entry
    # A stage finished before stages recorded their commit keeps the run's first commit on a rerun (e.g. to publish).
    result.pop("git_commit")
    (run / "1_tiny_detail_stage" / "result.json").write_text(json.dumps(result))
    first = json.loads((run / "run.json").read_text())
    first["git_commit"] = "f" * 40
    for st in first["stages"]:
        st.pop("git_commit")
    (run / "run.json").write_text(json.dumps(first))
    calls.clear()
    run_recipe(path, run, forgetting=False)
    assert not calls and json.loads((run / "run.json").read_text())["stages"][0]["git_commit"] == "f" * 40
    net = MSPTNet(test_img_size=SIZE, detail_size=DETAIL,
                  pretrained_model_path=str(run / "1_tiny_detail_stage" / "models" / "net_best.pth")).eval()
    x = torch.rand(1, 3, 90, 70)
    with torch.no_grad():
        assert torch.isfinite(net(x)).all()


def test_detail_views_refuse_cropping_augments(built) -> None:
    from mspt_pyiqa.data.datasets import FaceIQADataset
    from mspt_pyiqa.data.meta import MetaInfoError

    _, out = built
    with pytest.raises(MetaInfoError, match="with detail views .* augment may only use resize"):
        FaceIQADataset({"name": "a", "phase": "train", "meta_info_file": str(out / str(SIZE) / "anchors.csv"),
                        "augment": {"random_crop": 16}})


def test_view_scores_average_to_the_score() -> None:
    from mspt_pyiqa.archs.mspt_arch import MSPTNet

    torch.manual_seed(0)
    net = MSPTNet(pretrained=False, test_img_size=SIZE, detail_size=DETAIL).eval()
    x = torch.rand(3, 3, 70, 50)
    score, views, feats = net(x, return_views=True, return_features=True)
    assert views.shape == (3, 2) and torch.allclose(views.mean(1, keepdim=True), score, atol=1e-6)
    assert torch.allclose(score, net(x), atol=1e-6) and torch.allclose(feats, net.forward_features(x), atol=1e-6)
    with pytest.raises(ValueError, match="detail views: 2 for a batch of 3 images"):
        net(x, return_views=True, detail=torch.rand(2, 3, DETAIL, DETAIL))
    with pytest.raises(ValueError, match="return_views needs a network with a detail view"):
        MSPTNet(pretrained=False, test_img_size=SIZE, detail_size=None)(x, return_views=True)


def test_max_short_side_keeps_the_smaller_photos_ladders(built, tmp_path) -> None:
    from mspt_pyiqa.data.meta import MetaInfoError

    _, out = built
    csv_path = out / str(SIZE) / "ladders.csv"
    frame = pd.read_csv(csv_path)
    smallest = int(frame["short_side"].min())
    lad = read_ladders(csv_path, max_short_side=smallest)
    kept = {int(s) for s in frame[frame["short_side"] <= smallest]["short_side"]}
    assert kept == {smallest} and len(lad.paths) == int((frame["short_side"] <= smallest).sum()) < len(frame)
    assert len(LadderBatches({"meta_info_file": str(csv_path), "max_short_side": smallest}).ladders.ladders) == len(lad.ladders)
    frame.drop(columns=["short_side"]).assign(dist_img=[str(out / str(SIZE) / p) for p in frame["dist_img"]]).to_csv(
        tmp_path / "l.csv", index=False)
    with pytest.raises(MetaInfoError, match="max_short_side needs a 'short_side' column"):
        read_ladders(tmp_path / "l.csv", max_short_side=500)


def test_max_short_side_per_kind_limits_only_the_named_kinds(built, tmp_path) -> None:
    from mspt_pyiqa.data.meta import MetaInfoError
    from mspt_pyiqa.train.schema import LADDER, check_mapping

    _, out = built
    csv_path = out / str(SIZE) / "ladders.csv"
    frame = pd.read_csv(csv_path)
    kinds = sorted(frame["degradation"].unique())
    limited, free = kinds[0], kinds[1:]
    smallest = int(frame["short_side"].min())
    lad = read_ladders(csv_path, max_short_side={limited: smallest})
    keep = (frame["degradation"] != limited) | (frame["short_side"] <= smallest)
    assert len(lad.paths) == int(keep.sum())
    assert set(free) <= set(lad.kinds)  # every ladder of the other kinds is kept
    with pytest.raises(MetaInfoError, match=r"names kinds the ladders do not have: \['no_such_kind'\]"):
        read_ladders(csv_path, max_short_side={"no_such_kind": 500})
    problems: list = []
    check_mapping({"meta_info_file": "l.csv", "max_short_side": {limited: 640}}, LADDER, "train.ladder", problems)
    check_mapping({"meta_info_file": "l.csv", "max_short_side": 640}, LADDER, "train.ladder", problems)
    assert problems == []
    check_mapping({"meta_info_file": "l.csv", "max_short_side": {limited: "big"}}, LADDER, "train.ladder", problems)
    assert problems and f"train.ladder.max_short_side.{limited}" in problems[0]
