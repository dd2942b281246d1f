"""What a score means: the reference file schema, percentiles, words, and the score summary."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mspt_pyiqa.reference import (ONNX_METADATA_KEY, Reference, ReferenceError, describe, load_reference,
                                  reference_for_release, summary_lines)

FIXTURE = Path(__file__).resolve().parent / "data" / "reference_fixture.json"


@pytest.fixture(scope="module")
def ref() -> Reference:
    return load_reference(FIXTURE)


def test_fixture_loads_and_percentiles_are_monotone(ref: Reference) -> None:
    assert ref.release == "mspt_face_test" and len(ref.clean_percentiles) == 101 and len(ref.conditions) == 7
    assert ref.percentile(0.0) == 0.0 and ref.percentile(5.0) == 100.0
    assert ref.percentile(ref.clean_percentiles[25]) == pytest.approx(25.0)
    ps = [ref.percentile(s) for s in np.linspace(0.3, 1.0, 50)]
    assert all(b >= a for a, b in zip(ps, ps[1:]))


def test_ties_in_percentiles_take_the_middle() -> None:
    data = json.loads(FIXTURE.read_text())
    data["clean_percentiles"] = [0.5] * 101
    assert Reference.from_dict(data).percentile(0.5) == pytest.approx(50.0)


def test_describe_places_a_score_between_degradations(ref: Reference) -> None:
    text = describe(ref, 0.60)
    assert text.startswith("0.600: clean photos' 32nd percentile")
    assert "between JPEG quality 30 (median 0.620) and JPEG quality 20 (median 0.550)" in text
    assert "above every degradation's median (highest: JPEG quality 50" in describe(ref, 0.9)
    assert "below every degradation's median (lowest: Gaussian blur sigma 4 px" in describe(ref, 0.1)
    lines = summary_lines(ref, [0.5, 0.6, 0.7, None])
    assert lines[0].startswith("reference (mspt_face_test, 100 clean photos; 7 degradation levels)")
    assert lines[1].startswith("  median 0.600") and summary_lines(ref, []) == []


@pytest.mark.parametrize("change, message", [
    (lambda d: d.pop("photos"), "missing field 'photos'"),
    (lambda d: d.update(clean_percentiles=[0.5] * 100), "clean_percentiles must be a list of 101 numbers"),
    (lambda d: d.update(clean_percentiles=list(range(101))[::-1]), "clean_percentiles must not decrease"),
    (lambda d: d["conditions"][0].pop("median"), r"conditions\[0\] is not"),
])
def test_bad_reference_files_are_refused_with_the_file_name(tmp_path: Path, change, message: str) -> None:
    data = json.loads(FIXTURE.read_text())
    change(data)
    bad = tmp_path / "bad_reference.json"
    bad.write_text(json.dumps(data))
    with pytest.raises(ReferenceError, match="bad_reference.json: " + message):
        load_reference(bad)
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(ReferenceError, match="broken.json: cannot read"):
        load_reference(tmp_path / "broken.json")


def test_catalog_entry_names_its_reference_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mspt_pyiqa import weights as W

    (tmp_path / "catalog.yaml").write_text(
        "default: mspt_face_test\nreleases:\n  mspt_face_test:\n    file: x.pth\n    sha256: '0'\n    input_size: 224\n"
        "    backbone: mobilenetv3_small_100\n    training_data: t\n    license: l\n    date: '2026-01-01'\n"
        "    reference: mspt_face_test_reference.json\n  other:\n    file: y.pth\n    sha256: '0'\n    input_size: 224\n"
        "    backbone: mobilenetv3_small_100\n    training_data: t\n    license: l\n    date: '2026-01-01'\n")
    (tmp_path / "mspt_face_test_reference.json").write_text(FIXTURE.read_text())
    monkeypatch.setattr(W, "package_weights_dir", lambda: tmp_path)
    assert reference_for_release("mspt_face_test") == load_reference(FIXTURE)
    assert reference_for_release("other") is None and reference_for_release(None) is None


def test_onnx_metadata_carries_the_reference(tmp_path: Path, ref: Reference) -> None:
    import torch

    from mspt_pyiqa.archs import MSPTNet
    from mspt_pyiqa.onnx_export import export_onnx
    from mspt_pyiqa.scoring.backends import OnnxBackend

    torch.manual_seed(0)
    path = export_onnx(MSPTNet(pretrained=False, test_img_size=64).eval(), tmp_path / "m.onnx",
                       metadata={ONNX_METADATA_KEY: ref.to_json(), "mspt_release": ref.release})
    assert OnnxBackend(path).reference == ref


def test_score_summary_prints_reference_points(tmp_path: Path, example_folder: Path, ref: Reference, tiny_checkpoint: Path,
                                               monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    from mspt_pyiqa.cli.main import main
    from mspt_pyiqa.scoring import model

    monkeypatch.setattr(model, "default_reference", lambda: ref)
    code = main(["score", str(example_folder / "crop_astronaut.png"), "-o", str(tmp_path / "s.csv"), "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0 and "reference (mspt_face_test, 100 clean photos" in out and "  median 0." in out
    # Own weights: no reference (the release's points do not apply to them), no reference lines.
    assert model.build_backend("torch", weights=str(tiny_checkpoint)).reference is None
    main(["score", str(example_folder / "crop_astronaut.png"), "-o", str(tmp_path / "t.csv"), "--no-progress",
          "--weights", str(tiny_checkpoint)])
    assert "reference (" not in capsys.readouterr().out
