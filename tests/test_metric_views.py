"""mspt-face corpus metric-views: any meta-info CSV as a release's input, and several ladder CSVs as one set."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from mspt_pyiqa.cli.main import main
from mspt_pyiqa.corpus.builder import build_stage
from mspt_pyiqa.corpus.metric_views import build_metric_views
from mspt_pyiqa.data.meta import DETAIL_COLUMN, MetaInfoError
from mspt_pyiqa.preprocess import detail_view, resize_to_test_size
from mspt_pyiqa.train.ladder_data import LadderBatches, read_ladders

RES, SIZE = 40, 56  # corpus images of 40 px, a release of 56 px: every image is enlarged


def _config() -> dict:
    return {"name": "tiny", "stage": 3, "resolution": RES, "samples_per_source": 2,
            "split": {"val": 0.25, "test": 0.25}, "pristine_prob": 0.0,
            "severity": {"dist": "uniform", "low": 0.05, "high": 1.0},
            "kinds": [{"kind": "jpeg"}, {"kind": "saturation"}], "levels": [0.2, 0.6, 1.0],
            "label": {"scheme": "severity", "pristine": 1.0, "source_quality": {}}}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, textured_faces):
    faces = textured_faces(tmp_path_factory.mktemp("faces"), n=8)
    out = tmp_path_factory.mktemp("corpus")
    levels = build_stage(faces, out, _config(), seed=0, levels_mode=True, levels_split="train", progress=False)
    return out, Path(levels.csv_path)


def _img(path: Path) -> torch.Tensor:
    return torch.from_numpy(np.array(Image.open(path).convert("RGB"))).permute(2, 0, 1).float().div(255.0)


def test_views_are_the_metric_preprocessing(corpus, tmp_path: Path) -> None:
    _, levels_csv = corpus
    res = build_metric_views(levels_csv, tmp_path, SIZE, detail_size=SIZE, progress=False)
    frame = pd.read_csv(res["csv"])
    src = pd.read_csv(levels_csv)
    assert len(frame) == len(src) and "ref_img" not in frame.columns and set(frame["short_side"]) == {RES}
    row, orig = frame.iloc[1], src.iloc[1]
    view = _img(Path(res["csv"]).parent / row["dist_img"])
    x = _img(levels_csv.parent / orig["dist_img"])
    side = min(x.shape[-2:])
    x = x[..., (x.shape[-2] - side) // 2:(x.shape[-2] - side) // 2 + side, (x.shape[-1] - side) // 2:(x.shape[-1] - side) // 2 + side]
    want = resize_to_test_size(x.unsqueeze(0), SIZE)[0]
    assert view.shape == (3, SIZE, SIZE)
    assert float((view - want).abs().max()) <= 1 / 255 + 1e-6  # 8-bit PNG rounding only
    # A face smaller than the detail view: the detail view is the same enlarged picture, one file.
    assert (Path(res["csv"]).parent / row[DETAIL_COLUMN]).resolve() == (Path(res["csv"]).parent / row["dist_img"]).resolve()
    assert torch.equal(detail_view(x.unsqueeze(0), SIZE), want.unsqueeze(0))


def test_detail_view_of_a_larger_image_is_a_native_crop(corpus, tmp_path: Path) -> None:
    _, levels_csv = corpus
    res = build_metric_views(levels_csv, tmp_path, 24, detail_size=16, progress=False)
    row = pd.read_csv(res["csv"]).iloc[0]
    root = Path(res["csv"]).parent
    assert _img(root / row["dist_img"]).shape == (3, 24, 24) and _img(root / row[DETAIL_COLUMN]).shape == (3, 16, 16)
    assert "detail16" in row[DETAIL_COLUMN]


def test_ladders_layout_reads_as_ladders(corpus, tmp_path: Path) -> None:
    _, levels_csv = corpus
    res = build_metric_views(levels_csv, tmp_path, SIZE, detail_size=SIZE, ladders=True, progress=False)
    frame = pd.read_csv(res["csv"])
    assert "severity" not in frame.columns and "corpus_severity" in frame.columns
    assert all(s.endswith(f"@{RES}") for s in frame["source_id"])
    per = frame.groupby("ladder_id")["level"].apply(list)
    assert all(levels == sorted(levels) and levels.count(0) == 1 and len(levels) == 4 for levels in per)
    ladders = read_ladders(res["csv"])
    assert set(ladders.kinds) == {"jpeg", "saturation"} and len(ladders.ladders) == len(per)
    assert ladders.severity is None and ladders.detail_paths is not None
    # Rerun resumes: nothing is written twice.
    assert build_metric_views(levels_csv, tmp_path, SIZE, detail_size=SIZE, ladders=True, progress=False)["files_written"] == 0


def test_several_ladder_csvs_are_one_set(corpus, tmp_path: Path) -> None:
    _, levels_csv = corpus
    a = build_metric_views(levels_csv, tmp_path / "a", SIZE, ladders=True, progress=False)["csv"]
    native = pd.read_csv(a)
    native["severity"] = native["level"].astype(float)  # a second file on the cross-ladder scale
    native.to_csv(tmp_path / "a" / str(SIZE) / "native.csv", index=False)
    both = read_ladders([tmp_path / "a" / str(SIZE) / "native.csv", a])
    one = read_ladders(a)
    assert len(both.ladders) == 2 * len(one.ladders) and len(both.photos) == 2 * len(one.photos)
    assert np.isfinite(both.severity).sum() == len(native) and np.isnan(both.severity).sum() == len(native)
    batches = LadderBatches({"meta_info_file": [str(tmp_path / "a" / str(SIZE) / "native.csv"), a], "ladders_per_batch": 4,
                             "cross_loss": {"type": "LadderRankLoss"}})
    sev = batches.batch([0, 1])["ladder_severity"]
    assert sev.shape[0] == batches.batch([0, 1])["img"].shape[0]
    with pytest.raises(MetaInfoError, match="cross_loss needs"):
        LadderBatches({"meta_info_file": a, "cross_loss": {"type": "LadderRankLoss"}})


def test_mixed_layouts_and_bad_severity_are_named(corpus, tmp_path: Path) -> None:
    _, levels_csv = corpus
    a = build_metric_views(levels_csv, tmp_path, SIZE, ladders=True, progress=False)["csv"]
    levels = build_metric_views(levels_csv, tmp_path / "lv", SIZE, progress=False)["csv"]
    with pytest.raises(MetaInfoError, match="mix the explicit layout"):
        read_ladders([a, levels])
    bad = pd.read_csv(a)
    bad["severity"] = -1.0
    bad.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(MetaInfoError, match="bad.csv.*severity"):
        read_ladders(tmp_path / "bad.csv", dataroot_target=Path(a).parent)


def test_missing_image_is_named(tmp_path: Path) -> None:
    pd.DataFrame({"dist_img": ["nope.png"], "mos": [0.5]}).to_csv(tmp_path / "m.csv", index=False)
    with pytest.raises(Exception, match="nope.png"):
        build_metric_views(tmp_path / "m.csv", tmp_path / "out", SIZE, progress=False)


def test_cli(corpus, tmp_path: Path, capsys) -> None:
    _, levels_csv = corpus
    rc = main(["corpus", "metric-views", "--meta", str(levels_csv), "--out", str(tmp_path / "o"), "--size", str(SIZE),
               "--ladders", "--no-progress"])
    assert rc == 0 and "rows" in capsys.readouterr().out
    assert main(["corpus", "metric-views", "--meta", str(tmp_path / "none.csv"), "--out", str(tmp_path / "o"),
                 "--size", str(SIZE)]) == 2


def test_cross_loss_leaves_out_rows_without_severity() -> None:
    """Blank severity (NaN) rows take part in no cross-ladder pair: the loss equals the loss of the other rows."""
    from mspt_pyiqa.train.losses import ladder_rank_loss

    torch.manual_seed(0)
    pred = torch.rand(8, requires_grad=True)
    sev = torch.tensor([0.0, 1.0, 2.0, float("nan"), 3.0, float("nan"), 0.5, float("nan")])
    keep = ~torch.isnan(sev)
    full = ladder_rank_loss(pred, -sev, None, 0.0, min_gap=0.5, margin_per_gap=0.1)
    part = ladder_rank_loss(pred[keep], -sev[keep], None, 0.0, min_gap=0.5, margin_per_gap=0.1)
    assert torch.isfinite(full) and torch.allclose(full, part)
    full.backward()
    assert torch.isfinite(pred.grad).all() and bool((pred.grad[~keep] == 0).all())
