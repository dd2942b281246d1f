"""Record the reference scores of the README demo faces for the current default release."""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pyiqa

import mspt_pyiqa  # noqa: F401
from mspt_pyiqa import weights as W
from mspt_pyiqa.demo import example_faces

if __name__ == "__main__":
    metric = pyiqa.create_metric("mspt_face", device="cpu")
    paths = example_faces(Path(tempfile.mkdtemp()))
    out = {"weights": W.default_entry_name(), "weights_sha256": W.get_entry().sha256,
           "scores": {p.name: round(float(metric(str(p))), 6) for p in paths}}
    target = Path(__file__).resolve().parent / "release_reference_scores.json"
    target.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))
