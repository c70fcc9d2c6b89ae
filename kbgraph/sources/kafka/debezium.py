"""Debezium change events (JSON converter), with or without the ``schema``/``payload`` wrapper.

Row events: ``{"before", "after", "source": {"db", "table", "ts_ms", ...}, "op": c|r|u|d|t, "ts_ms"}``.
A primary-key change arrives as a delete, a tombstone and a create: three records, each decoded on
its own. Schema-change events (``{"databaseName", "ddl", "tableChanges"}``), heartbeats
(``{"ts_ms"}`` only) and transaction markers (``{"status": "BEGIN"|"END", "id"}``) are recognised
and produce no rows.

When the schema is present, Debezium's value encodings are turned back into the Python values the
binlog source produces (so both sources build the same graph), by ``kbgraph.debezium.decode``;
with ``decimal.handling.mode`` string or double the value is already a string or a float and is
kept. Payload-only records are read with the mapped tables' column types
(``kbgraph.debezium.payload``: the mapping's ``source.ddl`` and declared types), which also check
what a schema does not say (a BIGINT UNSIGNED wrapped to a negative number).
"""

from __future__ import annotations

from typing import Any

import orjson

from kbgraph.change import Change
from kbgraph.debezium.decode import Convert, EncodingError
from kbgraph.debezium.decode import field_converter as _field_converter
from kbgraph.debezium.payload import PayloadTypes
from kbgraph.sources.kafka.message import (
    NOTHING_TOMBSTONE,
    Decoded,
    DecodeError,
    Message,
    control,
    ddl,
)

OPS = {"c": "insert", "r": "insert", "u": "update", "d": "delete", "t": "truncate"}
_SCHEMA_HEAD = b'{"schema":'
_PAYLOAD_KEY = b',"payload":'
_UNKNOWN: Any = object()


def field_converter(field: dict[str, Any]) -> Convert | None:
    try:
        return _field_converter(field)
    except EncodingError as e:
        raise DecodeError(str(e)) from None


def row_converters(envelope_schema: dict[str, Any]) -> dict[str, Convert]:
    """Converters of the row struct (``after``, else ``before``) of an envelope schema."""
    for part in envelope_schema.get("fields") or ():
        if part.get("field") in ("after", "before") and part.get("type") == "struct":
            out: dict[str, Convert] = {}
            for field in part.get("fields") or ():
                fn = field_converter(field)
                if fn is not None:
                    out[field["field"]] = fn
            return out
    return {}


