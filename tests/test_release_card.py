"""The model card is rendered from the committed release reports and matches them."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from mspt_pyiqa import weights as W
from mspt_pyiqa.release.model_card import render

REPO = Path(__file__).resolve().parents[1]
WEIGHTS = REPO / "weights"
CONFIGS = REPO / "mspt_pyiqa" / "release" / "configs"

pytestmark = pytest.mark.skipif(W.default_entry_name() is None, reason="no released weights in the catalog")


def _render(name: str) -> str:
    cfg = yaml.safe_load((CONFIGS / f"{name}.yml").read_text())
    report = json.loads((WEIGHTS / f"{name}_report.json").read_text())
    eff = json.loads((REPO / "eval" / "reports" / "efficiency.json").read_text())
    return render(cfg, report, eff, WEIGHTS)


def test_committed_model_card_is_the_render_of_the_default_release() -> None:
    """Regenerate with `python -m mspt_pyiqa.release.model_card --config mspt_pyiqa/release/configs/<default>.yml`."""
    assert (WEIGHTS / "MODEL_CARD.md").read_text() == _render(W.default_entry_name())


def test_every_release_has_a_config_a_report_and_its_checkpoint_hash() -> None:
    for name, entry in W.load_catalog().items():
        report = json.loads((WEIGHTS / f"{name}_report.json").read_text())
        assert report["final_sha256"] == entry.sha256 == W.sha256_file(WEIGHTS / entry.file), name
        cfg = yaml.safe_load((CONFIGS / f"{name}.yml").read_text())
        assert cfg["release"]["name"] == name and int(cfg["stages"][-1]["resolution"]) == entry.input_size
        card = _render(name)
        assert f"`{entry.file}`" in card and f"{report['student']['test']['srcc']:.4f}" in card


def test_ladder_text_names_the_teacher_term_only_when_the_recipe_uses_it() -> None:
    from mspt_pyiqa.release.model_card import _ladder_text

    stage = {"name": "stage3", "ladder": {"photos": 900, "fraction": 0.5, "rank_weight": 4.0, "margin": 0.03}}
    assert "teacher" not in _ladder_text({"stages": [stage]})[0]
    stage["ladder"]["teacher_weight"] = 10.0
    text = _ladder_text({"stages": [stage]})[0]
    assert "10.0 x the squared difference" in text and "teacher_difference_loss" in text
    assert "pristine" not in text.split("hinge")[1].split(".")[0]
    stage["ladder"]["pristine_weight"] = 4.0
    assert "pairs led by the pristine photo weighted 4.0x" in _ladder_text({"stages": [stage]})[0]
