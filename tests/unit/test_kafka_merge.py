"""The ordered merge of per-table partitions by source position (merge.py) and the keys it orders by (order.py)."""

from __future__ import annotations

import random

import orjson
import pytest

from kbgraph.sources.kafka.merge import OrderedMerge
from kbgraph.sources.kafka.order import binlog_order, debezium_position, record_position

WAIT = 0.3


def source_stream(n: int, tables: list[str], rnd: random.Random) -> list[tuple[str, tuple[str, int, int], int]]:
    """n changes in binlog order: (table, (file, pos, row), offset in the table's partition); files rotate."""
    out, offsets, pos, file = [], dict.fromkeys(tables, 0), 4, 1
    for _ in range(n):
        if rnd.random() < 0.02:
            file, pos = file + 1, 4
        pos += rnd.randint(1, 500)
        for row in range(rnd.choice([1, 1, 1, 3])):  # a row event of several rows
            t = rnd.choice(tables)
            out.append((t, (f"mariadb-bin.{file:06d}", pos, row), offsets[t]))
            offsets[t] += 1
    return out


@pytest.mark.parametrize("seed", range(25))
def test_any_interleaving_of_per_table_streams_comes_out_in_source_order(seed: int) -> None:
    rnd = random.Random(seed)
    tables = ["entity", "relation", "attribute", "alias"][: rnd.randint(2, 4)]
    stream = source_stream(rnd.randint(1, 300), tables, rnd)
    per_table = {t: [s for s in stream if s[0] == t] for t in tables}
    m = OrderedMerge(WAIT)
    m.assign(tables, 0.0)
    now, out, checkpoint = 0.0, [], {}
    while any(per_table.values()):
        t = rnd.choice([t for t in tables if per_table[t]])  # a fetch of some records of one partition
        for _ in range(rnd.randint(1, 20)):
            if per_table[t]:
                rec = per_table[t].pop(0)
                m.push(t, rec[1], rec, now)
        now += rnd.random() * WAIT / (len(stream) + 1)  # time passes, but less than a wait in all: nothing is idle
        for rec in m.release(now):
            out.append(rec)
            checkpoint[rec[0]] = rec[2] + 1
        # the checkpoint of a partition never passes a record not yet handed on
        for t2 in tables:
            first_unreleased = per_table[t2][0][2] if per_table[t2] else None
            if first_unreleased is not None:
                assert checkpoint.get(t2, 0) <= first_unreleased
    out += m.release(now + WAIT)  # the end: every partition idle
    assert out == stream
    assert len(m) == 0 and m.deadline() is None


def test_an_idle_partition_delays_the_others_by_at_most_the_wait() -> None:
    m = OrderedMerge(WAIT)
    m.assign(["entity", "relation"], 0.0)
    m.push("relation", ("f.000001", 10, 0), "r10", 5.0)  # entity has said nothing since its assignment
    assert m.release(5.0) == []
    assert m.deadline() == pytest.approx(5.0 + WAIT)
    assert m.release(5.0 + WAIT * 0.99) == []
    assert m.release(5.0 + WAIT) == ["r10"]
    # a record from the silent partition that is smaller goes first
    m.push("relation", ("f.000001", 30, 0), "r30", 6.0)
    m.push("entity", ("f.000001", 20, 0), "e20", 6.1)
    assert m.release(6.1) == ["e20"]  # the smallest; then r30 waits for entity again
    assert m.release(6.1 + WAIT * 0.5) == []
    assert m.release(6.1 + WAIT) == ["r30"]


def test_a_busy_partition_is_not_delayed_when_every_partition_has_records() -> None:
    m = OrderedMerge(WAIT)
    m.assign(["a", "b"], 0.0)
    m.push("a", ("f", 1, 0), "a1", 0.0)
    m.push("a", ("f", 3, 0), "a3", 0.0)
    m.push("b", ("f", 2, 0), "b2", 0.0)
    m.push("b", ("f", 4, 0), "b4", 0.0)
    assert m.release(0.0) == ["a1", "b2", "a3"]  # b4 waits: a has nothing buffered, and may still send a smaller one
    assert m.release(WAIT) == ["b4"]


