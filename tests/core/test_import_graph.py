"""The import graph of ``harness``, ``methods`` and ``reports`` has no cycle, and the engine does not climb.

Every ``import``/``from ... import`` statement is counted: function-level (lazy) imports, so a
circle that only closes at run time still fails here, and the bodies of ``if TYPE_CHECKING:``
blocks, so not even a type-only circle is allowed (a module that needs a type from above it takes
a structural Protocol or ``Any`` instead).  Edges are between modules of the repository;
third-party imports are ignored.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: repository directory -> the package name it is installed as
PACKAGES = {"harness": "harness", "methods": "harness_methods", "reports": "harness_reports"}


def _modules() -> dict[str, Path]:
    mods: dict[str, Path] = {}
    for directory, package in PACKAGES.items():
        for path in sorted((ROOT / directory).rglob("*.py")):
            rel = path.relative_to(ROOT / directory).with_suffix("")
            parts = [package, *rel.parts]
            if parts[-1] == "__init__":
                parts = parts[:-1]
            mods[".".join(parts)] = path
    return mods


def _resolve(name: str, mods: dict[str, Path]) -> str | None:
    """The longest repository module that ``name`` (a dotted import target) falls in."""
    parts = name.split(".")
    while parts:
        cand = ".".join(parts)
        if cand in mods:
            return cand
        parts.pop()
    return None


def import_graph() -> dict[str, set[str]]:
    mods = _modules()
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for mod, path in mods.items():
        is_pkg = path.name == "__init__.py"
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = mod.split(".") if is_pkg else mod.split(".")[:-1]
                    base = base[: len(base) - (node.level - 1)]
                    prefix = ".".join(base + ([node.module] if node.module else []))
                else:
                    prefix = node.module or ""
                # `from pkg import sub` may name a submodule: count it when it exists
                targets = [f"{prefix}.{a.name}" if f"{prefix}.{a.name}" in mods else prefix for a in node.names]
            for t in targets:
                dst = _resolve(t, mods)
                if dst is not None and dst != mod:
                    graph[mod].add(dst)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
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


def test_graph_sees_known_edges():
    g = import_graph()
    assert "harness.config" in g["harness.engine"]  # a top-level import
    assert any(dst.startswith("harness.") for dst in g["harness_methods.ot_distill"])


def test_no_import_cycle():
    cycles = _cycles(import_graph())
    assert not cycles, "import cycles (modules in one strongly connected component): " + "; ".join(
        " <-> ".join(c) for c in cycles
    )


def test_type_checking_and_lazy_imports_count(tmp_path, monkeypatch):
    """A type-only import and a function-level one are edges like any other."""
    pkg = tmp_path / "harness"
    pkg.mkdir()
    (pkg / "a.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from harness import b\n")
    (pkg / "b.py").write_text("def f():\n    import harness.a\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    monkeypatch.setattr(sys.modules[__name__], "PACKAGES", {"harness": "harness"})
    g = import_graph()
    assert g["harness.a"] == {"harness.b"} and g["harness.b"] == {"harness.a"}
    assert _cycles(g) == [["harness.a", "harness.b"]]


def test_cells_are_the_bottom_floor():
    """``harness.cells`` (CellSpec, CellDone, CellFailed) imports nothing of the repository."""
    assert import_graph()["harness.cells"] == set()


def test_cycle_detector_finds_a_planted_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_engine_does_not_import_methods_or_reports():
    g = import_graph()
    climbing = sorted(
        (src, dst)
        for src, dsts in g.items()
        if src.startswith("harness")
        and not src.startswith(("harness_methods", "harness_reports"))
        and src != "harness.cli"
        for dst in dsts
        if dst.startswith(("harness_methods", "harness_reports"))
    )
    assert not climbing, f"engine modules importing methods/reports (only harness.cli may): {climbing}"
