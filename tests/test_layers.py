"""Imports point one way (docs/model.md, "Map of the code"), and no module imports itself back.

    equations, economy (the IO layer's equations) ← spec ← model ← io, analysis ← api ← econ
    (the public face) ← cli

Every import is read from the source (module level and inside functions alike).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: the packages a layer may import from (besides itself, the standard library and third parties)
ALLOWED = {
    "econ.equations": set(),
    "econ.economy": set(),
    "econ.errors": set(),
    "econ._version": set(),
    "econ.spec": {"econ.errors"},
    "econ.model": {"econ.equations", "econ.economy", "econ.errors", "econ.spec", "econ._version"},
    "econ.io": {"econ.errors", "econ.spec"},
    "econ.analysis": {
        "econ.equations",
        "econ.economy",
        "econ.errors",
        "econ.spec",
        "econ.model",
        "econ.io",
    },
    "econ.api": {"econ.errors", "econ.spec", "econ.model", "econ.io", "econ.analysis"},
    # rendering for people and programs (tables, charts, reports): on top of the library
    "econ.report": {
        "econ.errors",
        "econ.spec",
        "econ.model",
        "econ.io",
        "econ.analysis",
        "econ.api",
        "econ._version",
    },
    "econ": {"econ.api", "econ.errors", "econ.spec", "econ.model", "econ.io", "econ._version"},
}


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every module named by an import in the file (relative imports resolved)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if node.module:
                out.add(mod)
            # `from .. import equations` names a module, `from .x import f` an attribute
            out |= {f"{mod}.{a.name}" for a in node.names}
    return out


def _layer(module: str) -> str:
    for layer in sorted(ALLOWED, key=len, reverse=True):
        if module == layer or module.startswith(layer + "."):
            return layer
    raise AssertionError(f"{module} belongs to no layer")


def _ours(module: str, known: set[str]) -> str | None:
    while module:
        if module in known:
            return module
        module = module.rpartition(".")[0]
    return None


def _graph() -> dict[str, set[str]]:
    files = sorted((ROOT / "econ").rglob("*.py")) + sorted((ROOT / "cli").rglob("*.py"))
    known = {_module_name(p) for p in files}
    graph = {}
    for p in files:
        graph[_module_name(p)] = {
            m for m in (_ours(i, known) for i in _imports(p)) if m and m != _module_name(p)
        }
    return graph


def test_layers_import_one_way():
    bad = []
    for mod, deps in _graph().items():
        if mod.startswith("cli"):
            continue
        layer = _layer(mod)
        for dep in deps:
            if dep.startswith("cli"):
                bad.append(f"{mod} imports the CLI ({dep})")
                continue
            target = _layer(dep)
            if target != layer and target not in ALLOWED[layer]:
                bad.append(f"{mod} ({layer}) imports {dep} ({target})")
    assert not bad, "\n".join(bad)


def test_equations_are_pure_numpy():
    for name in ("equations.py", "economy.py"):
        imports = _imports(ROOT / "econ" / name)
        assert imports <= {"__future__", "__future__.annotations", "numpy", "numpy.np"}, imports


def test_no_import_cycles():
    graph = _graph()
    # a package's __init__ re-exports its modules; edges into a package from its own
    # modules are the usual "from . import x" and are not cycles of code
    seen, stack, cycles = set(), [], []

    def visit(node: str) -> None:
        if node in stack:
            cycles.append(stack[stack.index(node) :] + [node])
            return
        if node in seen:
            return
        seen.add(node)
        stack.append(node)
        for dep in graph.get(node, ()):
            if node.startswith(dep + "."):
                continue  # a module importing its own package's __init__
            visit(dep)
        stack.pop()

    for node in graph:
        visit(node)
    assert not cycles, cycles
