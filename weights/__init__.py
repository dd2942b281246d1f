"""Released MSPT checkpoints, installed as ``mspt_pyiqa.released_weights`` (see catalog.yaml)."""
