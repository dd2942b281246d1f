"""The model card is rendered from the committed release reports and matches them."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from mspt_pyiqa import weights as W
from research.release.model_card import BARS_CSV, keep_headline, read_bars, render

REPO = Path(__file__).resolve().parents[2]
WEIGHTS = REPO / "weights"
CONFIGS = REPO / "research" / "release" / "configs"

pytestmark = pytest.mark.skipif(W.default_entry_name() is None, reason="no released weights in the catalog")


def _render(name: str) -> str:
    cfg = yaml.safe_load((CONFIGS / f"{name}.yml").read_text())
    report = json.loads((WEIGHTS / f"{name}_report.json").read_text())
    eff = json.loads((REPO / "eval" / "reports" / "efficiency.json").read_text())
    return render(cfg, report, eff, WEIGHTS, read_bars(REPO / BARS_CSV))


def test_committed_model_card_is_the_render_of_the_default_release() -> None:
    """Regenerate with `python -m research.release.model_card --config research/release/configs/<default>.yml`
    (it keeps the card's native-scale headline section, which the yardstick's report writes)."""
    committed = (WEIGHTS / "MODEL_CARD.md").read_text()
    assert committed == keep_headline(_render(W.default_entry_name()), committed)


def test_every_release_has_a_config_a_report_and_its_checkpoint_hash() -> None:
    for name, entry in W.load_catalog().items():
        report = json.loads((WEIGHTS / f"{name}_report.json").read_text())
        assert report["final_sha256"] == entry.sha256 == W.sha256_file(WEIGHTS / entry.file), name
        cfg = yaml.safe_load((CONFIGS / f"{name}.yml").read_text())
        assert cfg["release"]["name"] == name and int(cfg["stages"][-1]["resolution"]) == entry.input_size
        card = _render(name)
        assert f"`{entry.file}`" in card and f"{report['student']['test']['srcc']:.4f}" in card


def test_ladder_text_names_the_teacher_term_only_when_the_recipe_uses_it() -> None:
    from research.release.model_card import _ladder_text

    stage = {"name": "stage3", "ladder": {"photos": 900, "fraction": 0.5, "rank_weight": 4.0, "margin": 0.03}}
    assert "teacher" not in _ladder_text({"stages": [stage]})[0]
    stage["ladder"]["teacher_weight"] = 10.0
    text = _ladder_text({"stages": [stage]})[0]
    assert "10.0 x the squared difference" in text and "teacher_difference_loss" in text
    assert "pristine" not in text.split("hinge")[1].split(".")[0]
    stage["ladder"]["pristine_weight"] = 4.0
    assert "pairs led by the pristine photo weighted 4.0x" in _ladder_text({"stages": [stage]})[0]


def test_bars_section_states_the_release_row_and_whether_it_meets(tmp_path: Path) -> None:
    from research.release.model_card import _bars_text

    row = {"pool": "levels_clean_common", "model": "m", "photos": "383", "all:ladders": "4979",
           "all:worst_kind": "saturation", "all:order_min": "0.9379", "all:order_min_ci": "0.9263..0.9494",
           "all:kinds_below_0.95": "1", "all:pristine_above": "0.9739", "all:pristine_above_ci": "0.9702..0.9772",
           "all:meets_both": "0.018", "degradation_only:ladders": "4185", "degradation_only:worst_kind": "saturation",
           "degradation_only:order_min": "0.9497", "degradation_only:order_min_ci": "0.94..0.96",
           "degradation_only:kinds_below_0.95": "1", "degradation_only:pristine_above": "0.984",
           "degradation_only:pristine_above_ci": "0.981..0.987", "degradation_only:meets_both": "0.4"}
    path = tmp_path / "t_bars.csv"
    path.write_text(",".join(row) + "\n" + ",".join(row.values()) + "\n")
    rows = read_bars(path)
    assert _bars_text("other", rows) == [] and read_bars(tmp_path / "missing.csv") == []
    text = "\n".join(_bars_text("m", rows))
    assert "383 photos" in text and "--model m " in text
    assert "| degrading (the bars) | 4185 | saturation | 0.9497 (below 0.95) [0.94..0.96] | 1 | 0.9840 (meets 0.95)" in text
    assert "Every kind's" not in text  # no _kinds.csv beside it
    (tmp_path / "t_kinds.csv").write_text(
        "pool,kind,ladders,degrading_ladders,m,m|degrading,n,n|degrading\n"
        "levels_clean_common,jpeg,383,383,0.98,0.98,0.5,0.5\nlevels_clean_common,saturation,380,200,0.9379,0.9497,0,0\n")
    text = "\n".join(_bars_text("m", read_bars(path)))
    assert "jpeg 0.980 (0.980), saturation 0.950 (0.938)." in text