def test_records_without_a_position_pass_and_a_partition_of_them_blocks_nobody() -> None:
    m = OrderedMerge(WAIT)
    m.assign(["native", "dbz", "quiet"], 0.0)
    m.push("native", None, "n1", 0.0, orderable=False)
    assert m.release(0.0) == ["n1"]  # no position: passes at once
    m.push("dbz", ("f", 5, 0), "d5", 1.0)
    assert m.release(1.0) == []  # "quiet" said nothing yet and may hold a smaller record; "native" is no reason to wait
    assert m.release(1.0 + WAIT) == ["d5"]
    # inside a partition, order is kept: a tombstone after its delete, then the next record
    m.push("dbz", ("f", 7, 0), "d7", 2.0)
    m.push("dbz", None, "tombstone", 2.0)  # a Debezium record without a position: its partition still counts
    m.push("dbz", ("f", 9, 0), "d9", 2.0)
    m.push("quiet", ("f", 8, 0), "q8", 2.0)
    assert m.release(2.0) == ["d7", "tombstone", "q8"]
    assert m.release(2.0 + WAIT) == ["d9"]
    m.push("quiet", None, "q-marker", 3.0)  # a position-only marker of a Debezium partition
    m.push("dbz", ("f", 12, 0), "d12", 3.0)
    assert m.release(3.0) == ["q-marker"]  # "quiet" is still a partition that may send something smaller
    assert m.release(3.0 + WAIT) == ["d12"]


def test_one_partition_passes_at_once_and_a_revoked_partition_stops_holding_others() -> None:
    m = OrderedMerge(WAIT)
    m.assign(["a"], 0.0)
    m.push("a", ("f", 9, 0), "a9", 0.0)
    m.push("a", ("f", 1, 0), "a1", 0.0)  # one partition: its own order, no waiting
    assert m.release(0.0) == ["a9", "a1"]
    m.assign(["b"], 1.0)
    m.push("a", ("f", 10, 0), "a10", 1.0)
    m.push("b", ("f", 12, 0), "b12", 1.0)
    m.push("b", ("f", 13, 0), "b13", 1.0)
    assert m.release(1.0) == ["a10"]
    assert m.revoke(["b"]) == 2  # dropped, never handed on: the next owner reads them again
    m.push("a", ("f", 11, 0), "a11", 1.1)
    assert m.release(1.1) == ["a11"]


def test_equal_positions_keep_arrival_order_per_partition_and_assignment_order_between() -> None:
    m = OrderedMerge(WAIT)
    m.assign(["entity", "relation"], 0.0)
    snap = ("mariadb-bin.000005", 25959180, 0)  # every snapshot record carries the snapshot's position
    for i in range(3):
        m.push("relation", snap, f"r{i}", 0.0)
        m.push("entity", snap, f"e{i}", 0.0)
    assert m.release(WAIT) == ["e0", "e1", "e2", "r0", "r1", "r2"]


# -- keys ------------------------------------------------------------------------------------------

# a record as Debezium 3.3 (MariaDB connector) wrote it, schemas.enable=false (from the recorded fixtures)
DBZ = (b'{"before":null,"after":{"entity_id":2815,"alias":"\\u957f\\u57ce","lang":"zh"},"source":{"version":"3.3.1.Final",'
       b'"connector":"mariadb","name":"dbzt.ns","ts_ms":1796133368000,"snapshot":"false","db":"dbzt","sequence":null,'
       b'"ts_us":1796133368000000,"ts_ns":1796133368000000000,"table":"alias","server_id":1,"gtid":"0-1-14563",'
       b'"file":"mariadb-bin.000005","pos":27139823,"row":0,"thread":null,"query":null},"transaction":null,"op":"c",'
       b'"ts_ms":1796133368463,"ts_us":1796133368463811,"ts_ns":1796133368463811000}')


