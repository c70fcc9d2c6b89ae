"""The shape of the test tree: a module under tests/ imports shared helpers from ``tests.support``, never
from a test module (``test_*``) nor from ``tests.unit`` / ``tests.integration``."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def forbidden_imports(source: str) -> list[str]:
    """The modules ``source`` imports (at any depth: module level or inside a function) that a test
    module must not import."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            names = [base] if node.module else [f"{base}{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            parts = name.lstrip(".").split(".")
            if (name.startswith(".")  # relative: a sibling of a test module
                    or any(part.startswith("test_") for part in parts)
                    or name.startswith(("tests.unit", "tests.integration"))):
                found.append(name)
    return found


def test_the_layout_check_sees_each_kind_of_forbidden_import():
    assert forbidden_imports("from tests.integration.test_binlog_e2e import kb_setup") == [
        "tests.integration.test_binlog_e2e"]
    assert forbidden_imports("def f():\n    from tests.unit.test_x import _y\n") == ["tests.unit.test_x"]
    assert forbidden_imports("import test_jsonl_source") == ["test_jsonl_source"]
    assert forbidden_imports("from tests.integration import binlog_support") == ["tests.integration"]
    assert forbidden_imports("from . import helpers") == [".helpers"]
    assert forbidden_imports("from tests.support.binlog import sql\nimport pytest\nimport kbgraph.cli") == []


def test_no_test_module_imports_another_test_module():
    """Nor does a support module or a conftest: they are what the test modules share."""
    modules = sorted(p for p in TESTS.rglob("*.py") if "fixtures" not in p.relative_to(TESTS).parts)
    names = {p.relative_to(TESTS).as_posix() for p in modules}
    assert {"unit/test_test_layout.py", "integration/test_binlog_e2e.py", "support/binlog.py", "conftest.py"} <= names
    bad = {str(p.relative_to(TESTS.parent)): found for p in modules
           if (found := forbidden_imports(p.read_text(encoding="utf-8")))}
    assert not bad, f"modules importing test modules (move what they share into tests/support/): {bad}"


def private_imports(source: str) -> list[str]:
    """``module.name`` for every underscored name ``source`` imports from kbgraph."""
    return [f"{node.module}.{alias.name}" for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "kbgraph"
            for alias in node.names if alias.name.startswith("_")]


def test_tests_use_kbgraph_by_its_public_names():
    assert private_imports("from kbgraph.sink.writer import _row, TRANSIENT\nfrom os import _exit") == ["kbgraph.sink.writer._row"]
    root = TESTS.parent
    modules = [p for d in ("tests", "bench") for p in (root / d).rglob("*.py") if "fixtures" not in p.parts]
    bad = {str(p.relative_to(root)): found for p in modules if (found := private_imports(p.read_text(encoding="utf-8")))}
    assert not bad, f"tests importing kbgraph's private names (test through the public API, or make it public): {bad}"


def test_every_test_module_has_its_own_name():
    """tests/unit and tests/integration are not packages: pytest imports a test module by its file name,
    so two ``test_x.py`` in different folders make the second fail to collect."""
    seen: dict[str, str] = {}
    clashes = []
    for p in sorted(TESTS.rglob("test_*.py")):
        if "fixtures" in p.relative_to(TESTS).parts:
            continue
        where = p.relative_to(TESTS).as_posix()
        if p.name in seen:
            clashes.append((seen[p.name], where))
        seen.setdefault(p.name, where)
    assert not clashes, f"test modules sharing a file name: {clashes}"
