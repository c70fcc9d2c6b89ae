"""The graph server the tests talk to: a real Neo4j from the environment, or the ArcadeDB stand-in."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kbgraph.embedded import EmbeddedGraph
from kbgraph.sink.target import GraphTarget
from kbgraph.verify import reset_graph  # noqa: F401  (re-exported for the tests)

ENV_URI = "KBGRAPH_TEST_NEO4J_URI"


@dataclass
class GraphServer:
    uri: str
    user: str
    password: str = field(repr=False)
    database: str
    is_stand_in: bool
    embedded: EmbeddedGraph | None = field(default=None, repr=False)

    def stop(self) -> None:
        if self.embedded is not None:
            self.embedded.stop()


def graph_is_stand_in() -> bool:
    """True when the tests use the ArcadeDB stand-in (decided from the environment, starts nothing)."""
    return not os.environ.get(ENV_URI)


def start_graph_server(tmp_dir: Path) -> GraphServer:
    """A real Neo4j when ``KBGRAPH_TEST_NEO4J_URI`` is set, else an ``EmbeddedGraph`` in ``tmp_dir``."""
    if not graph_is_stand_in():
        return GraphServer(
            uri=os.environ[ENV_URI],
            user=os.environ.get("KBGRAPH_TEST_NEO4J_USER", "neo4j"),
            password=os.environ.get("KBGRAPH_TEST_NEO4J_PASSWORD", ""),
            database=os.environ.get("KBGRAPH_TEST_NEO4J_DATABASE", "neo4j"),
            is_stand_in=False,
        )
    g = EmbeddedGraph(tmp_dir).start()
    return GraphServer(g.uri, g.user, g.password, g.database, is_stand_in=True, embedded=g)


def target_of(server: Any) -> GraphTarget:
    """The pipeline's target on ``server`` (anything with ``uri``, ``user``, ``password``, ``database``)."""
    return GraphTarget(server.uri, server.user, server.password, server.database)
