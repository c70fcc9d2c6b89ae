"""KafkaSource's per-partition logic, without a broker: positions, skips, unmapped tables, dead letters."""

from __future__ import annotations

from collections import namedtuple

import orjson
import pytest

from kbgraph.errors import StopAtCheckpoint
from kbgraph.sources.kafka import KafkaSource
from kbgraph.sources.kafka.dlq import dead_letter_headers
from kbgraph.sources.kafka.message import Message

TP = namedtuple("TP", "topic partition")


class Mapped:
    """What the Kafka source reads of a compiled mapping: its rules per table, and its files (none here)."""

    files: list = []  # noqa: RUF012

    def rules_for(self, schema, table):
        return ["rule"] if table != "audit_log" else []


class Letters:
    def __init__(self) -> None:
        self.sent: list[tuple] = []

    def send(self, record, reason, stage, fmt, row=None):
        self.sent.append((record.offset, reason, stage, fmt, row))

    def close(self):
        pass


def native(table: str, i: int) -> bytes:
    return orjson.dumps({"table": table, "op": "insert", "after": {"id": i}})


def source(**kw) -> KafkaSource:
    s = KafkaSource("127.0.0.1:1", {"t": "auto"}, mapped=Mapped(), **kw)
    s.dlq = Letters()  # type: ignore[assignment]
    return s


def recs(values: list[bytes | None], start: int = 0) -> list[Message]:
    return [Message("t", 0, start + i, None, v) for i, v in enumerate(values)]


def test_positions_markers_unmapped_and_dead_letters() -> None:
    s = source()
    out = list(s._partition_changes(TP("t", 0), recs([native("a", 1), b"{oops", native("audit_log", 2), None, native("a", 3), None])))
    changes = [c for c in out if c.table]
    assert [c.after["id"] for c in changes] == [1, 3]
    assert [c.position for c in changes] == [{"kafka:t:0": 1}, {"kafka:t:0": 5}]
    # the trailing tombstone moves the checkpoint with a change no rule maps
    assert out[-1].table == "" and out[-1].position == {"kafka:t:0": 6} and out[-1].meta == {"position_only": True}
    assert s.dlq.sent == [(1, s.dlq.sent[0][1], "decode", "native", None)] and "not JSON" in s.dlq.sent[0][1]
    assert s.counts["unmapped"] == 1 and s.counts["tombstones"] == 2 and s.counts["dead_letters"] == 1


def test_no_marker_when_the_last_record_has_a_change() -> None:
    s = source()
    out = list(s._partition_changes(TP("t", 0), recs([None, native("a", 1)], start=10)))
    assert [c.position for c in out] == [{"kafka:t:0": 12}]


def test_resume_inside_a_multi_row_record_skips_committed_rows() -> None:
    s = source()
    canal = orjson.dumps({"type": "INSERT", "isDdl": False, "database": "kb", "table": "a", "mysqlType": {"id": "int"},
                          "data": [{"id": "1"}, {"id": "2"}, {"id": "3"}]})
    s._skip[TP("t", 0)] = (7, 2)
    out = list(s._partition_changes(TP("t", 0), recs([canal], start=7)))
    assert [c.after["id"] for c in out] == [3] and out[0].position == {"kafka:t:0": 8} and out[0].tx_end


def test_stop_policy_stops_at_an_undecodable_record() -> None:
    s = source(on_error="stop")
    with pytest.raises(StopAtCheckpoint, match=r"t\[0\]@1"):
        list(s._partition_changes(TP("t", 0), recs([native("a", 1), b"{oops"])))


def test_report_names_the_row_of_a_multi_row_record() -> None:
    s = source()
    canal = orjson.dumps({"type": "INSERT", "isDdl": False, "database": "kb", "table": "a", "mysqlType": {},
                          "data": [{"id": "1"}, {"id": "2"}]})
    first, second = s._partition_changes(TP("t", 0), recs([canal], start=4))
    s.report(first, "label outside the allow-list")
    s.report(first, "label outside the allow-list")  # the same record's row reported again: sent once
    s.report(second, "graph rejected it")
    assert s.dlq.sent == [(4, "label outside the allow-list", "map", "canal", 0), (4, "graph rejected it", "map", "canal", None)]


def test_dead_letter_headers_keep_the_originals_and_add_coordinates() -> None:
    rec = Message("orders", 3, 42, b"k", b"v", [("trace", b"abc")])
    headers = dict(dead_letter_headers(rec, "bad op", "decode", "debezium"))
    assert headers["trace"] == b"abc"
    assert headers["kbgraph.dlq.reason"] == b"bad op" and headers["kbgraph.dlq.stage"] == b"decode"
    assert (headers["kbgraph.dlq.topic"], headers["kbgraph.dlq.partition"], headers["kbgraph.dlq.offset"]) == (b"orders", b"3", b"42")


