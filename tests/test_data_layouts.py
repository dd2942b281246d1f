"""Face IQA data layouts: pyiqa meta-info CSV, VQualA 2025, folder + CSV; converters and datasets."""
from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import torch

import mspt_pyiqa  # noqa: F401  (registers the datasets in pyiqa)
from mspt_pyiqa.data.convert import main as convert_main
from mspt_pyiqa.data.converters import convert_folder_csv, convert_pyiqa_meta, convert_vquala
from mspt_pyiqa.data.meta import MetaInfoError, normalize_mos


def _img(path: Path, value: int, size: int = 24) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    img = np.full((size, size + 4, 3), value, np.uint8)
    img[::3] = 255 - value  # a little structure
    cv2.imwrite(str(path), img)


def _build(dataset_opt: dict):
    from pyiqa.data import build_dataset

    return build_dataset(dict({"name": "t", "phase": "train"}, **dataset_opt))


@pytest.fixture
def cgfiqa_like(tmp_path) -> Path:
    """pyiqa-style meta CSV: path, MOS (1-5 scale), official_split and a numbered random split."""
    root = tmp_path / "CGFIQA"
    rows = []
    for i in range(9):
        _img(root / "imgs" / f"f{i}.jpg", 20 * i)
        split = ["train", "val", "test"][i % 3]
        rows.append({"img_name": f"imgs/f{i}.jpg", "mos": 1 + i * 0.5, "official_split": split, "ratio802_seed123_split_01": "train" if i < 7 else "val"})
    meta = tmp_path / "meta_info_CGFIQADataset.csv"
    pd.DataFrame(rows).to_csv(meta, index=False)
    return meta


def test_normalize_mos_range_and_direction():
    np.testing.assert_allclose(normalize_mos([1, 3, 5], (1, 5)), [0, 0.5, 1])
    np.testing.assert_allclose(normalize_mos([1, 3, 5], (1, 5), lower_better=True), [1, 0.5, 0])
    assert np.isnan(normalize_mos([np.nan], (0, 1))[0])
    with pytest.raises(MetaInfoError):
        normalize_mos([1], (5, 1))


def test_pyiqa_meta_csv_in_place_and_converted(cgfiqa_like, tmp_path):
    root = tmp_path / "CGFIQA"
    ds = _build({"type": "FaceIQADataset", "meta_info_file": str(cgfiqa_like), "dataroot_target": str(root),
                 "split_index": "official_split", "mos_normalize": True, "mos_range": [1, 5], "lower_better": False})
    assert len(ds) == 3
    item = ds[0]
    assert item["img"].shape == (3, 24, 28) and 0 <= float(item["img"].min()) <= float(item["img"].max()) <= 1
    assert item["mos_label"].shape == (1,) and float(item["mos_label"]) == pytest.approx(0.0)
    assert not bool(item["replay"]) and bool(item["has_mos"])
    # pyiqa's numbered split (GFIQA-20k style): split_index 1 -> ratio802_seed123_split_01
    val = _build({"type": "FaceIQADataset", "meta_info_file": str(cgfiqa_like), "dataroot_target": str(root), "split_index": 1, "phase": "val"})
    assert len(val) == 2

    out = tmp_path / "common" / "cgfiqa.csv"
    frame = convert_pyiqa_meta(cgfiqa_like, root, out, split_column="official_split", mos_range=(1, 5))
    assert list(frame.columns[:2]) == ["dist_img", "mos"] and set(frame["split"]) == {"train", "val", "test"}
    assert frame["mos"].between(0, 1).all()
    # The common CSV loads with pyiqa's own GeneralNRDataset (paths relative to the CSV folder).
    gen = _build({"type": "GeneralNRDataset", "meta_info_file": str(out), "dataroot_target": str(out.parent), "split_index": "split", "phase": "val"})
    assert len(gen) == 3 and gen[0]["img"].shape[0] == 3
    mine = _build({"type": "FaceIQADataset", "meta_info_file": str(out), "phase": "val"})
    assert [Path(p).name for p, _ in mine.paths_mos] == [Path(p).name for p, _ in gen.paths_mos]


@pytest.fixture
def vquala_root(tmp_path) -> Path:
    root = tmp_path / "VQualA"
    lines = []
    for i in range(10):
        name = f"img{i:02d}" if i % 2 else f"img{i:02d}.png"  # no extension -> .png appended
        _img(root / "train" / f"img{i:02d}.png", 10 * i)
        lines.append(f"{name},{0.05 + 0.09 * i:.3f}")
    (root / "train.csv").write_text("\n".join(lines) + "\n")
    _img(root / "val" / "v0.png", 99)
    _img(root / "val" / "v1.png", 50)
    (root / "val.csv").write_text("v0,0.7\nv1,0.2\n")
    return root


