"""Kafka -> graph throughput, beside the bare kafka-python consume rate of the same records.

    python bench/kafka_bench.py [--messages 50000] [--partitions 1] [--bootstrap HOST:PORT]
                                [--neo4j-uri bolt://... --neo4j-user U (password: NEO4J_PASSWORD)]

Without --bootstrap a Tansu broker is started (the tests' stand-in); without --neo4j-uri the embedded
ArcadeDB graph. It produces Debezium-JSON change events (with the schema wrapper, as Debezium's
JSON converter writes them by default) for the ``entity`` table of mappings/kb.yaml: inserts, then
updates of the same rows. It then measures, in one run:

1. bare consume: a kafka-python consumer reading every record (no decoding);
2. decode: the KafkaSource turning the records into changes (no graph);
3. the graph's own ceiling: the same decoded changes from memory through the pipeline (no Kafka);
4. kafka -> graph: the pipeline with the KafkaSource, from partition assignment to the checkpoint
   reaching the end of every partition (on an emptied graph, like 3).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kbgraph.checkpoint import read_checkpoint
from kbgraph.graph.schema import apply_schema
from kbgraph.mapping import compile_mappings
from kbgraph.pipeline import Pipeline
from kbgraph.sink.target import GraphTarget
from kbgraph.sources import StandaloneContext
from kbgraph.sources.kafka import KafkaSource
from tests.support.kafka import (
    FAST_GROUP,
    KB_MAPPING,
    _plain_row,
    create_topic,
    encode_debezium,
    produce,
    reached,
    topic_ends,
)


def entity(i: int, v: int) -> dict[str, Any]:
    return {"id": i, "type": ("Person", "Organization", "Place", "Concept")[i % 4], "name": f"entity {i} v{v}",
            "description": f"a description of entity {i}" if i % 3 else None, "born_on": dt.date(1970, 1, 1 + i % 28),
            "founded_year": 1900 + i % 100, "meta": {"wiki": {"zh": f"维基 {i}"}, "tags": ["a", "b"]}, "score": Decimal(f"{i % 1000}.{v:02d}"),
            "deleted": 0, "parent_id": None, "updated_at": dt.datetime(2024, 1, 1) + dt.timedelta(seconds=i, microseconds=v)}


def messages(n: int, schema: bool = True) -> list[tuple[bytes | None, bytes | None]]:
    rows = n // 2
    out: list[tuple[bytes | None, bytes | None]] = []
    row = entity if schema else (lambda i, v: _plain_row("entity", entity(i, v)))
    for i in range(rows):
        out += encode_debezium("entity", "insert", None, row(i, 0), i, schema=schema)
    for i in range(n - rows):
        out += encode_debezium("entity", "update", row(i, 0), row(i, 1), rows + i, schema=schema)
    return out


def bare_consume(bootstrap: str, topic: str, n: int) -> float:
    from kafka import KafkaConsumer, TopicPartition

    c = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest", max_poll_records=2000)
    try:
        parts = c.partitions_for_topic(topic) or {0}
        c.assign([TopicPartition(topic, p) for p in parts])
        c.seek_to_beginning()
        got, t0 = 0, time.perf_counter()
        while got < n:
            for recs in c.poll(timeout_ms=500).values():
                got += len(recs)
        return n / (time.perf_counter() - t0)
    finally:
        c.close()


def decode_only(bootstrap: str, topic: str, n: int, mapping: Any) -> float:
    source = KafkaSource(bootstrap, {topic: "debezium"}, group=f"decode-{time.time_ns()}", mapped=mapping, consumer_options=FAST_GROUP)
    ctx = StandaloneContext()
    got, t0 = 0, None
    try:
        for _ in source.changes({}, ctx):
            if t0 is None:
                t0 = time.perf_counter()
            got += 1
            if got >= n:
                break
        return (n - 1) / (time.perf_counter() - t0)  # type: ignore[operator]
    finally:
        source.close()


class ListSource:
    def __init__(self, changes: list[Any]) -> None:
        self.items = changes

    def changes(self, start: dict[str, Any], ctx: Any) -> Any:
        for i, c in enumerate(self.items):
            c.position = {"bench": i + 1}
            yield c

    def committed(self, position: dict[str, Any]) -> None:
        pass

    def close(self) -> None:
        pass


def graph_ceiling(msgs: list[tuple[bytes | None, bytes | None]], mapping: Any, target: GraphTarget, batch: int) -> float:
    from kbgraph.sources.kafka.formats import Router
    from kbgraph.sources.kafka.message import Message

    router = Router({"t": "debezium"})
    changes = [c for i, (k, v) in enumerate(msgs) for c in router.decode(Message("t", 0, i, k, v)).changes]
    stats = Pipeline(mapping, target, name=f"ceiling-{time.time_ns()}", batch_size=batch).run(ListSource(changes))
    return stats.counts.changes / stats.seconds


def to_graph(bootstrap: str, topic: str, ends: dict[str, int], mapping: Any, target: GraphTarget, batch: int) -> tuple[float, Any]:
    source = KafkaSource(bootstrap, {topic: "debezium"}, group=f"bench-{time.time_ns()}", mapped=mapping, consumer_options=FAST_GROUP)
    pipeline = Pipeline(mapping, target, name=f"bench-{topic}", batch_size=batch)
    out: dict[str, Any] = {}
    t = threading.Thread(target=lambda: out.setdefault("stats", pipeline.run(source)), daemon=True)
    t.start()
    while not source._owned:
        time.sleep(0.01)
    t0 = time.perf_counter()
    with target.driver() as driver:
        while not reached(read_checkpoint(driver, target.database, pipeline.name), ends):
            time.sleep(0.05)
            if not t.is_alive():
                raise SystemExit("the pipeline stopped early")
    seconds = time.perf_counter() - t0
    pipeline.stop()
    t.join(60)
    return sum(ends.values()) / seconds, out.get("stats")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--messages", type=int, default=50_000)
    ap.add_argument("--partitions", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=2000)
    ap.add_argument("--no-schema", action="store_true", help="payload-only envelopes (schemas.enable=false), "
                    "with dates, decimals and JSON as text (smaller records)")
    ap.add_argument("--bootstrap")
    ap.add_argument("--neo4j-uri")
    ap.add_argument("--neo4j-user", default="neo4j")
    ap.add_argument("--neo4j-database", default="neo4j")
    a = ap.parse_args()

    broker = graph = None
    work = Path(tempfile.mkdtemp(prefix="kafka-bench-"))
    try:
        bootstrap = a.bootstrap
        if not bootstrap:
            from tests.support.tansu import Tansu

            broker = Tansu(work / "tansu").start()
            bootstrap = broker.bootstrap
        if a.neo4j_uri:
            target = GraphTarget(a.neo4j_uri, a.neo4j_user, os.environ.get("NEO4J_PASSWORD", ""), a.neo4j_database)
        else:
            from kbgraph.embedded import EmbeddedGraph

            graph = EmbeddedGraph(work / "graph").start()
            target = GraphTarget(graph.uri, graph.user, graph.password, graph.database)
        mapping = compile_mappings([KB_MAPPING])
        with target.driver() as d:
            apply_schema(d, target.database, mapping)

        topic = f"bench-{time.time_ns()}"
        create_topic(bootstrap, topic, a.partitions)
        msgs = messages(a.messages, schema=not a.no_schema)
        t0 = time.perf_counter()
        ends = topic_ends(produce(bootstrap, topic, msgs), topic)
        produce_rate = len(msgs) / (time.perf_counter() - t0)
        size = sum(len(v or b"") for _, v in msgs) / len(msgs)
        n = sum(ends.values())
        print(f"{n:,} Debezium-JSON records ({size:,.0f} bytes each, {'no schema' if a.no_schema else 'schema wrapper'}), "
              f"{a.partitions} partition(s); "
              f"produced at {produce_rate:,.0f}/s")
        bare = bare_consume(bootstrap, topic, n)
        print(f"bare kafka-python consume : {bare:>9,.0f} records/s")
        dec = decode_only(bootstrap, topic, n, mapping)
        print(f"KafkaSource decode only   : {dec:>9,.0f} changes/s  ({dec / bare:.2f} of bare)")
        from tests.support.graph import reset_graph

        with target.driver() as d:
            reset_graph(d, target.database)
        ceiling = graph_ceiling(msgs, mapping, target, a.batch_size)
        print(f"changes -> graph, no Kafka: {ceiling:>9,.0f} changes/s  (the pipeline and graph's own ceiling)")
        with target.driver() as d:
            reset_graph(d, target.database)
        rate, stats = to_graph(bootstrap, topic, ends, mapping, target, a.batch_size)
        print(f"Kafka -> graph (pipeline) : {rate:>9,.0f} changes/s  ({rate / bare:.2f} of bare, "
              f"{rate / ceiling:.2f} of the no-Kafka ceiling)"
              + (f"; {stats.counts.transactions} graph transactions" if stats else ""))
    finally:
        if graph is not None:
            graph.stop()
        if broker is not None:
            broker.stop()


if __name__ == "__main__":
    main()