class DebeziumDecoder:
    """Decodes Debezium records. One instance per topic: it caches the last schema's converters."""

    name = "debezium"

    def __init__(self, types: PayloadTypes | None = None) -> None:
        self._types = types  # column types of the mapped tables (source.ddl, declared types), if known
        self._schema: Any = None
        self._converters: dict[str, Convert] = {}
        # schema bytes -> its converters (None: this prefix does not split cleanly, parse it all)
        self._by_prefix: dict[bytes, dict[str, Convert] | None] = {}

    def decode(self, msg: Message) -> Decoded:
        value = msg.value
        if value is None:
            return NOTHING_TOMBSTONE
        if value.startswith(_SCHEMA_HEAD):
            # The JSON converter writes {"schema":{...},"payload":{...}} and the schema repeats in
            # every record: parse it once per distinct text, and only the payload after that.
            cut = value.find(_PAYLOAD_KEY)
            if cut > 0:
                prefix = value[:cut]
                converters = self._by_prefix.get(prefix, _UNKNOWN)
                if converters is _UNKNOWN:
                    converters = self._learn(prefix, value)
                if converters is not None:
                    try:
                        payload = orjson.loads(value[cut + len(_PAYLOAD_KEY):value.rindex(b"}")])
                    except (orjson.JSONDecodeError, ValueError):
                        pass  # not the plain two-key envelope after all: parse it whole below
                    else:
                        return self._payload(payload, converters, True)
        try:
            doc = orjson.loads(value)
        except orjson.JSONDecodeError as e:
            raise DecodeError(f"not JSON: {e}") from None
        return self.decode_doc(doc)

    def _learn(self, prefix: bytes, value: bytes) -> dict[str, Convert] | None:
        """Check once that ``prefix`` is exactly the envelope's schema; remember its converters."""
        if len(self._by_prefix) >= 256:
            self._by_prefix.clear()
        converters: dict[str, Convert] | None = None
        try:
            doc = orjson.loads(value)
            schema = orjson.loads(prefix[len(_SCHEMA_HEAD):])
            if isinstance(doc, dict) and list(doc) == ["schema", "payload"] and doc["schema"] == schema and isinstance(schema, dict):
                converters = row_converters(schema)
        except orjson.JSONDecodeError:
            converters = None
        self._by_prefix[prefix] = converters
        return converters

    def decode_doc(self, doc: Any) -> Decoded:
        if not isinstance(doc, dict):
            raise DecodeError("a Debezium value must be a JSON object")
        converters: dict[str, Convert] = {}
        with_schema = False
        if "payload" in doc and "schema" in doc:
            with_schema = True
            schema = doc["schema"]
            payload = doc["payload"]
            if schema != self._schema:
                self._converters = row_converters(schema) if isinstance(schema, dict) else {}
                self._schema = schema
            converters = self._converters
            doc = payload
        return self._payload(doc, converters, with_schema)

    def _payload(self, doc: Any, converters: dict[str, Convert], with_schema: bool) -> Decoded:
        if doc is None:
            return NOTHING_TOMBSTONE
        if not isinstance(doc, dict):
            raise DecodeError("a Debezium payload must be a JSON object")
        op = doc.get("op")
        if op is None or op == "m":
            return _not_a_row(doc)
        try:
            kind = OPS[op]
        except (KeyError, TypeError):
            raise DecodeError(f"unknown Debezium op {op!r}") from None
        source = doc.get("source")
        if not isinstance(source, dict) or not source.get("table"):
            raise DecodeError(f"Debezium {op!r} event has no source.table")
        before, after = doc.get("before"), doc.get("after")
        if converters:
            before = _convert(before, converters)
            after = _convert(after, converters)
        types = self._types.table(source.get("db"), source["table"]) if self._types is not None else None
        if types is not None:
            more = types.checks if with_schema else types.payload
            if more:
                before = _convert(before, more)
                after = _convert(after, more)
        if (kind == "insert" and after is None) or (kind == "delete" and before is None):
            raise DecodeError(f"Debezium {op!r} event has no {'after' if kind == 'insert' else 'before'} row")
        if kind == "update" and after is None:
            raise DecodeError("Debezium 'u' event has no after row")
        if kind == "truncate":
            before = after = None
        ts = source.get("ts_ms", doc.get("ts_ms"))
        return Decoded(
            # the source block rides along: the consumer orders and de-duplicates by it (order.py)
            [Change(source["table"], kind, before, after, schema=source.get("db"), ts_ms=ts,  # type: ignore[arg-type]
                    meta={"source": source})]
        )


def _convert(row: Any, converters: dict[str, Convert]) -> Any:
    if row is None:
        return None
    if not isinstance(row, dict):
        raise DecodeError("a Debezium row image must be a JSON object")
    out = row  # freshly parsed for this record: converted in place
    for name, fn in converters.items():
        v = out.get(name)
        if v is not None:
            try:
                out[name] = fn(v)
            except (DecodeError, EncodingError) as e:
                raise DecodeError(f"column {name!r}: {e}") from None
            except (ValueError, OverflowError, ArithmeticError) as e:
                raise DecodeError(f"column {name!r}: {e}") from None
    return out


def _not_a_row(doc: dict[str, Any]) -> Decoded:
    if "ddl" in doc and ("databaseName" in doc or "tableChanges" in doc):
        changes = doc.get("tableChanges") or []
        table = None
        if changes and isinstance(changes[0], dict):
            table = str(changes[0].get("id", "")).strip('"').split('"."')[-1] or None
        return ddl(doc.get("databaseName"), table, doc.get("ddl"))
    if doc.get("op") == "m":  # a logical decoding message (PostgreSQL): no row
        return control("logical decoding message")
    if doc.get("status") in ("BEGIN", "END") and "id" in doc:
        return control(f"transaction {doc['status']} {doc['id']}")
    if set(doc) <= {"ts_ms"}:
        return control("heartbeat")
    raise DecodeError("Debezium value has no 'op' and is not a schema change, heartbeat or transaction marker")


def looks_like(doc: dict[str, Any]) -> bool:
    if "payload" in doc and "schema" in doc:
        return True
    if "op" in doc and "source" in doc and ("after" in doc or "before" in doc):
        return True
    return "ddl" in doc and "databaseName" in doc
