"""Run a callback as soon as pyiqa is imported, without importing it (standard library only).

``import mspt_pyiqa`` must register the metric in pyiqa, yet importing pyiqa costs seconds
(torch, timm) that ``mspt-face --help`` or the onnxruntime scoring path never need. So:

* pyiqa already fully imported: the callback runs now;
* pyiqa being imported right now (it is loading its entry points, which import this
  package): the callback runs now, as a plain import-time registration would;
* pyiqa not imported yet: a one-shot import hook (a :class:`importlib.abc.MetaPathFinder`
  that removes itself on first use) runs the callback right after pyiqa's module has executed.
"""
from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import logging
import sys
from types import ModuleType
from typing import Callable, Optional, Sequence

logger = logging.getLogger(__name__)

TARGET = "pyiqa"


class _AfterImport(importlib.abc.MetaPathFinder):
    """Finds nothing itself; wraps the real loader of :data:`TARGET` so ``callback`` runs after it."""

    def __init__(self, callback: Callable[[], None]) -> None:
        self.callback = callback

    def find_spec(
        self, fullname: str, path: Optional[Sequence[str]], target: Optional[ModuleType] = None
    ) -> Optional[importlib.machinery.ModuleSpec]:
        if fullname != TARGET:
            return None
        if self in sys.meta_path:
            sys.meta_path.remove(self)  # one shot; also keeps find_spec below from recursing
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        exec_module = spec.loader.exec_module
        callback = self.callback

        def exec_then_callback(module: ModuleType) -> None:
            exec_module(module)
            try:
                callback()
            except Exception as err:  # never break `import pyiqa` itself
                logger.warning("mspt_pyiqa could not register in pyiqa: %s: %s", type(err).__name__, err)

        spec.loader.exec_module = exec_then_callback  # type: ignore[method-assign]
        return spec


def register_when_pyiqa_loads(callback: Callable[[], None]) -> None:
    """Run ``callback`` now if pyiqa is (being) imported, else right after it is imported."""
    if TARGET in sys.modules:
        callback()
        return
    if not any(isinstance(f, _AfterImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _AfterImport(callback))
