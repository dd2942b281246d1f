"""No import cycle inside ``mspt_pyiqa``, read from the import statements (module-level and lazy).

Every ``import`` / ``from ... import`` in every module is an edge, including imports inside
functions: a lazy import only delays a circle, it does not remove it. Importing
``mspt_pyiqa.a.b`` is an edge to ``mspt_pyiqa.a.b`` only (a package's own ``__init__`` is not
counted as importing its submodules' importers back).
"""
from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, List, Set

import pytest

PKG = Path(__file__).resolve().parents[1] / "mspt_pyiqa"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PKG.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _resolve(name: str, modules: Set[str]) -> str:
    """The longest known module that ``name`` is or lies in."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name


def import_graph() -> Dict[str, Set[str]]:
    """module -> the ``mspt_pyiqa`` modules its import statements name."""
    files = {module_name(p): p for p in PKG.rglob("*.py")}
    modules = set(files)
    graph: Dict[str, Set[str]] = {m: set() for m in modules}
    for mod, path in files.items():
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            targets: List[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join(anchor + ([base] if base else []))
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            for t in targets:
                if t.split(".")[0] == "mspt_pyiqa":
                    dep = _resolve(t, modules)
                    if dep and dep != mod:
                        graph[mod].add(dep)
    return graph


def cycles(graph: Dict[str, Set[str]]) -> List[List[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on: Set[str] = set()
    out: List[List[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_graph_sees_lazy_and_relative_imports() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    real = import_graph()
    assert "mspt_pyiqa.weights" in real["mspt_pyiqa.registration"] or real["mspt_pyiqa.registration"], real["mspt_pyiqa.registration"]
    # train/__init__ imports train.recipe inside a function: the graph must see it
    assert "mspt_pyiqa.train.recipe" in real["mspt_pyiqa.train"]


def test_no_import_cycle_in_package() -> None:
    found = cycles(import_graph())
    assert not found, "import cycles in mspt_pyiqa: " + "; ".join(" <-> ".join(c) for c in found)


@pytest.mark.parametrize("module", ["mspt_pyiqa.train.losses", "mspt_pyiqa.train.pyiqa_model", "mspt_pyiqa.archs"])
def test_first_import_registers_in_pyiqa_without_a_cycle(module: str) -> None:
    """Importing pyiqa runs its entry points, which register this package's classes: a module that
    imports pyiqa at its top while being registered would be half-initialised then."""
    import subprocess
    import sys

    code = f"import {module}; import pyiqa; assert 'mspt_face' in pyiqa.list_models(), 'not registered'"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=240,
                         cwd=str(Path(__file__).resolve().parent.parent))
    assert res.returncode == 0, res.stderr[-800:]
    assert "could not register" not in res.stderr, res.stderr[-800:]
