"""The import graph of resnet_viz, read from the source with ``ast`` (imports at module level and inside functions):
no two modules import each other, even through others; neither do two subpackages (``resnet_viz.explain``,
``resnet_viz.render``, ...; a top-level module such as ``resnet_viz.data`` is its own node); and nothing in the
package imports Streamlit or the app's ``ui`` and ``pages``, so that it works from a notebook.

A package's own ``__init__`` counts only where it is imported by name (``from resnet_viz.i18n import t``), not
as the parent every submodule's import runs first. Imports by string (``importlib.import_module``) are not seen.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path

from tests.conftest import ROOT

PACKAGE = "resnet_viz"
APP_ONLY = ("streamlit", "ui", "pages")  # what resnet_viz never imports


@cache
def _modules() -> dict[str, Path]:
    """Dotted name -> file of every module of the package (a package by its ``__init__``)."""
    out = {}
    for path in sorted((ROOT / PACKAGE).rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _imports(name: str, path: Path) -> Iterable[tuple[str, int]]:
    """(imported dotted name, line) of every import statement in the file, relative ones made absolute."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
                base = ".".join(package[:len(package) - node.level + 1] + ([base] if base else []))
            for alias in node.names:
                yield f"{base}.{alias.name}", node.lineno  # a submodule if there is one, else a name in ``base``


def _owner(dotted: str) -> str | None:
    """The package's module that ``dotted`` (a module, or a name in one) belongs to; None outside the package."""
    modules = _modules()
    while dotted and dotted not in modules:
        dotted = dotted.rpartition(".")[0]
    return dotted or None


@cache
def _graph() -> dict[str, dict[str, int]]:
    """module -> {module it imports: first line}, within the package."""
    graph: dict[str, dict[str, int]] = {}
    for name, path in _modules().items():
        edges = graph.setdefault(name, {})
        for imported, line in _imports(name, path):
            target = _owner(imported)
            if target is not None and target != name:
                edges.setdefault(target, line)
    return graph


def _subpackage(module: str) -> str:
    """resnet_viz.explain.attribution -> resnet_viz.explain; resnet_viz.data -> itself; resnet_viz -> itself."""
    return ".".join(module.split(".")[:2])


def _cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan), each sorted: every cycle lies in one."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def _explain(cycle: list[str], group=lambda m: m) -> list[str]:
    """The imports that close ``cycle`` (nodes grouped by ``group``), as "file:line a -> b"."""
    files, members = _modules(), set(cycle)
    return [f"{files[a].relative_to(ROOT)}:{line} {a} -> {b}"
            for a, edges in sorted(_graph().items()) for b, line in sorted(edges.items())
            if group(a) in members and group(b) in members and group(a) != group(b)]


def test_the_reader_sees_imports_at_every_level():
    graph = _graph()
    assert "resnet_viz.inspect.hooks" in graph["resnet_viz.explain.attribution"]  # module level
    assert "resnet_viz.models.imagenet" in graph["resnet_viz.models.registry"]  # inside a function
    assert "resnet_viz.explain.attribution" in graph["resnet_viz.explain.methods"]  # from a package, a submodule
    assert "resnet_viz.i18n" in graph["resnet_viz.render.plots.attribution"]  # from a package, a name in it


def test_cycles_are_found():
    assert _cycles({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}) == [["a", "b", "c"]]
    assert _cycles({"a": ["b"], "b": [], "c": ["c"]}) == []


def test_no_module_imports_itself_through_others():
    cycles = _cycles(_graph())
    assert not cycles, [_explain(c) for c in cycles]


def test_no_subpackage_imports_itself_through_others():
    packages: dict[str, set[str]] = {}
    for module, edges in _graph().items():
        mine = packages.setdefault(_subpackage(module), set())
        mine.update(_subpackage(b) for b in edges if _subpackage(b) != _subpackage(module))
    cycles = _cycles(packages)
    assert not cycles, [_explain(c, _subpackage) for c in cycles]


def test_the_package_never_imports_the_app():
    found = [f"{path.relative_to(ROOT)}:{line} {imported}" for name, path in _modules().items()
             for imported, line in _imports(name, path) if imported.split(".")[0] in APP_ONLY]
    assert not found, found
