"""Changes as the records Debezium's MySQL/MariaDB connector writes (``kbgraph publish``); pure, no I/O.

Field by field what the connector (3.x) sends for the same row change with the ``JsonConverter``:
the value ``{"schema": <Envelope>, "payload": {"before", "after", "source", "transaction", "op",
"ts_ms", "ts_us", "ts_ns"}}`` (``schemas=False``: the payload alone), the key ``{<primary key>}``
likewise, and the headers ``__debezium.context.connectorLogicalName`` / ``taskId`` /
``connectorName``. A primary-key change is a delete (header ``__debezium.newkey``), a tombstone
(the same header) and a create (``__debezium.oldkey``); a delete is followed by a tombstone.

``source`` is the connector's: ``server_id``, ``gtid`` of the change's own transaction, ``file``
and ``pos`` of its rows event, ``row`` = its index in that event, event time as ``ts_ms``/``ts_us``
/``ts_ns``; ``snapshot`` "false", ``transaction`` null (no transaction metadata topic). The only
fields that differ from Debezium's are the ones naming the producer (``source.version``) and the
processing times (the envelope's ``ts_ms``/``ts_us``/``ts_ns``).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import orjson

from kbgraph.change import Change
from kbgraph.debezium.columns import ConnectorSettings, SqlColumn
from kbgraph.debezium.encode import encode_value, field_schema
from kbgraph.errors import ChangeError

VERSION = "kbgraph-publish-2"
NEW_KEY = "__debezium.newkey"  # Debezium's headers of a primary-key change
OLD_KEY = "__debezium.oldkey"
OPS = {"insert": "c", "update": "u", "delete": "d", "truncate": "t"}
_GTID = re.compile(r"^\d+-\d+-\d+$|^[0-9a-fA-F-]{36}:\d+$")

Record = tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]

_SNAPSHOT = {"type": "string", "optional": True, "name": "io.debezium.data.Enum", "version": 1,
             "parameters": {"allowed": "true,first,first_in_data_collection,last_in_data_collection,last,false,incremental"},
             "default": "false", "field": "snapshot"}


def _source_schema(flavour: str) -> dict[str, Any]:
    f = [("string", False, "version"), ("string", False, "connector"), ("string", False, "name"), ("int64", False, "ts_ms"),
         None, ("string", False, "db"), ("string", True, "sequence"), ("int64", True, "ts_us"), ("int64", True, "ts_ns"),
         ("string", True, "table"), ("int64", False, "server_id"), ("string", True, "gtid"), ("string", False, "file"),
         ("int64", False, "pos"), ("int32", False, "row"), ("int64", True, "thread"), ("string", True, "query")]
    fields = [_SNAPSHOT if x is None else {"type": x[0], "optional": x[1], "field": x[2]} for x in f]
    return {"type": "struct", "fields": fields, "optional": False, "name": f"io.debezium.connector.{flavour}.Source",
            "version": 1, "field": "source"}


_TRANSACTION = {"type": "struct", "fields": [{"type": "string", "optional": False, "field": "id"},
                                             {"type": "int64", "optional": False, "field": "total_order"},
                                             {"type": "int64", "optional": False, "field": "data_collection_order"}],
                "optional": True, "name": "event.block", "version": 1, "field": "transaction"}


@dataclass
class TableInfo:
    schema: str
    table: str
    columns: list[SqlColumn]
    primary_key: list[str] = field(default_factory=list)
    flavour: str = "mariadb"  # the server: the connector Debezium would use for it

    def column(self, name: str) -> SqlColumn | None:
        for c in self.columns:
            if c.name == name:
                return c
        return None


def inferred(name: str, v: Any) -> SqlColumn:
    """A column the table description lacks (added since): typed from its value."""
    if isinstance(v, bool):
        return SqlColumn(name, "bit", length=1)
    if isinstance(v, int):
        return SqlColumn(name, "bigint")
    if isinstance(v, float):
        return SqlColumn(name, "double")
    if isinstance(v, Decimal):
        exp = v.as_tuple().exponent
        scale = -exp if isinstance(exp, int) and exp < 0 else 0
        return SqlColumn(name, "decimal", length=max(len(v.as_tuple().digits), scale + 1), scale=scale)
    if isinstance(v, dt.datetime):
        return SqlColumn(name, "timestamp" if v.tzinfo else "datetime", length=6)
    if isinstance(v, dt.date):
        return SqlColumn(name, "date")
    if isinstance(v, dt.timedelta):
        return SqlColumn(name, "time", length=6)
    if isinstance(v, (bytes, bytearray, memoryview)):
        return SqlColumn(name, "blob")
    if isinstance(v, (set, frozenset)):
        return SqlColumn(name, "set", members=tuple(sorted(map(str, v))))
    if isinstance(v, (dict, list)):
        return SqlColumn(name, "json")
    return SqlColumn(name, "varchar")


def _dumps(v: Any) -> bytes:
    return orjson.dumps(v)


class EnvelopeWriter:
    """Builds the records of one change; caches each table's schema text."""

    def __init__(self, server_name: str = "kbgraph", settings: ConnectorSettings | None = None, *, schemas: bool = True,
                 task_id: str = "0") -> None:
        self.server_name = server_name
        self.settings = settings or ConnectorSettings()
        self.schemas = schemas
        self._heads: dict[tuple[Any, ...], tuple[bytes, bytes]] = {}
        self._headers: dict[str, list[tuple[str, bytes]]] = {}
        self.task_id = task_id

    def _settings(self, info: TableInfo) -> ConnectorSettings:
        s = self.settings
        if s.flavour == info.flavour:
            return s
        return ConnectorSettings(s.time_precision_mode, s.decimal_handling_mode, s.bigint_unsigned_handling_mode,
                                 s.binary_handling_mode, info.flavour)

    def _heads_for(self, info: TableInfo) -> tuple[bytes, bytes]:
        key = (info.schema, info.table, info.flavour, tuple(info.columns), tuple(info.primary_key))
        heads = self._heads.get(key)
        if heads is None:
            s = self._settings(info)
            base = f"{self.server_name}.{info.schema}.{info.table}"
            fields = [field_schema(c, s) for c in info.columns]
            row = {"type": "struct", "fields": fields, "optional": True, "name": f"{base}.Value"}
            envelope = {"type": "struct", "fields": [
                {**row, "field": "before"}, {**row, "field": "after"}, _source_schema(info.flavour), _TRANSACTION,
                {"type": "string", "optional": False, "field": "op"},
                {"type": "int64", "optional": True, "field": "ts_ms"},
                {"type": "int64", "optional": True, "field": "ts_us"},
                {"type": "int64", "optional": True, "field": "ts_ns"}],
                "optional": False, "name": f"{base}.Envelope", "version": 2}
            cols = {c.name: c for c in info.columns}
            key_schema = {"type": "struct",
                          "fields": [field_schema(cols.get(k) or SqlColumn(k, "varchar"), s, False) for k in info.primary_key],
                          "optional": False, "name": f"{base}.Key"}
            heads = (b'{"schema":' + _dumps(envelope) + b',"payload":', b'{"schema":' + _dumps(key_schema) + b',"payload":')
            self._heads[key] = heads
        return heads

    def context_headers(self, flavour: str) -> list[tuple[str, bytes]]:
        out = self._headers.get(flavour)
        if out is None:
            def text(v: str) -> bytes:
                return (b'{"schema":{"type":"string","optional":false},"payload":' + _dumps(v) + b"}") if self.schemas else _dumps(v)

            out = self._headers[flavour] = [("__debezium.context.connectorLogicalName", text(self.server_name)),
                                            ("__debezium.context.taskId", text(self.task_id)),
                                            ("__debezium.context.connectorName", text(flavour))]
        return out

    def _row(self, info: TableInfo, row: dict[str, Any] | None) -> dict[str, Any] | None:
        if row is None:
            return None
        s = self._settings(info)
        for name, v in row.items():
            if info.column(name) is None:
                info.columns.append(inferred(name, v))  # the schema text changes with it
        return {c.name: encode_value(c, row.get(c.name), s) for c in info.columns}

    def _wrap(self, head: bytes, payload: Any) -> bytes:
        return head + _dumps(payload) + b"}" if self.schemas else _dumps(payload)

    def key(self, info: TableInfo, row: dict[str, Any] | None) -> bytes | None:
        if not info.primary_key or row is None:
            return None
        _, key_head = self._heads_for(info)
        s = self._settings(info)
        try:
            payload = {k: encode_value(info.column(k) or SqlColumn(k, "varchar"), row[k], s) for k in info.primary_key}
        except KeyError as e:
            raise ChangeError(f"row of {info.schema}.{info.table} lacks primary-key column {e}") from None
        return self._wrap(key_head, payload)

    def source(self, change: Change, info: TableInfo) -> dict[str, Any]:
        """The ``source`` block: the binlog event of the change (``change.meta["binlog"]``)."""
        ev = (change.meta or {}).get("binlog") or {}
        pos = change.position
        ts_ms = change.ts_ms or 0
        gtid = ev.get("gtid", change.tx if change.tx and _GTID.match(change.tx) else None)
        return {"version": VERSION, "connector": info.flavour, "name": self.server_name, "ts_ms": ts_ms, "snapshot": "false",
                "db": info.schema, "sequence": None, "ts_us": ts_ms * 1000, "ts_ns": ts_ms * 1_000_000, "table": info.table,
                "server_id": ev.get("server_id", 0), "gtid": gtid, "file": ev.get("file", pos.get("file")),
                "pos": ev.get("pos", pos.get("pos")), "row": ev.get("row", 0), "thread": ev.get("thread"),
                "query": None}

    def records(self, change: Change, info: TableInfo, now_ns: int) -> list[Record]:
        """(key, value, headers) records of one change, in order; ``now_ns`` is the processing time."""
        before = self._row(info, change.before)
        after = self._row(info, change.after)
        source = self.source(change, info)
        head, _ = self._heads_for(info)
        ctx = self.context_headers(info.flavour)

        def value(op: str, b: Any, a: Any) -> bytes:
            payload = {"before": b, "after": a, "source": source, "transaction": None, "op": op,
                       "ts_ms": now_ns // 1_000_000, "ts_us": now_ns // 1000, "ts_ns": now_ns}
            return self._wrap(head, payload)

        op = change.op
        if op == "truncate":
            return [(None, value("t", None, None), list(ctx))]
        if op == "insert":
            return [(self.key(info, change.after), value("c", None, after), list(ctx))]
        if op == "delete":
            k = self.key(info, change.before)
            out: list[Record] = [(k, value("d", before, None), list(ctx))]
            return out + [(k, None, list(ctx))] if k is not None else out
        old_key, new_key = self.key(info, change.before), self.key(info, change.after)
        if change.before is not None and old_key != new_key and old_key is not None and new_key is not None:
            return [(old_key, value("d", before, None), [(NEW_KEY, new_key), *ctx]), (old_key, None, [(NEW_KEY, new_key), *ctx]),
                    (new_key, value("c", None, after), [(OLD_KEY, old_key), *ctx])]
        return [(new_key, value("u", before, after), list(ctx))]


def tables_from_ddl(text: str, schema: str, flavour: str = "mariadb") -> dict[str, TableInfo]:
    """``TableInfo`` of every ``CREATE TABLE`` in ``text`` (what information_schema would say)."""
    from kbgraph.mapping.ddl import parse_ddl_columns

    out = {}
    for table, (cols, pk) in parse_ddl_columns(text).items():
        columns = []
        for c in cols:
            col = SqlColumn.parse(c["name"], c["type"], nullable=not c["not_null"] and c["name"] not in pk, comment=c["comment"])
            columns.append(col.with_default(c["default"], c["default_quoted"]))
        out[table] = TableInfo(schema, table, columns, list(pk), flavour)
    return out
