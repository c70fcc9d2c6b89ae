"""Fixtures for every test: the real servers, each started lazily (only when a test asks for it).

Graph:  ``graph_server`` / ``graph_driver`` (session), ``graph`` (function: an emptied graph).
        ``KBGRAPH_TEST_NEO4J_URI`` (+ ``_USER``, ``_PASSWORD``, ``_DATABASE``) selects a real Neo4j;
        otherwise an embedded ArcadeDB runs for the session as a stand-in.
MySQL:  ``mysql_url`` (session; ``KBGRAPH_TEST_MYSQL_URL``), ``mysql_db`` (function: a fresh database).
Kafka:  ``kafka_bootstrap`` (session; ``KBGRAPH_TEST_KAFKA``, else a Tansu broker), ``kafka_is_stand_in``.

Markers: ``needs_neo4j`` / ``needs_real_kafka`` skip a test on the stand-ins; give the missing
feature as the marker's argument, e.g. ``@pytest.mark.needs_neo4j("multiple databases")``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

# ``from tests.support…`` works because pyproject.toml's ``pythonpath = ["."]`` puts the repo root on the
# path, whichever way pytest was started (``pytest``, ``python -m pytest``, from any folder)
from tests.support.mysql import FIX as MYSQL_FIX
from tests.support.mysql import binlog_problems, mysql_connect, mysql_test_url, redact

if TYPE_CHECKING:  # importing these eagerly would slow unit-test runs
    import neo4j

    from tests.support.graph import GraphServer

KAFKA_ENV = "KBGRAPH_TEST_KAFKA"


def _graph_is_stand_in() -> bool:
    return not os.environ.get("KBGRAPH_TEST_NEO4J_URI")


def _kafka_is_stand_in() -> bool:
    return not os.environ.get(KAFKA_ENV)


def pytest_configure(config: pytest.Config) -> None:
    # kafka-python reads its protocol schemas with a deprecated importlib call, hundreds of times
    config.addinivalue_line(
        "filterwarnings", r"ignore:(read_text|open_text) is deprecated:DeprecationWarning"
    )


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip what a stand-in cannot do; decided from the environment, so no server starts for it."""
    for marker_name, stand_in, who, env in (
        ("needs_neo4j", _graph_is_stand_in, "ArcadeDB stand-in", "KBGRAPH_TEST_NEO4J_URI"),
        ("needs_real_kafka", _kafka_is_stand_in, "Tansu stand-in", KAFKA_ENV),
    ):
        marker = item.get_closest_marker(marker_name)
        if marker is not None and stand_in():
            what = marker.args[0] if marker.args else marker.kwargs.get("reason", "this behaviour")
            pytest.skip(f"{who} lacks {what} (set {env} to run it)")


# -- graph ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def graph_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GraphServer]:
    from tests.support.graph import start_graph_server

    server = start_graph_server(tmp_path_factory.mktemp("arcadedb"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def graph_driver(graph_server: GraphServer) -> Iterator[neo4j.Driver]:
    import neo4j

    driver = neo4j.GraphDatabase.driver(graph_server.uri, auth=(graph_server.user, graph_server.password))
    try:
        driver.verify_connectivity()
        yield driver
    finally:
        driver.close()


@pytest.fixture
def graph(graph_server: GraphServer, graph_driver: neo4j.Driver) -> neo4j.Driver:
    """The driver, with every node and relationship deleted first (constraints stay)."""
    from tests.support.graph import reset_graph

    reset_graph(graph_driver, graph_server.database)
    return graph_driver


# -- MariaDB / MySQL -----------------------------------------------------------------------


@pytest.fixture(scope="session")
def mysql_url() -> str:
    """The server URL, after checking it answers and writes a full row-based binlog."""
    url = mysql_test_url()
    try:
        conn = mysql_connect(url)
    except Exception as e:  # noqa: BLE001 - any failure here means the same thing to the tester
        problem = str(e)
    else:
        problem = ""
    if problem:
        pytest.fail(f"MariaDB/MySQL at {redact(url)} does not answer ({problem}); start it (or set "
                    f"KBGRAPH_TEST_MYSQL_URL) and {MYSQL_FIX}", pytrace=False)
    try:
        problems = binlog_problems(conn)
    finally:
        conn.close()
    if problems:
        pytest.fail(f"MariaDB/MySQL at {redact(url)} is not set up for the binlog tests: "
                    f"{', '.join(problems)}; {MYSQL_FIX}", pytrace=False)
    return url


@pytest.fixture
def mysql_db(mysql_url: str) -> Iterator[str]:
    """A fresh, empty database ``kbt_<hex>``; dropped after the test."""
    name = f"kbt_{uuid.uuid4().hex[:12]}"
    conn = mysql_connect(mysql_url)
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci")
        yield name
    finally:
        try:
            with conn.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        finally:
            conn.close()


# -- Kafka ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def kafka_is_stand_in() -> bool:
    """True when ``kafka_bootstrap`` is the Tansu stand-in, not a real Kafka."""
    return _kafka_is_stand_in()


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``host:port`` of a Kafka: ``KBGRAPH_TEST_KAFKA``, else a Tansu broker for the session."""
    if not _kafka_is_stand_in():
        yield os.environ[KAFKA_ENV]
        return
    from tests.support.tansu import Tansu

    broker = Tansu(tmp_path_factory.mktemp("tansu")).start()
    try:
        yield broker.bootstrap
    finally:
        broker.stop()

