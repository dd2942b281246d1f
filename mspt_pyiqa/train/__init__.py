"""Multi-stage progressive training (MSPT) on top of pyiqa's training API.

* :func:`run_recipe` runs a recipe's stages in order (``mspt-face train RECIPE``);
* :class:`~mspt_pyiqa.train.pyiqa_model.MSPTModel` is the pyiqa model (``model_type: MSPTModel``);
* :func:`~mspt_pyiqa.train.stage.run_stage` trains one stage from a pyiqa option dict.

Imports are lazy: registering ``MSPTModel`` in pyiqa must not load the recipe runner.
"""
from __future__ import annotations

from typing import Any

__all__ = ["run_recipe", "RecipeError"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from mspt_pyiqa.train import recipe

        return getattr(recipe, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
