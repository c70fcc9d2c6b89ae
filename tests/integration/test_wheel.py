"""The wheel as a user installs it: built from this checkout, installed (not editable) into a fresh
venv, run from another folder. It must carry the worked example and the JSON Schema, and
`kbgraph demo` must work there.

Quick and offline: the wheel is built without build isolation and installed with ``--no-deps``;
the fresh venv borrows the dependencies of the running interpreter through a ``.pth`` line.
"""

from __future__ import annotations

import os
import site
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def _run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=240)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """bin/ of a fresh venv holding the kbgraph wheel (and only that)."""
    base = tmp_path_factory.mktemp("wheel")
    dist = base / "dist"
    built = _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                  "-w", str(dist), str(ROOT)], cwd=base)
    assert built.returncode == 0, built.stderr
    wheel = next(dist.glob("kbgraph-*.whl"))
    venv = base / "venv"
    made = _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=base)
    assert made.returncode == 0, made.stderr
    py = venv / "bin" / "python"
    put = _run([sys.executable, "-m", "pip", "--python", str(py), "install", "-q", "--no-deps", str(wheel)], cwd=base)
    assert put.returncode == 0, put.stderr
    # the dependencies: the running interpreter's site-packages, after the venv's own (a plain
    # path line, so the checkout's editable-install hook there is not run)
    own = _run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=base).stdout.strip()
    deps = {sysconfig.get_paths()["purelib"], *site.getsitepackages()}
    (Path(own) / "zz_kbgraph_test_deps.pth").write_text("\n".join(sorted(deps)) + "\n")
    return venv / "bin"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KBGRAPH_", "NEO4J_", "PYTHON"))}
    env.update(COLUMNS="160", **extra)
    return env


def test_the_wheel_carries_the_example_and_the_schema(installed: Path, tmp_path: Path) -> None:
    where = _run([str(installed / "python"), "-c",
                  "import kbgraph, kbgraph.cli.demo as d; print(kbgraph.__file__); print(d.example_folder())"],
                 cwd=tmp_path, env=_env())
    assert where.returncode == 0, where.stderr
    package_file, example = where.stdout.split()
    venv = installed.parent
    assert Path(package_file).is_relative_to(venv), "the test imported the checkout, not the wheel"
    assert Path(example) == Path(package_file).parent / "examples"
    assert {p.name for p in Path(example).iterdir()} >= {"kb.yaml", "kb.sql", "kb-changes.jsonl"}
    assert (Path(package_file).parent / "schema" / "mapping.schema.json").is_file()

    checked = _run([str(installed / "kbgraph"), "validate", "--mappings", example], cwd=tmp_path, env=_env())
    assert checked.returncode == 0, checked.stderr
    assert "ok" in checked.stdout and "rule(s)" in checked.stdout  # kb.sql found beside kb.yaml: columns checked


def test_demo_runs_from_another_folder(installed: Path, tmp_path: Path, graph, graph_server) -> None:
    env = _env(NEO4J_URI=graph_server.uri, NEO4J_USERNAME=graph_server.user,
               NEO4J_PASSWORD=graph_server.password, NEO4J_DATABASE=graph_server.database)
    demo = _run([str(installed / "kbgraph"), "demo"], cwd=tmp_path, env=env)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "who works where" in demo.stdout and "done" in demo.stdout
    assert graph_server.password not in demo.stdout + demo.stderr
    n = graph.execute_query("MATCH (p:Person) RETURN count(p) AS n", database_=graph_server.database).records[0]["n"]
    assert n > 0
