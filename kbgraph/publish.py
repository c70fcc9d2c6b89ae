"""``kbgraph publish``: the binlog of the mapped tables to Kafka, as Debezium's MySQL/MariaDB connector
writes it (``kbgraph.debezium.envelope``: the same records field by field, but for the producer's
name and the processing time; the value encodings follow the mapping's ``source.debezium``).

One topic per table, ``<prefix>.<db>.<table>``, keyed by the row's primary key so that one row's
changes stay in one partition, in order (a table without a primary key goes to partition 0).

Order: Kafka keeps order within a partition only. With a topic per table (or several partitions),
changes of *different* rows may be applied in another order than the binlog's. That is harmless for
independent rows, but not for changes whose graph effect depends on another table's change: a
primary-key change followed by the (cascaded or explicit) updates of the rows that refer to it,
key/value rows of an entity whose key just changed, a TRUNCATE. For those, publish to one topic
with one partition (``--topic NAME``): the binlog's total order is kept, and ``sync --source kafka``
then ends with exactly the graph ``sync --source binlog`` gives. A primary-key change is written
as Debezium writes it (delete, tombstone, create with the ``__debezium.newkey``/``oldkey``
headers); the consumer joins the three back into one update when they sit together in a partition,
so the node is re-keyed with its relationships rather than deleted and created. The
producer is idempotent (``enable_idempotence``, ``acks=all``): its own retries never duplicate a
record. The binlog position is kept in a small JSON state file and is advanced only to the last
change whose records (and every record before it) the brokers acknowledged, so a restart never
loses a change.

A restart can re-send the changes after the saved position that were acknowledged but not yet
saved (at most ``save_ms`` worth). Consumers must be idempotent to such repeats: ``kbgraph sync
--source kafka`` is, because every change carries the full row images and applying a repeated run
of changes again, in order, leaves the graph as it was (upserts by key, deletes of what is gone).

A TRUNCATE is published as a Debezium ``t`` event only to a single-partition topic: it cannot be
ordered against rows spread over several partitions, so publish stops there (clean, at the saved
position) and says so.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kbgraph.change import Change
from kbgraph.debezium.columns import ConnectorSettings, SqlColumn
from kbgraph.debezium.envelope import EnvelopeWriter, TableInfo
from kbgraph.errors import KbgraphError, SourceError, StopAtCheckpoint
from kbgraph.mysql.catalog import ColumnKind, literal_default

log = logging.getLogger(__name__)


class StateFile:
    """The acknowledged binlog position, written atomically (temp file, fsync, rename)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def load(self) -> dict[str, Any]:
        if not self.path.exists():
            return {}
        try:
            data = json.loads(self.path.read_text())
            position = data["position"]
            if not isinstance(position, dict):
                raise ValueError("position is not an object")
            return position
        except (OSError, ValueError, KeyError) as e:
            raise KbgraphError(f"publish state file {self.path} is unreadable ({e}); fix or remove it") from None

    def save(self, position: dict[str, Any], messages: int) -> None:
        data = {"position": position, "messages": messages, "updated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=self.path.name, suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(data, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise


class TableDescriber:
    """Column types and primary keys from information_schema (``kbgraph.mysql.catalog``; cached per table)."""

    def __init__(self, conn_factory: Any, mariadb: bool | None = None) -> None:
        self._connect = conn_factory
        self._conn: Any = None
        self._mariadb = mariadb
        self._cache: dict[tuple[str, str], TableInfo] = {}

    def describe(self, schema: str, table: str) -> TableInfo:
        info = self._cache.get((schema, table))
        if info is None:
            info = self._cache[(schema, table)] = self._load(schema, table)
        return info

    def _load(self, schema: str, table: str) -> TableInfo:
        from kbgraph.mysql import catalog
        from kbgraph.sources.binlog.server import is_mariadb

        if self._conn is not None:
            try:
                self._conn.ping()
            except Exception:  # noqa: BLE001 - a dropped connection: open a new one
                self._conn = None
        if self._conn is None:
            self._conn = self._connect()
        if self._mariadb is None:
            self._mariadb = is_mariadb(self._conn)
        cols = [self._column(c) for c in catalog.table_columns(self._conn, schema, table, self._mariadb)]
        pk = catalog.primary_key(self._conn, schema, table)
        if not cols:
            log.warning("publish: %s.%s is not in information_schema (dropped?); column types come from the values", schema, table)
        return TableInfo(schema, table, cols, pk, "mariadb" if self._mariadb else "mysql")

    def _column(self, c: ColumnKind) -> SqlColumn:
        column_type = "json" if c.data_type == "json" else c.column_type  # MariaDB: a LONGTEXT with a json_valid() check
        default, literal = literal_default(c, bool(self._mariadb))
        col = SqlColumn.parse(c.name, column_type, nullable=c.nullable, comment=c.comment)
        return col.with_default(default, literal)

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None


@dataclass
class PublishStats:
    changes: int = 0
    messages: int = 0
    saved: dict[str, Any] | None = None
    ends: dict[tuple[str, int], int] = field(default_factory=dict)  # (topic, partition) -> last acknowledged offset + 1


class _Ctx:
    """The SourceContext the binlog reader runs with."""

    def __init__(self, publisher: Publisher) -> None:
        self.stopping = publisher.stopping
        self._p = publisher

    def flush(self) -> None:
        self._p.save()

    def checkpoint(self) -> dict[str, Any]:
        return dict(self._p.position)

    def source_outage(self, outage: Any) -> None:
        pass  # the reader logs its outage; publish has no progress line to show it in


class Publisher:
    def __init__(self, source: Any, producer: Any, describer: TableDescriber, state: StateFile, *,
                 prefix: str = "kbgraph", topic: str | None = None, partitions: int = 1, admin: Any = None,
                 save_ms: int = 200, settings: ConnectorSettings | None = None, schemas: bool = True) -> None:
        self.source = source
        self.producer = producer
        self.describer = describer
        self.state = state
        self.prefix = prefix
        self.topic = topic
        self.partitions = partitions
        self.admin = admin
        self.save_s = save_ms / 1000
        self.writer = EnvelopeWriter(prefix, settings, schemas=schemas)
        self.stopping = threading.Event()
        self.stats = PublishStats()
        self.position: dict[str, Any] = {}
        self._pending: list[tuple[list[Any], dict[str, Any]]] = []  # (futures of a change's records, its position)
        self._lock = threading.Lock()
        self._save_lock = threading.Lock()
        self._error: BaseException | None = None
        self._topics: dict[str, int] = {}

    def stop(self) -> None:
        self.stopping.set()

    def topic_of(self, schema: str | None, table: str) -> str:
        if self.topic:
            return self.topic
        return f"{self.prefix}.{schema}.{table}" if schema else f"{self.prefix}.{table}"

    def run(self) -> PublishStats:
        self.position = self.state.load()
        saver = threading.Thread(target=self._saver, name="kbgraph-publish-saver", daemon=True)
        saver.start()
        try:
            for change in self.source.changes(dict(self.position), _Ctx(self)):
                if self._error is not None:
                    raise self._error
                self._publish(change)
                if self.stopping.is_set():
                    break
        finally:
            self.stopping.set()
            saver.join(30)
            try:
                self.save()
            finally:
                self.close()
        if self._error is not None:
            raise self._error
        self.stats.saved = dict(self.position)
        return self.stats

    def close(self) -> None:
        for closer in (self.source.close, lambda: self.producer.close(timeout=10),
                       lambda: self.admin.close() if self.admin is not None else None, self.describer.close):
            try:
                closer()
            except Exception as e:  # noqa: BLE001 - closing must not hide the run's own outcome
                log.warning("publish: closing failed: %s", e)

    # -- sending -----------------------------------------------------------------------------------
    def _partitions(self, topic: str) -> int:
        n = self._topics.get(topic)
        if n is None:
            if self.admin is not None:
                from kafka.admin import NewTopic
                from kafka.errors import TopicAlreadyExistsError

                try:
                    self.admin.create_topics([NewTopic(topic, self.partitions, -1)])  # -1: the brokers' default replication
                    log.info("publish: created topic %s with %d partition(s)", topic, self.partitions)
                except TopicAlreadyExistsError:
                    pass
            parts = self.producer.partitions_for(topic)
            n = self._topics[topic] = len(parts) if parts else 1
        return n

    def _publish(self, change: Change) -> None:
        if not change.schema:
            raise SourceError(f"{change.describe()}: the change names no database; publish needs one for the topic")
        info = self.describer.describe(change.schema, change.table)
        topic = self.topic_of(change.schema, change.table)
        partitions = self._partitions(topic)
        if change.op == "truncate" and partitions > 1:
            raise StopAtCheckpoint(
                f"TRUNCATE of {change.schema}.{change.table} cannot be ordered against its rows in {partitions} partitions of "
                f"topic {topic}; reload that table (kbgraph snapshot) and restart publish after the TRUNCATE "
                f"(the state file holds the position before it)")
        records = self.writer.records(change, info, time.time_ns())
        futures = []
        for key, value, headers in records:
            partition = 0 if key is None else None  # no primary key: one partition keeps the order
            futures.append(self.producer.send(topic, key=key, value=value, headers=headers, partition=partition))
        self.stats.changes += 1
        self.stats.messages += len(records)
        with self._lock:
            self._pending.append((futures, change.position))

    # -- the durable position ------------------------------------------------------------------------
    def _saver(self) -> None:
        while not self.stopping.wait(self.save_s):
            try:
                self.save()
            except BaseException as e:  # noqa: BLE001 - handed to the publishing thread
                self._error = e
                self.stopping.set()
                return

    def save(self) -> None:
        """Wait for the acknowledgements of what was sent so far, then write the position after it."""
        with self._save_lock:
            with self._lock:
                pending, self._pending = self._pending, []
            if not pending:
                return
            self.producer.flush()
            advanced = dict(self.position)
            ends = self.stats.ends
            try:
                for futures, fragment in pending:
                    for future in futures:
                        md = future.get(timeout=0)  # flush() returned: each is done; this raises a failed send
                        k = (md.topic, md.partition)
                        if md.offset + 1 > ends.get(k, 0):
                            ends[k] = md.offset + 1
                    advanced.update(fragment)
            except Exception as e:  # noqa: BLE001 - a record not stored: stop at the last good position
                if advanced != self.position:
                    self.state.save(advanced, self.stats.messages)
                    self.position = advanced
                raise KbgraphError(f"Kafka did not accept a record ({type(e).__name__}: {e}); "
                                   f"publish stopped; the state file holds the last acknowledged position") from None
            self.state.save(advanced, self.stats.messages)
            self.position = advanced


if TYPE_CHECKING:  # what build_publisher reads
    from kbgraph.mapping.rules import CompiledMapping
    from kbgraph.settings import PublishSettings


def build_publisher(settings: PublishSettings, mapping: CompiledMapping, *, state_path: Path | None = None, start: str = "current",
                    partitions: int = 1, server_id: int | None = None, topic: str | None = None,
                    schemas: bool = True) -> Publisher:
    """A Publisher over the binlog source, from settings (used by the CLI and the tests)."""
    from kafka import KafkaProducer
    from kafka.admin import KafkaAdminClient
    from kafka.errors import KafkaError

    from kbgraph.sources.binlog.position import Position
    from kbgraph.sources.binlog.reader import BinlogSource
    from kbgraph.sources.binlog.server import ConnInfo
    from kbgraph.sources.binlog.tables import MappedTables

    if settings.mysql_url is None:
        raise SourceError("publish needs the database: set mysql_url (KBGRAPH_MYSQL_URL=mysql://user:password@host:3306)")
    if not settings.kafka_bootstrap:
        raise SourceError("publish needs a broker: set kafka_bootstrap (KBGRAPH_KAFKA_BOOTSTRAP)")
    conn = ConnInfo.from_url(settings.mysql_url.get_secret_value())
    tables = MappedTables.from_mapping(mapping)
    tables.check = None  # publish sends whole rows: a mapping's missing column is sync's to report
    if not tables.pairs:
        raise SourceError("the mappings name no table to publish")
    initial: Any = "current"
    if start != "current":
        file, _, pos = start.rpartition(":")
        if not file or not pos.isdigit():
            raise KbgraphError(f"--from must be 'current' or FILE:POS (e.g. mysql-bin.000003:4), not {start!r}")
        initial = Position(file, int(pos))
    source = BinlogSource(conn, tables, server_id=server_id or settings.server_id, blocking=not settings.binlog_until_end,
                          on_ddl=settings.binlog_ddl, on_truncate=settings.binlog_truncate, initial=initial,
                          describe_events=True)
    options = {"linger_ms": 20, "batch_size": 256 * 1024, **settings.kafka_producer_options}
    try:
        producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, enable_idempotence=True, acks="all",
                                 client_id="kbgraph-publish", **options)
        admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, client_id="kbgraph-publish-admin")
    except KafkaError as e:
        raise SourceError(f"cannot reach Kafka at {settings.kafka_bootstrap} ({type(e).__name__}: {e})") from None
    path = state_path or settings.publish_state or Path(f"kbgraph-publish.{settings.pipeline}.json")
    files = mapping.files
    dbz = ConnectorSettings.of(files[0].model.source.debezium) if files else None  # what the consumers expect
    return Publisher(source, producer, TableDescriber(conn.connect), StateFile(path), prefix=settings.kafka_topic_prefix,
                     topic=topic, partitions=partitions, admin=admin, settings=dbz, schemas=schemas)