def test_a_key_change_written_as_delete_tombstone_create_is_joined_into_one_update() -> None:
    from kbgraph.change import Change
    from kbgraph.debezium.columns import SqlColumn as Column
    from kbgraph.debezium.envelope import EnvelopeWriter, TableInfo

    info = TableInfo("kb", "a", [Column("id", "int"), Column("name", "varchar")], ["id"])
    w = EnvelopeWriter()
    triple = w.records(Change("a", "update", {"id": 1, "name": "x"}, {"id": 2, "name": "x"}, {}, "kb"), info, 1)
    plain = w.records(Change("a", "insert", None, {"id": 9, "name": "y"}, {}, "kb"), info, 1)
    msgs = [Message("t", 0, i, k, v, h) for i, (k, v, h) in enumerate(triple + plain)]
    s = source()
    out = list(s._partition_changes(TP("t", 0), msgs))
    assert [(c.op, c.before and c.before["id"], c.after["id"]) for c in out] == [("update", 1, 2), ("insert", None, 9)]
    assert [c.position for c in out] == [{"kafka:t:0": 3}, {"kafka:t:0": 4}]
    # split over two polls: the delete waits (no position moves past it), then joins
    s = source()
    assert list(s._partition_changes(TP("t", 0), msgs[:2])) == []
    (u,) = s._partition_changes(TP("t", 0), msgs[2:3])
    assert u.op == "update" and u.position == {"kafka:t:0": 3}
    # a create that never comes here (another partition): the delete goes on alone once another record arrives
    s = source()
    assert list(s._partition_changes(TP("t", 0), msgs[:1])) == []
    d, i = s._partition_changes(TP("t", 0), msgs[3:4])
    assert (d.op, d.position, i.op) == ("delete", {"kafka:t:0": 1}, "insert")


class SeekingConsumer:
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def seek(self, tp, offset):
        self.calls.append(("seek", tp.partition, offset))

    def seek_to_beginning(self, *tps):
        self.calls.append(("start",) + tuple(tp.partition for tp in tps))


class Ctx:
    def __init__(self, cp) -> None:
        self.cp = cp
        self.flushes = 0

    def checkpoint(self):
        return self.cp

    def flush(self):
        self.flushes += 1


def test_assignment_seeks_to_the_graph_checkpoint_and_revoke_flushes_first() -> None:
    s = source()
    s.consumer = SeekingConsumer()
    s._ctx = Ctx({"kafka:t:0": 5, "kafka:t:1": [7, 2], "kafka:other:0": 99})
    s.partitions_assigned([TP("t", 0), TP("t", 1), TP("t", 2)])
    assert s.consumer.calls == [("seek", 0, 5), ("seek", 1, 7), ("start", 2)]
    assert s._skip == {TP("t", 1): (7, 2)} and s._owned == {TP("t", 0), TP("t", 1), TP("t", 2)}
    s._yielded[TP("t", 0)] = 6
    s.partitions_revoked([TP("t", 0)])
    assert s._ctx.flushes == 1 and TP("t", 0) not in s._owned and TP("t", 0) not in s._yielded
    s._closing = True
    s.partitions_revoked([TP("t", 1)])  # close() revokes too: the pipeline has already written all it will
    assert s._ctx.flushes == 1


def test_from_settings_names_what_is_missing_and_parses_topic_formats() -> None:
    from kbgraph.errors import KbgraphError, SourceError
    from kbgraph.settings import Settings
    from kbgraph.sources.kafka import from_settings

    with pytest.raises(SourceError, match="kafka_bootstrap"):
        from_settings(Settings(), Mapped())
    with pytest.raises(SourceError, match="kafka_topics"):
        from_settings(Settings(kafka_bootstrap="k:9092"), Mapped())
    with pytest.raises(KbgraphError, match="unknown format 'avro'"):
        from_settings(Settings(kafka_bootstrap="k:9092", kafka_topics=["a:avro"]), Mapped())
    s = from_settings(Settings(kafka_bootstrap="k:9092", kafka_topics=["a", "b:canal"], kafka_group="g",
                               kafka_consumer_options={"session_timeout_ms": 6000}), Mapped())
    assert s.topics == {"a": "auto", "b": "canal"} and s.dlq.topic == "g.dlq"
    assert s.consumer_options["session_timeout_ms"] == 6000 and s.consumer_options["auto_offset_reset"] == "earliest"
    assert s.consumer_options["metadata_max_age_ms"] == 5000 and s.consumer_options["allow_auto_create_topics"] is False
    assert s._merge.wait == 0.3
    s = from_settings(Settings(kafka_bootstrap="k:9092", kafka_topics=["a"], kafka_merge_wait_ms=1000,
                               kafka_consumer_options={"metadata_max_age_ms": 60_000}), Mapped())
    assert s._merge.wait == 1.0 and s.consumer_options["metadata_max_age_ms"] == 60_000  # a deployment's own choice wins


