"""`kbgraph graph start | status | stop`: a background graph server a user can sync their own data into."""

from __future__ import annotations

import os
import re
from pathlib import Path

import neo4j
import pytest
from typer.testing import CliRunner

from kbgraph.cli.app import app
from kbgraph.embedded import embedded_available
from kbgraph.errors import KbgraphError
from kbgraph.processes import free_port

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not embedded_available(), reason="needs arcadedb-embedded"),
]
runner = CliRunner()


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"


def test_start_status_connect_stop(tmp_path: Path) -> None:
    data = tmp_path / "graph"
    bolt, http = free_port(), free_port()
    env = {"COLUMNS": "250"}
    pid = None
    started = runner.invoke(app, ["graph", "start", "--data", str(data), "--bolt-port", str(bolt),
                                  "--http-port", str(http)], env=env)
    try:
        assert started.exit_code == 0, started.output
        out = " ".join(started.output.split())
        uri = f"bolt://127.0.0.1:{bolt}"
        assert uri in out and "user root" in out and f"password is in {data.absolute() / 'root-password'}" in out
        password = (data / "root-password").read_text().strip()
        assert password not in started.output
        assert oct((data / "root-password").stat().st_mode & 0o777) == "0o600"
        pid = int(re.search(r"pid (\d+)", out).group(1))

        # what the printed instructions say: connect with the neo4j driver, write, read back
        with neo4j.GraphDatabase.driver(uri, auth=("root", password)) as driver:
            driver.execute_query("CREATE (:Poet {name: '李白'})", database_="neo4j")
        status = runner.invoke(app, ["graph", "status", "--data", str(data)], env=env)
        assert status.exit_code == 0, status.output
        assert "it answers: 1 node(s)" in status.output and password not in status.output

        again = runner.invoke(app, ["graph", "start", "--data", str(data), "--bolt-port", str(bolt)], env=env)
        assert again.exit_code == 0 and "already running" in again.output

        other = runner.invoke(app, ["graph", "start", "--data", str(tmp_path / "other"), "--bolt-port", str(bolt),
                                    "--http-port", str(free_port())], env=env)
        assert isinstance(other.exception, KbgraphError)
        assert str(other.exception) == (f"port {bolt} on 127.0.0.1 is in use (another server?); "
                                        "choose another with --bolt-port")
    finally:
        stopped = runner.invoke(app, ["graph", "stop", "--data", str(data)], env=env)
    assert stopped.exit_code == 0 and "stopped" in stopped.output, stopped.output
    assert pid is not None and _gone(pid)
    assert not (data / "graph.json").exists()
    after = runner.invoke(app, ["graph", "status", "--data", str(data)], env=env)
    assert after.exit_code == 1 and "no graph server runs" in after.output
    with pytest.raises(neo4j.exceptions.ServiceUnavailable):
        with neo4j.GraphDatabase.driver(f"bolt://127.0.0.1:{bolt}", auth=("root", password),
                                        connection_timeout=2) as driver:
            driver.verify_connectivity()
