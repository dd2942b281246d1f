"""A non-editable install carries the code and the released weights (issue: wheel install)."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_non_editable_install_finds_its_weights(tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(REPO)],
        check=True, cwd=tmp_path,
    )
    shipped = target / "mspt_pyiqa" / "released_weights"
    assert (shipped / "catalog.yaml").is_file()
    # every file the catalog names travels in the wheel: checkpoints and their score reference files
    catalog = yaml.safe_load((REPO / "weights" / "catalog.yaml").read_text())
    named = [e[k] for e in catalog["releases"].values() for k in ("file", "reference") if e.get(k)]
    assert named and [n for n in named if not (shipped / n).is_file()] == []
    # the product only: no release trainer or research code; the option files travel with it
    assert not (target / "mspt_pyiqa" / "release").exists() and not (target / "research").exists()
    assert (target / "mspt_pyiqa" / "options" / "recipes" / "synthetic_faces.yml").is_file()
    probe = textwrap.dedent(
        """
        import json, sys
        import pyiqa, mspt_pyiqa
        from mspt_pyiqa import weights as W
        info = {"module": mspt_pyiqa.__file__, "weights_dir": str(W.package_weights_dir()),
                "default": W.default_entry_name(), "listed": "mspt_face" in pyiqa.list_models("NR")}
        if info["default"]:
            metric = pyiqa.create_metric("mspt_face", device="cpu")
            import torch
            info["score"] = float(metric(torch.full((1, 3, 64, 64), 0.5)))
        # The README's training example from the installed package, in a folder without options/
        # (in this interpreter: start-up dominates the cost).
        import contextlib, io
        from mspt_pyiqa.cli.main import main
        from mspt_pyiqa.train.toy import main as toy
        info["runs"] = {"toy": [toy(["runs/toy", "--epochs", "1"]), ""]}
        for recipe in ("runs/toy/recipe.yml", "options/recipes/synthetic_faces.yml", "mspt_face_v11"):
            buf = io.StringIO()
            with contextlib.redirect_stdout(buf):
                rc = main(["train", recipe, "--dry-run"])
            info["runs"][recipe] = [rc, buf.getvalue()]
        print(json.dumps(info))
        """
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    env.pop(W_ENV := "MSPT_PYIQA_WEIGHTS_DIR", None)
    out = subprocess.run([sys.executable, "-c", probe], check=True, cwd=tmp_path, env=env,
                         capture_output=True, text=True).stdout
    import json

    info = json.loads(out.strip().splitlines()[-1])
    runs = info.pop("runs")
    assert runs.pop("toy")[0] == 0
    for recipe, (rc, text) in runs.items():
        assert rc == 0 and "valid" in text, (recipe, text)