def test_rebalance_listener_is_async_only_where_the_client_offers_its_loop() -> None:
    import inspect
    import types

    from kbgraph.sources.kafka.rebalance import make_listener

    plain = make_listener(source(), object())  # no IO loop to yield to: the synchronous listener
    assert not inspect.iscoroutinefunction(plain.on_partitions_revoked)
    fake = types.SimpleNamespace(_coordinator=types.SimpleNamespace(_net=types.SimpleNamespace(sleep=lambda s: None)))
    async_ = make_listener(source(), fake)
    assert inspect.iscoroutinefunction(async_.on_partitions_revoked)
    s = source()
    s._ctx = Ctx({})
    s.consumer = SeekingConsumer()
    with pytest.raises(Exception):  # noqa: B017 - the listener re-raises and keeps the original for changes()
        plain.source = s
        s.partitions_assigned = lambda parts: (_ for _ in ()).throw(RuntimeError("graph down"))  # type: ignore[method-assign]
        plain.on_partitions_assigned([TP("t", 0)])
    assert isinstance(s._listener_error, RuntimeError)


def test_per_table_partitions_come_out_in_binlog_order_with_the_key_change_joined() -> None:
    """A relation that uses an entity's new key reaches the consumer first; the merge puts it after the key change."""
    from kbgraph.change import Change
    from kbgraph.debezium.columns import SqlColumn
    from kbgraph.debezium.envelope import EnvelopeWriter, TableInfo

    ent = TableInfo("kb", "entity", [SqlColumn("id", "int"), SqlColumn("name", "varchar")], ["id"])
    rel = TableInfo("kb", "relation", [SqlColumn("id", "int"), SqlColumn("src_id", "int")], ["id"])
    w = EnvelopeWriter()

    def at(pos: int) -> dict:
        return {"file": "mariadb-bin.000002", "pos": pos, "gtid": "0-1-1", "index": 0}

    entity = w.records(Change("entity", "insert", None, {"id": 1, "name": "a"}, at(100), "kb"), ent, 1) + \
        w.records(Change("entity", "update", {"id": 1, "name": "a"}, {"id": 2, "name": "a"}, at(300), "kb"), ent, 1)
    relation = w.records(Change("relation", "insert", None, {"id": 7, "src_id": 1}, at(200), "kb"), rel, 1) + \
        w.records(Change("relation", "insert", None, {"id": 8, "src_id": 2}, at(400), "kb"), rel, 1)
    E, R = TP("dbz.kb.entity", 0), TP("dbz.kb.relation", 0)
    em = [Message(E.topic, 0, i, k, v, h) for i, (k, v, h) in enumerate(entity)]
    rm = [Message(R.topic, 0, i, k, v, h) for i, (k, v, h) in enumerate(relation)]
    s = KafkaSource("127.0.0.1:1", {E.topic: "debezium", R.topic: "debezium"}, mapped=Mapped(), merge_wait_ms=300)
    s._owned = {E, R}
    s._merge.assign([E, R], 0.0)

    def described(changes) -> list[str]:
        return [f"{c.table} {c.op} {c.after['id']}" for c in changes]

    s._buffer(R, s._partition_changes(R, rm))  # the relation topic's fetch comes back first
    assert s._merge.release(0.0) == []  # the entity partition may hold earlier records
    s._buffer(E, s._partition_changes(E, em[:3]))  # the insert, then the key change's delete and tombstone
    assert described(s._merge.release(0.0)) == ["entity insert 1", "relation insert 7"]
    assert s._merge.release(50.0) == []  # the held delete keeps relation 8 (after it) back, however long
    s._clock = 50.0
    s._buffer(E, s._partition_changes(E, em[3:]))  # its create: joined into one update
    (update,) = s._merge.release(50.0)
    assert (update.op, update.before["id"], update.after["id"], update.position[f"kafka:{E.topic}:0"]) == ("update", 1, 2, 4)
    assert described(s._merge.release(50.3)) == ["relation insert 8"]


