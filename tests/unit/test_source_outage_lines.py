"""Pure logic: a source's outage watch (binlog reconnects, kafka-python), kafka-python's per-attempt
log lines let through once a minute, and the graph's errors as one line (the auth rate limit)."""

from __future__ import annotations

import logging

import pytest
from neo4j.exceptions import AuthError, Neo4jError

from kbgraph.errors import KbgraphError
from kbgraph.outage import OncePerLogger, OutageWatch


class Clock:
    def __init__(self) -> None:
        self.t = 500.0

    def __call__(self) -> float:
        return self.t


def test_a_source_outage_is_logged_once_per_interval_shown_and_ended(caplog):
    clock, shown = Clock(), []
    watch = OutageWatch("MySQL at db:3306 (binlog)", log_every_s=60, clock=clock,
                        on_change=lambda o: shown.append(None if o is None else o.attempts))
    with caplog.at_level(logging.WARNING, logger="kbgraph.outage"):
        for _ in range(30):  # an attempt every 5 s for 150 s
            watch.lost("error 2003: Can't connect", resume="binlog.000001:1234")
            clock.t += 5
        watch.back()
        watch.back()  # no outage: nothing
    msgs = [r.getMessage() for r in caplog.records]
    assert msgs[0] == ("MySQL at db:3306 (binlog) is unreachable (error 2003: Can't connect); waiting for it "
                       "without limit, then carrying on from binlog.000001:1234")
    assert sum(m.startswith("still waiting for MySQL at db:3306 (binlog) since") for m in msgs) == 2  # at 60 s, 120 s
    assert msgs[-1].startswith("MySQL at db:3306 (binlog) is back after 150 s (30 attempt(s))")
    assert len(msgs) == 4
    assert shown == list(range(1, 31)) + [None]
    assert watch.current is None and watch.outages == 1


def test_a_source_outage_longer_than_the_limit_ends_the_run():
    clock = Clock()
    watch = OutageWatch("Kafka at k:9092", max_wait_s=20, clock=clock)
    watch.lost("no connection to any broker")
    clock.t += 20
    watch.lost("no connection to any broker")  # exactly the limit: still waiting
    clock.t += 1
    with pytest.raises(KbgraphError, match=r"Kafka at k:9092 has been unreachable for 21 s, longer than the outage "
                                           r"limit of 20 s \(KBGRAPH_OUTAGE_MAX_S\)"):
        watch.lost("no connection to any broker")


def test_kafka_python_lines_pass_once_a_minute_per_logger():
    clock = Clock()
    quiet = OncePerLogger("kafka.", 60, clock=clock)

    def rec(name: str) -> logging.LogRecord:
        return logging.LogRecord(name, logging.ERROR, __file__, 1, "Connection failed: 111 ECONNREFUSED", None, None)

    passed = []
    for _ in range(20):  # every 2 s for 40 s, from two loggers
        passed += [quiet.filter(rec("kafka.net.manager")), quiet.filter(rec("kafka.cluster"))]
        clock.t += 2
    assert passed.count(True) == 2 and quiet.dropped == 38
    clock.t += 60
    assert quiet.filter(rec("kafka.net.manager"))
    assert quiet.filter(rec("kbgraph.pipeline")) and quiet.filter(rec("kbgraph.pipeline"))  # others untouched


RATE = "Neo.ClientError.Security.AuthenticationRateLimit"


def _neo4j_error(code: str, message: str) -> Neo4jError:
    return Neo4jError._hydrate_neo4j(code=code, message=message)


def test_the_graphs_auth_rate_limit_is_one_line_with_exit_2(monkeypatch, capsys):
    import kbgraph.cli as cli

    error = _neo4j_error(RATE, "The client has provided incorrect authentication details too many times in a row.")
    assert error.code == RATE  # the driver has no class of its own for it: a ClientError with this code
    line = cli.graph_error_line(error)
    assert line.startswith("the graph refused the login: wrong credentials too many times in a row")
    assert RATE in line and "\n" not in line

    def boom() -> None:
        raise error

    monkeypatch.setattr(cli, "app", boom)
    with pytest.raises(SystemExit) as exit_:
        cli.main()
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.strip().count("\n") == 0 and "Traceback" not in err and "too many times in a row" in err


def test_other_graph_errors_are_one_line_too():
    import kbgraph.cli as cli

    assert cli.graph_error_line(AuthError("bad")) == "the graph refused the credentials: check NEO4J_USERNAME / NEO4J_PASSWORD"
    line = cli.graph_error_line(_neo4j_error("Neo.ClientError.Statement.SyntaxError", "Invalid input\n  line 2\n  ^"))
    assert "\n" not in line and line.startswith("the graph: CypherSyntaxError:")


def test_an_integer_beyond_64_bits_is_read_exactly_and_refused_not_rounded(tmp_path):
    from kbgraph.change import Change
    from kbgraph.errors import ChangeError
    from kbgraph.mapping import compile_mappings
    from kbgraph.sink.writer import dead_letter_row
    from kbgraph.sources.jsonl import parse_line

    huge = 2**70 + 1
    assert parse_line(b'{"table": "t", "op": "insert", "after": {"id": 1, "n": %d}}' % huge, "x")["after"]["n"] == huge
    assert parse_line(b'{"table": "t", "op": "insert", "after": {"id": 1, "s": "12345678901234567890"}}', "x")["after"]["s"] \
        == "12345678901234567890"
    f = tmp_path / "m.yaml"
    f.write_text("entities:\n  - table: t\n    label: T\n    key: [id]\n    properties: {n: n}\n", encoding="utf-8")
    mapping = compile_mappings([f])
    change = Change("t", "insert", None, {"id": 1, "n": huge})
    with pytest.raises(ChangeError, match="outside the graph's 64-bit integer range"):
        mapping.translate(change)
    assert mapping.translate(Change("t", "insert", None, {"id": 1, "n": 2**63 - 1}))[0].row["p"] == {"n": 2**63 - 1}
    assert str(huge) in dead_letter_row(change, "why")["change"]  # the dead letter keeps it exactly


def test_a_kafka_request_that_meets_the_outage_is_waited_out_not_a_failure():
    """A metadata or commit request during a broker outage raises a connection error: part of the outage."""
    from kafka.errors import KafkaConnectionError, UnknownTopicOrPartitionError

    from kbgraph.errors import SourceError
    from kbgraph.sources.kafka.brokers import BrokerWatch, is_connection_error

    assert is_connection_error(KafkaConnectionError("111 ECONNREFUSED"))
    assert not is_connection_error(UnknownTopicOrPartitionError())

    from kbgraph.sources import StandaloneContext

    w = BrokerWatch("127.0.0.1:1", 0.0, StandaloneContext())
    w.down()  # the first sign: not an outage yet (a reconnect shorter than GRACE_S)
    w._down_since -= 5
    w.down()  # an outage now: waited for, logged
    later = w.watch.clock() + 10
    w.watch.clock = lambda: later
    with pytest.raises(SourceError, match="Kafka at 127.0.0.1:1"):
        w.down()  # past KBGRAPH_OUTAGE_MAX_S (0 here): the run ends with one line
