"""The shipped mspt_face weights: reference scores and sane behaviour on real and example faces."""
from __future__ import annotations

import json
from pathlib import Path
from typing import List

import numpy as np
import pyiqa
import pytest
import torch

import mspt_pyiqa  # noqa: F401
from mspt_pyiqa import weights as W
from mspt_pyiqa.demo import EXAMPLES, example_faces

REFERENCE = Path(__file__).resolve().parent / "data" / "release_reference_scores.json"

pytestmark = pytest.mark.skipif(W.default_entry_name() is None, reason="no released weights in the catalog")


@pytest.fixture(scope="module")
def metric():
    return pyiqa.create_metric("mspt_face", device="cpu")


@pytest.fixture(scope="module")
def demo_paths(tmp_path_factory: pytest.TempPathFactory) -> List[Path]:
    return example_faces(tmp_path_factory.mktemp("demo"))


def test_reference_scores_of_demo_faces(metric, demo_paths: List[Path]) -> None:
    """Scores of the README demo images, recorded when the release was made (regenerate with
    `python tests/data/make_release_reference.py`)."""
    ref = json.loads(REFERENCE.read_text())
    assert ref["weights_sha256"] == W.get_entry().sha256, "reference scores belong to another release"
    got = {p.name: float(metric(str(p))) for p in demo_paths}
    for name, value in ref["scores"].items():
        assert got[name] == pytest.approx(value, abs=1e-4), name


def test_degradations_lower_the_demo_score(metric, demo_paths: List[Path]) -> None:
    scores = {p.name: float(metric(str(p))) for p in demo_paths}
    pristine = scores.pop("astronaut_pristine.png")
    strong = {k: v for k, v in scores.items() if k.endswith("_0.7.png") or k.endswith("_0.9.png")}
    assert all(v < pristine for v in strong.values()), (pristine, strong)


def test_scores_in_range_on_real_faces(metric, face_paths: List[Path]) -> None:
    scores = [float(metric(str(p))) for p in face_paths]
    assert all(-0.25 < s < 1.25 for s in scores), scores


@pytest.mark.parametrize("name", sorted(W.load_catalog()))
def test_every_catalog_release_loads_by_name(name: str, demo_paths: List[Path]) -> None:
    """Earlier releases stay loadable (published numbers must stay reproducible) and sane."""
    metric = pyiqa.create_metric("mspt_face", weights_name=name, device="cpu")
    by_name = {p.name: float(metric(str(p))) for p in demo_paths}
    assert by_name["astronaut_pristine.png"] > by_name["astronaut_gaussian_blur_0.7.png"]
    assert all(np.isfinite(v) for v in by_name.values())
