"""research/typical_reference.py and the release configs' samplers (moved from tests/test_typical.py)."""
from __future__ import annotations

import pytest

from mspt_pyiqa.corpus.typical import TypicalReference

REF = {"chroma": 0.05879, "balance": [0.27232, -0.0535, -0.21882]}


def test_release_configs_build_their_samplers() -> None:
    """Every release config's stage samplers parse; v23's use the measured reference."""
    from pathlib import Path

    import yaml

    from research.release.run import stage_sampler

    configs = sorted((Path(__file__).resolve().parents[2] / "research" / "release" / "configs").glob("*.yml"))
    assert configs
    for path in configs:
        cfg = yaml.safe_load(path.read_text())
        samplers = [stage_sampler(stage)[0] for stage in cfg["stages"]]
        if path.stem == "mspt_face_v23":
            assert all(s.typical == TypicalReference.from_config(REF) for s in samplers)
        elif path.stem == "mspt_face_v11":
            assert all(s.typical is None for s in samplers)


def test_cli_measures_a_reference_from_train_photos(capsys: pytest.CaptureFixture) -> None:
    """`python -m research.typical_reference`: a YAML block the sampler accepts; clear error without a config."""
    from pathlib import Path

    import yaml

    from research.typical_reference import main

    repo = Path(__file__).resolve().parents[2]
    faces = repo.parent / "shared" / "data" / "faces"
    if not faces.is_dir():
        pytest.skip("../shared/data/faces not beside the checkout")
    cfg = yaml.safe_load((repo / "research/release/configs/mspt_face_v11.yml").read_text())
    cfg["faces"] = str(faces)
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "c.yml"
        path.write_text(yaml.safe_dump(cfg))
        assert main(["--config", str(path), "--per-set", "3"]) == 0
        block = yaml.safe_load(capsys.readouterr().out)["away_from_typical"]
        ref = TypicalReference.from_config(block)
        assert 0.01 < ref.chroma < 0.2 and ref.balance[0] > ref.balance[2]  # skin: warm, R above B
        with pytest.raises(SystemExit):
            main(["--config", str(Path(tmp) / "missing.yml")])
