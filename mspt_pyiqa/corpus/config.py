"""Loading stage / sampler configs (YAML, ``yaml.safe_load``)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Union

import yaml

STAGES_DIR = Path(__file__).resolve().parent / "stages"
DEFAULT_STAGES = ("stage1", "stage2", "stage3")


def load_stage(name_or_path: Union[str, Path]) -> Dict[str, Any]:
    """A stage config by built-in name (``stage1``..``stage3``) or by YAML file path."""
    p = Path(name_or_path)
    if not p.suffix and (STAGES_DIR / f"{p.name}.yml").is_file():
        p = STAGES_DIR / f"{p.name}.yml"
    if not p.is_file():
        raise FileNotFoundError(f"stage config not found: {name_or_path} (built-in: {', '.join(DEFAULT_STAGES)})")
    with open(p, "r", encoding="utf-8") as f:
        cfg = yaml.safe_load(f)
    if not isinstance(cfg, dict):
        raise ValueError(f"{p}: a stage config must be a YAML mapping")
    cfg.setdefault("name", p.stem)
    return cfg


def load_default_stages() -> List[Dict[str, Any]]:
    """The three built-in stage configs in order."""
    return [load_stage(n) for n in DEFAULT_STAGES]
