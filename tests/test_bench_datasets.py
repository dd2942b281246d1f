"""Dataset readers of the leaderboard: pyiqa meta-info CSV, VQualA layout, corpus CSV."""
from pathlib import Path

import pandas as pd
import pytest

from mspt_pyiqa.bench.datasets import DatasetSpec, load_dataset


def test_pyiqa_meta_info_with_split_and_ref(tmp_path):
    pd.DataFrame({"dist_name": ["a.png", "b.png", "c.png"], "mos": [1.0, 2.0, 3.0], "ref_name": ["r.png"] * 3,
                  "split_1": ["train", "test", "test"]}).to_csv(tmp_path / "meta.csv", index=False)
    ds = load_dataset(DatasetSpec.parse(f"path={tmp_path / 'meta.csv'},root={tmp_path / 'img'},split=test,ref_column=ref_name"))
    assert ds.layout == "pyiqa" and [i.mos for i in ds.items] == [2.0, 3.0]
    assert ds.items[0].path == tmp_path / "img" / "b.png" and ds.has_ref


def test_vquala_layout(tmp_path):
    (tmp_path / "train").mkdir()
    (tmp_path / "train.csv").write_text("img001,0.5\nimg002.jpg,0.7\n")
    ds = load_dataset(DatasetSpec(path=tmp_path))
    assert ds.layout == "vquala" and not ds.has_ref
    assert [i.path.name for i in ds.items] == ["img001.png", "img002.jpg"]
    assert ds.items[0].path.parent == tmp_path / "train"


def test_corpus_split_and_whole_photo_subsample(tmp_path):
    rows = []
    for s in range(6):
        for lvl in (1, 2, 3):
            rows.append({"dist_img": f"d/{s}_{lvl}.png", "mos": 1 - lvl / 4, "ref_img": f"r/{s}.png", "source_id": f"s{s}",
                         "source_set": "x", "degradation": "blur", "severity": lvl, "level": lvl, "stage": 1, "seed": 0,
                         "split": "test" if s < 5 else "train"})
    pd.DataFrame(rows).to_csv(tmp_path / "corpus.csv", index=False)
    ds = load_dataset(DatasetSpec(path=tmp_path / "corpus.csv"))
    assert ds.layout == "corpus" and len(ds.items) == 15 and ds.has_ref and ds.has_order
    sub = load_dataset(DatasetSpec(path=tmp_path / "corpus.csv"), max_images=7, seed=3)
    per_photo = pd.Series([i.info["source_id"] for i in sub.items]).value_counts()
    assert len(sub.items) <= 7 and (per_photo == 3).all()
    assert [i.path for i in sub.items] == [i.path for i in load_dataset(DatasetSpec(path=tmp_path / "corpus.csv"), max_images=7, seed=3).items]


def test_bad_spec_is_a_clear_error():
    with pytest.raises(ValueError, match="key=value"):
        DatasetSpec.parse("path=x.csv,colour=red")
