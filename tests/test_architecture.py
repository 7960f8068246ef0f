"""The layout holds, between modules and between packages.

* No import cycle between modules.
* The package graph (each subpackage of ``calbio`` and each top-level module is a node; the
  package ``calbio`` itself, the facade, is the node ``calbio``) has no loop, and no package
  imports one of a higher layer. The layer order is read from docs/ARCHITECTURE.md (the line
  ``layers: a < b, c < ...``), so the document and the test cannot disagree.

Every import counts: inside functions (lazy), under ``TYPE_CHECKING``, relative, and imports of
a parent package (``import calbio`` or ``from calbio import x``). There is no whitelist.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "calbio"
DOC = ROOT / "docs" / "ARCHITECTURE.md"


def _module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _targets(node: ast.AST, pkg: str) -> list[str]:
    """Dotted names an import statement may load (a package, or a module inside it)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:
            parts = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
            base = ".".join([*parts, base] if base else parts)
        return [base] + [f"{base}.{a.name}" for a in node.names]
    return []


def _imports(path: Path, modules: set[str]) -> set[str]:
    """calbio modules imported by ``path``."""
    return _imports_of(path.read_text(), _module_name(path), path.name == "__init__.py", modules)


def _imports_of(source: str, me: str, is_init: bool, modules: set[str]) -> set[str]:
    """calbio modules imported by the source of module ``me`` (longest existing prefix)."""
    pkg = me if is_init else me.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        names = _targets(node, pkg)
        if isinstance(node, ast.ImportFrom) and len(names) > 1:
            # `from calbio import core` loads calbio.core; `from calbio import CAL` loads calbio
            subs = [n for n in names[1:] if n in modules]
            names = subs if len(subs) == len(names) - 1 else [names[0], *subs]
        for n in names:
            while n and n not in modules:
                n = n.rsplit(".", 1)[0] if "." in n else ""
            if n and n != me:
                found.add(n)
    return found


def _graph() -> dict[str, set[str]]:
    files = list(SRC.rglob("*.py"))
    modules = {_module_name(p) for p in files}
    return {_module_name(p): _imports(p, modules) for p in files}


def _package(module: str) -> str:
    """Package node of a module: ``calbio.models.cal`` -> ``models``, ``calbio`` -> ``calbio``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "calbio"


def _package_graph() -> dict[str, dict[str, list[str]]]:
    """package -> imported package -> the module-level imports behind that edge."""
    out: dict[str, dict[str, list[str]]] = {}
    for m, deps in _graph().items():
        for d in deps:
            a, b = _package(m), _package(d)
            out.setdefault(a, {})
            if a != b:
                out[a].setdefault(b, []).append(f"{m} -> {d}")
    return out


def _layers() -> dict[str, int]:
    found = re.search(r"^layers: (.+)$", DOC.read_text(), re.MULTILINE)
    assert found, "docs/ARCHITECTURE.md must state the layer order on a line 'layers: a < b < ...'"
    return {
        name.strip().strip("`"): i
        for i, level in enumerate(found.group(1).split("<"))
        for name in level.split(",")
    }


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
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
                cycles.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return cycles


def test_no_import_cycles_between_modules() -> None:
    graph = _graph()
    # a package's __init__ re-exports its children; an edge child -> its own package is no cycle
    edges = {m: {d for d in deps if not m.startswith(d + ".")} for m, deps in graph.items()}
    assert not _cycles(edges), f"import cycles: {_cycles(edges)}"


def test_no_loop_between_packages() -> None:
    pg = _package_graph()
    loops = _cycles({a: set(bs) for a, bs in pg.items()})
    detail = {f"{a} -> {b}": pg[a][b] for loop in loops for a in loop for b in pg[a] if b in loop}
    assert not loops, f"package loops {loops}: {detail}"


def test_every_package_has_a_layer() -> None:
    missing = sorted(set(_package_graph()) - set(_layers()))
    assert not missing, f"place these packages in the layer order of ARCHITECTURE.md: {missing}"


def test_no_import_from_a_higher_layer() -> None:
    layer = _layers()
    up = {
        f"{a} -> {b}": imports
        for a, deps in _package_graph().items()
        for b, imports in deps.items()
        if a in layer and b in layer and layer[b] > layer[a]
    }
    assert not up, f"imports from a higher layer: {up}"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("def f():\n    import calbio\n", {"calbio"}),  # lazy, parent package
        ("from calbio import core\n", {"calbio.core"}),
        ("from calbio import CAL\n", {"calbio"}),
        ("from .. import core\n", {"calbio.core"}),
        ("from ..evaluation.splits import make_split\n", {"calbio.evaluation.splits"}),
    ],
)
def test_the_walk_sees_every_kind_of_import(source: str, expected: set) -> None:
    """Lazy, relative and parent-package imports are edges (the old walk dropped the last)."""
    modules = {"calbio", "calbio.core", "calbio.evaluation.splits", "calbio.data.x"}
    assert _imports_of(source, "calbio.data.x", False, modules) == expected


MAX_FUNCTION_LINES = 80


def _long_functions(source: str, limit: int = MAX_FUNCTION_LINES) -> list[tuple[str, int]]:
    """(name, lines) of every function or method longer than ``limit`` lines."""
    return [
        (node.name, node.end_lineno - node.lineno + 1)
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno - node.lineno + 1 > limit
    ]


def test_no_function_is_longer_than_80_lines() -> None:
    """Issue 18: long functions hid several concepts each; every function stays short."""
    long = {
        f"{path.relative_to(SRC)}:{name}": n
        for path in sorted(SRC.rglob("*.py"))
        for name, n in _long_functions(path.read_text())
    }
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines: {long}"


def test_the_length_check_counts_the_whole_function() -> None:
    """A function of 81 lines (signature to last statement) is caught; one of 80 is not."""
    body = "".join(f"    x{i} = {i}\n" for i in range(79))
    assert _long_functions("def f():\n" + body) == []
    assert _long_functions("def f():\n" + body + "    return 1\n") == [("f", 81)]


def test_evaluate_is_under_60_lines() -> None:
    """Issue 18: evaluate() reads as the protocol's outline; the steps live in helpers."""
    source = (SRC / "evaluation" / "protocol.py").read_text()
    lengths = dict(_long_functions(source, limit=0))
    assert 0 < lengths["evaluate"] < 60, lengths["evaluate"]
