"""``mspt-face train --publish``: a finished run becomes a weights file and a catalog entry."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml

from mspt_pyiqa import weights as W
from mspt_pyiqa.train.publish import PublishError, publish_run
from view_helpers import weights_folder

RECIPE = {
    "name": "mspt_face_test",
    "stages": [{"option": "a.yml"}, {"option": "b.yml"}],
    "release": {"training_data": "ladders", "license": "research only", "description": "a test release", "input_size": 336},
}


def _run(tmp_path: Path, commit: str = "0123456789abcdef0123456789abcdef01234567", stages: int = 2) -> Path:
    """A run folder whose last stage's checkpoint is a seeded, untrained MSPTNet."""
    from mspt_pyiqa.archs import MSPTNet

    torch.manual_seed(0)
    net = MSPTNet(pretrained=False, test_img_size=None)
    run = tmp_path / "run"
    (run / "models").mkdir(parents=True)
    ckpt = run / "models" / "net_best.pth"
    torch.save({"params": net.state_dict()}, ckpt)
    entries = [{"name": f"s{k}", "best_checkpoint": str(ckpt)} for k in range(stages)]
    (run / "run.json").write_text(json.dumps({"git_commit": commit, "stages": entries}))
    return run


def test_publish_writes_the_file_and_a_catalog_entry_that_loads(tmp_path: Path) -> None:
    folder = weights_folder(tmp_path)
    before = (folder / "catalog.yaml").read_text()
    dest = publish_run(_run(tmp_path), RECIPE, folder, "options/recipes/mspt_face_test.yml", make_default=True, today="2026-12-07")
    assert dest.parent == folder and dest.name.startswith("mspt_face_test-") and dest.suffix == ".pth"
    catalog = W.load_catalog(folder / "catalog.yaml")
    entry = catalog["mspt_face_test"]
    assert entry.sha256 == W.sha256_file(dest) and dest.name == f"mspt_face_test-{entry.sha256[:8]}.pth"
    assert entry.input_size == 336 and entry.recipe == "options/recipes/mspt_face_test.yml" and entry.url is None
    assert entry.commit == "0123456789abcdef0123456789abcdef01234567" and entry.date == "2026-12-07"
    assert W.default_entry_name(folder / "catalog.yaml") == "mspt_face_test"
    old = yaml.safe_load(before)
    assert all(name in catalog for name in old["releases"])  # earlier releases stay
    text = (folder / "catalog.yaml").read_text()
    assert text.startswith(before.split("\n", 1)[0])  # the header comment is kept
    state = torch.load(dest, map_location="cpu", weights_only=True)
    assert state["meta"]["input_size"] == 336 and state["meta"]["git_commit"].startswith("0123")
    from mspt_pyiqa.archs import MSPTNet

    net = MSPTNet(pretrained=False, pretrained_model_path=str(dest), test_img_size=336).eval()
    assert torch.isfinite(net(torch.rand(1, 3, 64, 64))).all()


def test_publish_keeps_the_default_unless_asked(tmp_path: Path) -> None:
    folder = weights_folder(tmp_path)
    default = W.default_entry_name(folder / "catalog.yaml")
    publish_run(_run(tmp_path), RECIPE, folder, "r.yml")
    assert W.default_entry_name(folder / "catalog.yaml") == default
    assert "mspt_face_test" in W.load_catalog(folder / "catalog.yaml")


@pytest.mark.parametrize("commit,stages,recipe,match", [
    ("0123abc-dirty", 2, RECIPE, "clean, known commit"),
    ("0123abc", 1, RECIPE, "not finished"),
    ("0123abc", 2, {**RECIPE, "release": {"license": "x"}}, "no release fields"),
    ("0123abc", 2, {**RECIPE, "release": {**RECIPE["release"], "input_size": "336"}}, "input_size must be an integer"),
    ("0123abc", 2, {**RECIPE, "release": {**RECIPE["release"], "colour": 1}}, "unknown keys"),
    ("0123abc", 2, {**RECIPE, "release": {**RECIPE["release"], "detail_size": 8}}, "detail_size must be an integer >= 16"),
    ("0123abc", 2, {**RECIPE, "stages": [{"option": "a.yml"}, {"option": "b.yml", "overrides": {"network": {"detail_size": 320}}}],
                    "release": {**RECIPE["release"], "detail_size": 256}}, "not the last stage's network detail_size"),
])
def test_publish_refuses_what_would_not_reproduce(tmp_path: Path, commit, stages, recipe, match) -> None:
    folder = weights_folder(tmp_path)
    before = (folder / "catalog.yaml").read_text()
    with pytest.raises(PublishError, match=match):
        publish_run(_run(tmp_path, commit, stages), recipe, folder, "r.yml")
    assert (folder / "catalog.yaml").read_text() == before and not list(folder.glob("*.pth"))


def test_publish_names_the_commit_the_stages_trained_from(tmp_path: Path) -> None:
    """A finished run resumed later (to publish) from another commit keeps its stages' commit; stages
    trained from different commits are refused."""
    folder = weights_folder(tmp_path)
    run = _run(tmp_path, commit="feedfacefeedfacefeedfacefeedfacefeedface")
    data = json.loads((run / "run.json").read_text())
    for st in data["stages"]:
        st["git_commit"] = "0123456789abcdef0123456789abcdef01234567"
    (run / "run.json").write_text(json.dumps(data))
    publish_run(run, RECIPE, folder, "r.yml")
    assert W.load_catalog(folder / "catalog.yaml")["mspt_face_test"].commit.startswith("0123456789")
    data["stages"][0]["git_commit"] = "feedfacefeedfacefeedfacefeedfacefeedface"
    (run / "run.json").write_text(json.dumps(data))
    with pytest.raises(PublishError, match="different commits"):
        publish_run(run, RECIPE, folder, "r.yml")


def test_publish_carries_the_detail_view(tmp_path: Path) -> None:
    """A release with a detail view: its size is in the catalog entry and the file's meta, and
    the network loaded from either (catalog or file) gets it without being told."""
    from mspt_pyiqa.archs import MSPTNet

    folder = weights_folder(tmp_path)
    recipe = {**RECIPE, "stages": [{"option": "a.yml"}, {"option": "b.yml", "overrides": {"network": {"detail_size": 320}}}],
              "release": {**RECIPE["release"], "input_size": 320, "detail_size": 320}}
    dest = publish_run(_run(tmp_path), recipe, folder, "r.yml")
    entry = W.load_catalog(folder / "catalog.yaml")["mspt_face_test"]
    assert entry.detail_size == 320 and W.checkpoint_meta(dest)["detail_size"] == 320
    assert MSPTNet(pretrained_model_path=str(dest)).detail_size == 320
    plain = publish_run(_run(tmp_path / "b"), RECIPE, folder, "r.yml")  # no detail view: no field, none loaded
    assert W.load_catalog(folder / "catalog.yaml")["mspt_face_test"].detail_size is None
    assert "detail_size" not in W.checkpoint_meta(plain) and MSPTNet(pretrained_model_path=str(plain)).detail_size is None
