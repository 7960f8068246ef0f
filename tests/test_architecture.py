"""The layout holds: no import cycles; evaluation and retrieval see models only via the protocol.

Imports inside functions count too: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "calbio"
# What evaluation/ and retrieval/ may import from models/: the interface, not any model.
PROTOCOL_ONLY = {
    "calbio.models",
    "calbio.models.base",
    "calbio.models.registry",
    "calbio.models.persistence",
    "calbio.models.graph",  # the shortcut baselines every evaluation scores
}


def _module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    tree = ast.parse(path.read_text())
    me = _module_name(path)
    pkg = me if path.name == "__init__.py" else me.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(pkg.split(".")[: len(pkg.split(".")) - node.level + 1] + [base])
            names = [base] + [f"{base}.{a.name}" for a in node.names]
        for n in names:
            while n and n not in modules:
                n = n.rsplit(".", 1)[0] if "." in n else ""
            if n and n != me:
                found.add(n)
    return found


def _graph() -> dict[str, set[str]]:
    files = [p for p in SRC.rglob("*.py")]
    modules = {_module_name(p) for p in files}
    return {_module_name(p): _imports(p, modules) for p in files}


def test_no_import_cycles_between_modules() -> None:
    graph = _graph()
    # packages' __init__ re-export their children; an edge child -> package is not a cycle
    edges = {m: {d for d in deps if not m.startswith(d + ".")} for m, deps in graph.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
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
    assert not cycles, f"import cycles: {cycles}"


def test_evaluation_and_retrieval_depend_only_on_the_protocol() -> None:
    graph = _graph()
    bad = {
        m: sorted(d for d in deps if d.startswith("calbio.models") and d not in PROTOCOL_ONLY)
        for m, deps in graph.items()
        if m.startswith(("calbio.evaluation", "calbio.retrieval"))
    }
    assert not {m: d for m, d in bad.items() if d}, bad