def test_the_key_is_file_pos_row_of_the_source_block() -> None:
    assert debezium_position(DBZ) == ("mariadb-bin.000005", 27139823, 0)
    schema = {"type": "struct", "fields": [{"type": "struct", "field": "source", "fields": [{"field": "file", "type": "string"}]}]}
    wrapped = b'{"schema":' + orjson.dumps(schema) + b',"payload":' + DBZ + b"}"
    assert debezium_position(wrapped) == ("mariadb-bin.000005", 27139823, 0)
    spaced = orjson.dumps({"payload": {"after": {"source": "a column named source"}, "op": "u"}}).replace(b"}}", b', "source": {"file": "b.000002", "pos": 7, "row": 3}}}')
    assert debezium_position(spaced) == ("b.000002", 7, 3)
    text_with_a_source = orjson.dumps({"after": {"note": '"source":{"file":"x","pos":1}'}, "source": {"file": "m.000001", "pos": 99}})
    assert debezium_position(text_with_a_source) == ("m.000001", 99, 0)  # no row: 0
    assert debezium_position(orjson.dumps({"source": {"db": "kb", "ts_ms": 1}})) is None  # no binlog coordinates
    assert debezium_position(None) is None and debezium_position(b"not json") is None
    assert debezium_position(b'{"source":{"file":"f","pos":') is None  # cut short


def test_only_debezium_records_have_a_key() -> None:
    class Rec:
        value = DBZ

    assert record_position("debezium", Rec()) == (("mariadb-bin.", 5), 27139823, 0)
    assert record_position("maxwell", Rec()) is None and record_position(None, Rec()) is None


def test_the_binlog_file_number_compares_as_a_number() -> None:
    """MariaDB numbers its files with six digits, then seven: ``….999999`` comes before ``….1000000``."""
    assert binlog_order(("mariadb-bin.999999", 900, 2)) < binlog_order(("mariadb-bin.1000000", 4, 0))
    assert binlog_order(("b.000002", 7, 3)) < binlog_order(("b.000002", 7, 4)) < binlog_order(("b.000002", 8, 0))


def test_a_held_record_stops_later_records_of_other_partitions_but_not_earlier_ones() -> None:
    m = OrderedMerge(WAIT)
    m.assign(["entity", "relation"], 0.0)
    m.hold("entity", ("f", 10, 0))  # a key change's delete, waiting for its create
    m.push("relation", ("f", 5, 0), "r5", 0.0)
    m.push("relation", ("f", 11, 0), "r11", 0.0)  # a relation that uses the new key
    assert m.release(0.0) == ["r5"]  # before the held record: nothing can come from entity before it
    assert m.release(100.0) == [] and m.deadline() is None  # after it: waits for the hold, not for the clock
    m.unhold("entity")
    m.push("entity", ("f", 10, 0), "e10 (key change)", 100.0)
    assert m.release(100.0) == ["e10 (key change)"]
    assert m.release(100.0 + WAIT) == ["r11"]


@pytest.mark.parametrize("seed", range(3))
def test_the_recorded_per_table_topics_merge_back_into_the_recorded_order(seed: int) -> None:
    """Debezium 3.3.1's recorded records (tests/fixtures/debezium-mariadb) split into their per-table
    topics, fetched in random chunks: nothing is lost, every partition keeps its order, and positioned
    records come out in source order (the recording's order but for ties). The merge does not lose
    xtypes 29904 (the per-table replay misses it because its three records are dead letters:
    test_debezium_records.py)."""
    from tests.support.dbz_fixture import recorded

    rnd = random.Random(seed)
    records = [(r["topic"], i, debezium_position(r["value"].encode() if r["value"] else None))
               for i, r in enumerate(recorded("schema"))]
    keys = [k for _, _, k in records if k is not None]
    assert keys == sorted(keys)  # Debezium wrote them in binlog order
    topics = sorted({t for t, _, _ in records})
    per_topic = {t: [r for r in records if r[0] == t] for t in topics}
    m = OrderedMerge(WAIT)
    m.assign(topics, 0.0)
    out: list = []
    while any(per_topic.values()):
        t = rnd.choice([t for t in topics if per_topic[t]])
        for _ in range(rnd.randint(1, 50)):
            if per_topic[t]:
                rec = per_topic[t].pop(0)
                m.push(t, rec[2], rec, 0.0)
        out += m.release(0.0)  # no time passes: nothing is idle
    out += m.release(WAIT)  # the end: every partition idle
    assert sorted(out, key=lambda r: r[1]) == records  # every record once
    for t in topics:
        assert [r for r in out if r[0] == t] == [r for r in records if r[0] == t]
    merged = [k for _, _, k in out if k is not None]
    assert merged == sorted(merged)
    xtypes = [i for t, i, _ in out if t.endswith(".xtypes") and '"id":29904' in (recorded("schema")[i]["key"] or "")]
    assert len(xtypes) == 3