def test_vquala_layout_in_place_and_converted(vquala_root, tmp_path):
    opt = {"type": "VQualAFIQADataset", "dataroot_target": str(vquala_root), "val_ratio": 0.2, "split_seed": 0}
    train, val = _build(opt), _build(dict(opt, phase="val"))
    assert len(train) == 8 and len(val) == 2
    names = {Path(p).name for p, _ in train.paths_mos + val.paths_mos}
    assert names == {f"img{i:02d}.png" for i in range(10)}
    test = _build(dict(opt, phase="test"))
    assert sorted(Path(p).name for p, _ in test.paths_mos) == ["v0.png", "v1.png"]
    assert float(train[0]["mos_label"]) == pytest.approx(dict((Path(p).name, m) for p, m in train.paths_mos)[Path(train[0]["img_path"]).name])

    out = tmp_path / "vq.csv"
    frame = convert_vquala(vquala_root, out, val_ratio=0.2)
    assert len(frame) == 12 and frame["split"].value_counts().to_dict() == {"train": 8, "val": 2, "test": 2}
    back = pd.read_csv(out)
    assert all((out.parent / p).is_file() for p in back["dist_img"])


def test_folder_csv_lower_better_and_cli(tmp_path, caplog):
    images = tmp_path / "faces"
    rows = []
    for i in range(10):
        _img(images / f"p{i}.png", 25 * i)
        rows.append({"file": f"p{i}.png", "distortion": float(i)})  # 0 = best, 9 = worst
    rows.append({"file": "missing.png", "distortion": 1.0})
    labels = tmp_path / "labels.csv"
    pd.DataFrame(rows).to_csv(labels, index=False)
    out = tmp_path / "mine.csv"
    with caplog.at_level(logging.WARNING):
        frame = convert_folder_csv(images, labels, out, "file", "distortion", mos_range=(0, 9), lower_better=True, val_ratio=0.2, test_ratio=0.2, seed=1)
    assert "not found" in caplog.text and len(frame) == 10
    by_name = dict(zip(frame["dist_img"].map(lambda p: Path(p).name), frame["mos"]))
    assert by_name["p0.png"] == pytest.approx(1.0) and by_name["p9.png"] == pytest.approx(0.0)
    assert frame["split"].value_counts().to_dict() == {"train": 6, "val": 2, "test": 2}

    cli_out = tmp_path / "cli.csv"
    rc = convert_main(["folder", "--images", str(images), "--csv", str(labels), "--path-column", "file", "--mos-column", "distortion",
                       "--mos-range", "0", "9", "--lower-better", "--seed", "1", "--val-ratio", "0.2", "--test-ratio", "0.2", "--out", str(cli_out)])
    assert rc == 0
    pd.testing.assert_frame_equal(pd.read_csv(cli_out), pd.read_csv(out))
    assert convert_main(["pyiqa", "--meta", str(tmp_path / "nope.csv"), "--images", str(images), "--out", str(tmp_path / "x.csv")]) == 2


def test_sources_replay_flags_and_bad_image(tmp_path, caplog):
    rows = []
    for i in range(4):
        _img(tmp_path / "a" / f"{i}.png", 40 * i)
        rows.append({"dist_img": f"{i}.png", "mos": 0.2 * i, "split": "train", "seed": 100 + i})
    pd.DataFrame(rows).to_csv(tmp_path / "a" / "meta.csv", index=False)
    (tmp_path / "b").mkdir()
    _img(tmp_path / "b" / "ok.png", 10)
    (tmp_path / "b" / "broken.png").write_bytes(b"not a png")
    pd.DataFrame([{"dist_img": "broken.png", "mos": np.nan, "split": "train"}, {"dist_img": "ok.png", "mos": 0.5, "split": "train"}]).to_csv(tmp_path / "b" / "meta.csv", index=False)
    ds = _build({"type": "FaceIQADataset", "sources": [
        {"meta_info_file": str(tmp_path / "a" / "meta.csv"), "replay": True, "max_samples": 3, "sample_seed": 0},
        {"meta_info_file": str(tmp_path / "b" / "meta.csv")},
    ]})
    assert len(ds) == 5 and ds.replay_flags == [1.0, 1.0, 1.0, 0.0, 0.0]
    assert ds.seeds[:3] != [-1, -1, -1] and ds.seeds[3:] == [-1, -1]
    with caplog.at_level(logging.WARNING):
        item = ds[3]  # broken.png: falls back to the next sample, with a warning naming the file
    assert "broken.png" in caplog.text and item["img_path"].endswith("ok.png")
    ds.set_teacher_scores(np.array([0.1, 0.2, 0.3, 0.4, 0.5]))
    assert float(ds[4]["teacher_score"]) == pytest.approx(0.5)
    with pytest.raises(MetaInfoError):
        _build({"type": "FaceIQADataset", "meta_info_file": str(tmp_path / "a" / "meta.csv"), "split_index": "official_split"})
    loader = torch.utils.data.DataLoader(_build({"type": "FaceIQADataset", "meta_info_file": str(tmp_path / "a" / "meta.csv")}), batch_size=2)
    batch = next(iter(loader))
    assert batch["img"].shape == (2, 3, 24, 28) and batch["mos_label"].shape == (2, 1) and batch["has_mos"].dtype == torch.bool