def _debezium_update(w, info, key: int, name: str, file: str, pos: int, snapshot: bool = False) -> list[Message]:
    from kbgraph.change import Change

    op = "read" if snapshot else "update"
    ch = Change("a", "insert" if snapshot else op, None if snapshot else {"id": key, "name": "?"}, {"id": key, "name": name},
                {"file": file, "pos": pos, "gtid": "0-1-1", "index": 0}, "kb")
    recs = w.records(ch, info, 1)
    if snapshot:  # the envelope writer streams; a snapshot record says so in its source block
        recs = [(k, v.replace(b'"snapshot":"false"', b'"snapshot":"true"'), h) for k, v, h in recs]
    return recs


def test_records_a_connector_writes_again_are_skipped_by_source_position() -> None:
    """Debezium delivers at least once: a restarted connector replays a stretch at new offsets.

    A record at the very position read last is taken: applied twice in a row, a change converges."""
    from kbgraph.debezium.columns import SqlColumn
    from kbgraph.debezium.envelope import EnvelopeWriter, TableInfo

    info = TableInfo("kb", "a", [SqlColumn("id", "int"), SqlColumn("name", "varchar")], ["id"])
    w = EnvelopeWriter()
    f1, f2 = "mariadb-bin.999999", "mariadb-bin.1000000"  # the file number grows a digit: still later
    first = [r for pos, name in ((100, "a"), (200, "b"), (300, "c")) for r in _debezium_update(w, info, 1, name, f1, pos)]
    replay = [r for pos, name in ((100, "a"), (200, "b")) for r in _debezium_update(w, info, 1, name, f1, pos)]
    later = _debezium_update(w, info, 1, "d", f2, 4)
    snap = _debezium_update(w, info, 1, "s", f1, 100, snapshot=True)
    assert b'"snapshot":"true"' in snap[0][1]
    msgs = [Message("t", 0, i, k, v, h) for i, (k, v, h) in enumerate(first + replay + later + snap)]
    s = KafkaSource("127.0.0.1:1", {"t": "debezium"}, mapped=Mapped())
    out = [c for c in s._partition_changes(TP("t", 0), msgs) if c.table]
    assert [c.after["name"] for c in out] == ["a", "b", "c", "d", "s"]  # the replayed a and b are not applied again
    assert s.counts["replayed"] == 2
    assert out[3].position == {"kafka:t:0": 6, "kafka:t:0@source": [0, f2, 4, 0, 0]}
    # after a restart, the position applied comes from the graph checkpoint
    s = KafkaSource("127.0.0.1:1", {"t": "debezium"}, mapped=Mapped())
    s.consumer = SeekingConsumer()
    s._ctx = Ctx({"kafka:t:0": 3, "kafka:t:0@source": [0, f1, 300, 0]})
    s.partitions_assigned([TP("t", 0)])
    out = [c for c in s._partition_changes(TP("t", 0), msgs[3:6]) if c.table]
    assert [c.after["name"] for c in out] == ["d"] and s.counts["replayed"] == 2
    # another server's positions (a failover) do not compare: taken
    s._replays.load(TP("t", 0), ["other", f2, 10**9, 0])
    assert [c.after["name"] for c in s._partition_changes(TP("t", 0), msgs[3:5]) if c.table] == ["a", "b"]
    # a binlog that was reset (RESET MASTER) numbers its files from 1 again: behind in position, but
    # committed later than what was read, so not a replay
    reset = [(k, v.replace(b'"ts_ms":0', b'"ts_ms":1700000000000'), h) for k, v, h in _debezium_update(w, info, 1, "r", "mariadb-bin.000001", 4)]
    s = KafkaSource("127.0.0.1:1", {"t": "debezium"}, mapped=Mapped())
    fresh = [Message("t", 0, i, k, v, h) for i, (k, v, h) in enumerate(first + reset)]
    assert [c.after["name"] for c in s._partition_changes(TP("t", 0), fresh) if c.table] == ["a", "b", "c", "r"]
    assert s.counts["replayed"] == 0


def test_replays_are_counted_once_in_the_sources_counts() -> None:
    s = source()
    guard = s._replays
    rec = Message("t", 0, 7, b"k", b"v", [])
    assert not guard.is_replay(TP("t", 0), rec, ("srv", "bin.000002", 100, 0, 1000))
    assert guard.is_replay(TP("t", 0), rec, ("srv", "bin.000001", 900, 0, 1000))  # behind, committed no later
    assert guard.is_replay(TP("t", 0), rec, ("srv", "bin.000002", 50, 0, 999))
    assert s.counts["replayed"] == 2 and not hasattr(guard, "count")
