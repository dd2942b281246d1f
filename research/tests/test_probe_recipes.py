"""Every probe recipe under research/probes/ passes the trainer's own validation (what
``mspt-face train <recipe> --dry-run`` checks): stage files found, keys known, values in range.
The probes document how past measurements were made; a schema change that silently broke one
would leave the experiment log pointing at a recipe that no longer runs."""
from __future__ import annotations

from pathlib import Path

import pytest

from mspt_pyiqa.train.recipe import check_recipe

PROBES = Path(__file__).resolve().parents[1] / "probes"
RECIPES = sorted(p for p in PROBES.glob("*.yml") if "stages:" in p.read_text())


def test_there_are_probe_recipes() -> None:
    assert len(RECIPES) >= 10


@pytest.mark.parametrize("path", RECIPES, ids=[p.stem for p in RECIPES])
def test_probe_recipe_is_valid(path: Path) -> None:
    _, stages, problems = check_recipe(path, {})
    assert problems == [], f"{path.name}: {problems}"
    assert stages
