"""Research tests: the repository root on ``sys.path`` (``research`` is not installed) and the
``eval_script`` loader pointed at ``research/eval/``. Run: ``python -m pytest research/tests``."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Callable

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

pytestmark = pytest.mark.research


def pytest_collection_modifyitems(items) -> None:
    for item in items:
        item.add_marker(pytest.mark.research)


@pytest.fixture
def eval_script() -> Callable[[str], ModuleType]:
    """Loader of a study script under ``research/eval/``: ``eval_script("release_compare")``."""
    def load(name: str) -> ModuleType:
        spec = importlib.util.spec_from_file_location(name, REPO / "research" / "eval" / f"{name}.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod
    return load


def _product_conftest() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mspt_product_conftest", REPO / "tests" / "conftest.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# The product suite's data fixtures, shared rather than copied.
_product = _product_conftest()
shared_dir = _product.shared_dir
tiny_checkpoint = _product.tiny_checkpoint
