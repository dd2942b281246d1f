"""One home per concept: a release's input size (the catalog) and the VQualA label reader."""
from __future__ import annotations

from pathlib import Path

import pytest

from mspt_pyiqa import weights as W


def test_input_size_is_asked_of_the_catalog(monkeypatch: pytest.MonkeyPatch) -> None:
    from mspt_pyiqa.archs import MSPTNet
    from mspt_pyiqa.registration import metric_config
    from mspt_pyiqa.scoring.preprocess import PreprocessConfig

    size = W.release_input_size()
    assert size == W.load_catalog()[W.default_entry_name()].input_size
    assert MSPTNet(pretrained=False).test_img_size == size
    assert metric_config()["metric_opts"]["test_img_size"] == size
    assert PreprocessConfig().input_size == size
    assert MSPTNet(pretrained=False, test_img_size=None).test_img_size is None
    with pytest.raises(ValueError, match="test_img_size must be"):
        MSPTNet(pretrained=False, test_img_size="big")
    monkeypatch.setattr(W, "default_entry_name", lambda path=None: None)
    assert W.release_input_size() == W.FALLBACK_INPUT_SIZE == 448


def test_bench_and_training_read_vquala_alike(tmp_path: Path) -> None:
    """The same label file gives the same images and scores to the leaderboard and to training."""
    from mspt_pyiqa.bench.datasets import DatasetSpec, load_dataset
    from mspt_pyiqa.data.converters import read_vquala_labels

    (tmp_path / "train").mkdir()
    (tmp_path / "train.csv").write_text("a,0.5\nb.jpg,0.7\nc.v2,0.2\nbroken,x\n")
    frame = read_vquala_labels(tmp_path / "train.csv", tmp_path / "train")
    items = load_dataset(DatasetSpec(path=tmp_path, layout="vquala", split="train")).items
    assert [Path(p).name for p in frame["path"]] == ["a.png", "b.jpg", "c.v2.png"]
    assert [i.path.name for i in items] == ["a.png", "b.jpg", "c.v2.png"] and [i.mos for i in items] == [0.5, 0.7, 0.2]
