"""A graph server a test may really stop and start again, on the same port and data.

On the stand-in: a separate ArcadeDB (the session's server stays up for the other tests) with
fixed ports and its own data directory; ``stop`` ends the server process (SIGTERM to its process
group), ``start`` runs it again on the same port over the same data. Against a real Neo4j
(``KBGRAPH_TEST_NEO4J_URI``), set ``KBGRAPH_TEST_NEO4J_STOP`` and ``KBGRAPH_TEST_NEO4J_START`` to
shell commands that stop and start it (e.g. ``docker stop neo4j`` / ``docker start neo4j``);
without them the outage tests are skipped.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import neo4j
import pytest

from kbgraph.embedded import EmbeddedGraph
from kbgraph.processes import free_port
from tests.support.graph import ENV_URI, graph_is_stand_in


class RestartableGraph:
    def __init__(self, tmp_dir: Path) -> None:
        self._embedded: EmbeddedGraph | None = None
        if graph_is_stand_in():
            self._embedded = EmbeddedGraph(tmp_dir, bolt_port=free_port(), http_port=free_port()).start()
            g = self._embedded
            self.uri, self.user, self.password, self.database = g.uri, g.user, g.password, g.database
        else:
            self._stop_cmd = os.environ.get("KBGRAPH_TEST_NEO4J_STOP")
            self._start_cmd = os.environ.get("KBGRAPH_TEST_NEO4J_START")
            if not (self._stop_cmd and self._start_cmd):
                pytest.skip("stopping a real Neo4j needs KBGRAPH_TEST_NEO4J_STOP and KBGRAPH_TEST_NEO4J_START")
            self.uri = os.environ[ENV_URI]
            self.user = os.environ.get("KBGRAPH_TEST_NEO4J_USER", "neo4j")
            self.password = os.environ.get("KBGRAPH_TEST_NEO4J_PASSWORD", "")
            self.database = os.environ.get("KBGRAPH_TEST_NEO4J_DATABASE", "neo4j")

    def driver(self) -> neo4j.Driver:
        return neo4j.GraphDatabase.driver(self.uri, auth=(self.user, self.password))

    def stop(self) -> None:
        if self._embedded is not None:
            self._embedded.stop()
        else:
            subprocess.run(self._stop_cmd, shell=True, check=True)

    def start(self, timeout: float = 120) -> None:
        """Start again; return once a session answers."""
        if self._embedded is not None:
            self._embedded.start(timeout)
            return
        subprocess.run(self._start_cmd, shell=True, check=True)
        deadline = time.monotonic() + timeout
        with self.driver() as d:
            while True:
                try:
                    d.verify_connectivity()
                    return
                except Exception:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.5)

    def close(self) -> None:
        if self._embedded is not None:
            self._embedded.stop()
