"""The packaged option files: ``recipes/`` (multi-stage recipes) and ``stages/`` (pyiqa stage options).

They travel in the wheel, so ``mspt-face train options/recipes/synthetic_faces.yml`` works from
any folder after ``pip install``: a recipe path that is not a file on disk is looked up here
(``options/recipes/x.yml``, ``recipes/x.yml`` or the bare name ``x``).
"""
from __future__ import annotations

from pathlib import Path
from typing import List, Union

__all__ = ["options_dir", "resolve_option_file", "packaged_recipes"]


def options_dir() -> Path:
    """The folder of the packaged option files (inside the installed package)."""
    return Path(__file__).resolve().parent


def packaged_recipes() -> List[str]:
    """Names of the packaged recipes (``options/recipes/<name>.yml``)."""
    return sorted(p.stem for p in (options_dir() / "recipes").glob("*.yml"))


def resolve_option_file(path: Union[str, Path]) -> Path:
    """``path`` if it is a file; else the packaged file it names; else ``path`` unchanged.

    Tried in order: ``path`` as given; ``path`` with a leading ``options/`` inside the package
    folder; ``recipes/<path>`` and ``recipes/<path>.yml`` inside it (bare recipe names).
    """
    p = Path(path)
    if p.is_file() or p.is_absolute():
        return p
    parts = p.parts[1:] if p.parts and p.parts[0] == "options" else p.parts
    base = options_dir()
    candidates = [base.joinpath(*parts)] if parts else []
    if len(parts) == 1:
        candidates += [base / "recipes" / parts[0], base / "recipes" / f"{parts[0]}.yml"]
    return next((c for c in candidates if c.is_file()), p)
