"""The import layers of the package, read from the source with ``ast`` (nothing is imported).

- no import cycle among modules at module level (what runs when a module is first imported:
  top-level imports, and a submodule import runs its packages' ``__init__`` first);
- ``kbgraph.graph`` never imports ``kbgraph.mapping`` (the mapping compiles to graph operations,
  not the reverse), not even inside a function or for type checking;
- the pure translation core (``kbgraph.mapping``, ``kbgraph.change``) imports no driver or client
  (neo4j, pymysql, kafka, pymysqlreplication), directly or through another kbgraph module.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "kbgraph"
CLIENTS = ("neo4j", "pymysql", "kafka", "pymysqlreplication")
CORE = ("kbgraph.mapping", "kbgraph.change")
# Known exceptions, each with its reason; the test fails when one is no longer needed, so the list
# only shrinks. ``neo4j.time.Duration`` is the graph's value type for a TIME column beyond a day
# (``mapping/convert_values.py``); importing it loads the ``neo4j`` package, but no connection is made.
ALLOWED = {("kbgraph.mapping.convert_values", "neo4j.time")}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _absolute(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    is_package = MODULES.get(module, Path()).name == "__init__.py"
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


class _Imports(ast.NodeVisitor):
    """Every imported module name, with whether the import runs when the module is imported."""

    def __init__(self, module: str) -> None:
        self.module = module
        self.found: list[tuple[str, bool]] = []
        self.depth = 0  # > 0 inside a function body or an ``if TYPE_CHECKING:`` block

    def _deferred(self, node: ast.AST) -> None:
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _deferred

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node.test):
            self.depth += 1
            for child in node.body:
                self.visit(child)
            self.depth -= 1
            for child in node.orelse:
                self.visit(child)
        else:
            self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.found.append((alias.name, self.depth == 0))

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = _absolute(self.module, node)
        for alias in node.names:
            sub = f"{base}.{alias.name}"
            # ``from pkg import sub`` imports the submodule ``pkg.sub`` when there is one
            self.found.append((sub if sub in MODULES else base, self.depth == 0))


def _imports(module: str) -> list[tuple[str, bool]]:
    visitor = _Imports(module)
    visitor.visit(ast.parse(MODULES[module].read_text(encoding="utf-8"), filename=str(MODULES[module])))
    return visitor.found


IMPORTS = {m: _imports(m) for m in MODULES}


def _loaded(name: str) -> list[str]:
    """The kbgraph modules importing ``name`` runs: each package on the way, then the module."""
    parts = name.split(".")
    return [m for m in (".".join(parts[:i]) for i in range(1, len(parts) + 1)) if m in MODULES]


def _eager_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module, found in IMPORTS.items():
        # a module's own packages are always initialised (or initialising) before it runs: an
        # import of one of them is no edge (a package ``__init__`` importing its submodules is fine)
        own = set(_loaded(module))
        edges = {m for name, eager in found if eager for m in _loaded(name)} - own
        graph[module] = edges
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            nxt = next(edges, None)
            if nxt is not None:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph.get(nxt, ())))))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    m = stack.pop()
                    on_stack.discard(m)
                    component.append(m)
                    if m == node:
                        break
                if len(component) > 1:
                    out.append(sorted(component))
    return out


def test_the_parser_sees_the_known_imports():
    # guards the checks below against reading nothing
    assert len(MODULES) > 30
    assert ("kbgraph.graph.ops", True) in IMPORTS["kbgraph.mapping.rules"]
    assert ("kbgraph.mapping.loader", True) in IMPORTS["kbgraph.mapping.rules"] or \
        ("kbgraph.mapping.loader", False) in IMPORTS["kbgraph.mapping.rules"]
    assert ("kbgraph.mapping.loader", False) in IMPORTS["kbgraph.mapping"]  # inside compile_mappings


def test_cycle_finder_finds_a_cycle_through_a_package():
    graph = {"a": {"a.x"}, "a.x": {"b"}, "b": {"a"}, "c": {"a"}}
    assert _cycles(graph) == [["a", "a.x", "b"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_module_level_import_cycle():
    cycles = _cycles(_eager_graph())
    assert not cycles, "module-level import cycles:\n" + "\n".join(" ↔ ".join(c) for c in cycles)


def test_graph_does_not_import_mapping():
    bad = sorted({(m, name) for m, found in IMPORTS.items() if _within(m, "kbgraph.graph")
                  for name, _ in found if _within(name, "kbgraph.mapping")})
    assert not bad, f"kbgraph.graph imports kbgraph.mapping: {bad}"


def _reach(start: str) -> dict[str, str]:
    """Every module ``start`` imports (at any depth, any kind of import) → a module that imports it."""
    seen: dict[str, str] = {}
    todo = [start]
    while todo:
        module = todo.pop()
        for name, _ in IMPORTS.get(module, []):
            if (module, name) in ALLOWED:
                continue
            for m in [*_loaded(name), name]:
                if m not in seen and m != start:
                    seen[m] = module
                    if m in MODULES:
                        todo.append(m)
    return seen


@pytest.mark.parametrize("core", [m for m in MODULES if any(_within(m, c) for c in CORE)])
def test_translation_core_imports_no_client(core):
    reached = _reach(core)
    bad = sorted(f"{name} (imported by {reached[name]})" for name in reached
                 if any(_within(name, client) for client in CLIENTS))
    assert not bad, f"{core} reaches a client library: {bad}"


def test_allowed_client_imports_are_still_there():
    for module, name in ALLOWED:
        assert name in {n for n, _ in IMPORTS[module]}, f"{module} no longer imports {name}: drop it from ALLOWED"
