"""Real Debezium 3.3.1 MariaDB records (tests/fixtures/debezium-mariadb) read back, with and without
the schema, and the value rules both the binlog and Kafka sources share."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections import Counter
from decimal import Decimal, localcontext

import pytest

from kbgraph.debezium.decode import decimal as dbz_decimal
from kbgraph.debezium.encode import exact_decimal, unscaled_bytes
from kbgraph.debezium.payload import PayloadTypes
from kbgraph.errors import ChangeError
from kbgraph.jsondoc import JsonString
from kbgraph.mapping import compile_mappings
from kbgraph.mapping.convert import compile_converter
from kbgraph.mapping.model import Column, Options
from kbgraph.sources.binlog.decode import ColumnKind, RowFixer, snapshot_fixes
from kbgraph.sources.kafka.debezium import DebeziumDecoder
from kbgraph.sources.kafka.message import DecodeError
from tests.support.dbz_fixture import DIR, MAPPINGS, message, recorded

MAPPING = compile_mappings(MAPPINGS)
TYPES = PayloadTypes.from_files(MAPPING.files)


def decode_file(which: str, types: PayloadTypes | None = TYPES) -> list[list | str]:
    dec = DebeziumDecoder(types)
    out: list[list | str] = []
    for i, rec in enumerate(recorded(which)):
        try:
            out.append(dec.decode(message(rec, i)).changes)
        except DecodeError as e:
            out.append(str(e))
    return out


# -- DECIMAL: exact at every precision MySQL allows -----------------------------------------------------


@pytest.mark.parametrize("text,scale", [
    ("-12345678901234567890.0123456789", 10),
    ("99999999999999999999999999999999999.999999999999999999999999999999", 30),  # DECIMAL(65,30)
    ("-99999999999999999999999999999999999999999999999999999999999999999", 0),  # DECIMAL(65,0)
    ("0.0000000001", 10), ("-128", 0), ("127", 0), ("-0.50", 2),
])
def test_decimal_round_trip_is_exact_under_a_small_context(text: str, scale: int) -> None:
    d = Decimal(text)
    with localcontext() as ctx:
        ctx.prec = 5  # nothing may depend on the context's precision
        raw = unscaled_bytes(d, scale)
        back = dbz_decimal(scale)(base64.b64encode(raw).decode())
    assert back == d and back.as_tuple().exponent == -scale  # the column's scale, as the binlog gives it
    digits = text.lstrip("-").replace(".", "").lstrip("0") or "0"
    frac = len(text.partition(".")[2])
    assert abs(int.from_bytes(raw, "big", signed=True)) == int(digits) * 10 ** (scale - frac)


def test_decimal_bytes_are_the_fewest_like_javas_biginteger() -> None:
    assert unscaled_bytes(Decimal(-128), 0) == b"\x80" and unscaled_bytes(Decimal(128), 0) == b"\x00\x80"
    assert unscaled_bytes(Decimal(0), 2) == b"\x00" and exact_decimal(-1, 10) == Decimal("-1E-10")
    with pytest.raises(ChangeError, match="more than 2 fraction digits"):
        unscaled_bytes(Decimal("1.005"), 2)


def test_recorded_extreme_decimals_arrive_exact() -> None:
    seen = {format(c.after["dec30"], "f") for changes in decode_file("schema") if isinstance(changes, list)
            for c in changes if c.table == "xtypes" and c.after and c.after["dec30"] is not None}
    assert {"-12345678901234567890.0123456789", "99999999999999999999.9999999999"} <= seen


# -- one rule for JSON columns ---------------------------------------------------------------------


@pytest.mark.parametrize("stored,graph", [('"just text"', "just text"), ('"{\\"a\\": 1}"', '{"a": 1}'), ("12", 12)])
def test_a_json_string_document_is_the_same_from_the_binlog_and_from_kafka(stored: str, graph: object) -> None:
    to_graph = compile_converter(Column(column="j", type="json"), Options())
    binlog_row = RowFixer([ColumnKind("j", "json")])({"j": stored}, {})
    assert isinstance(binlog_row["j"], JsonString) or not isinstance(graph, str)
    assert to_graph(binlog_row["j"]) == graph  # binlog: parsed once by the source, not again
    ((_, snapshot_fix),) = snapshot_fixes([ColumnKind("j", "json")])
    assert to_graph(snapshot_fix(stored)) == graph  # snapshot and `kbgraph verify`: the same
    assert to_graph(stored) == graph  # Debezium MariaDB / JSONL: the JSON text, parsed by the mapping
    auto = compile_converter("j", Options())
    assert type(auto(binlog_row["j"])) is type(graph)


def test_text_that_is_not_json_in_a_json_column_is_an_error() -> None:
    with pytest.raises(ChangeError, match="not JSON"):
        compile_converter(Column(column="j", type="json"), Options())("just text")


# -- recorded records: with and without schema ---------------------------------------------------------


def test_payload_only_records_decode_exactly_like_the_schema_ones() -> None:
    with_schema, payload_only = decode_file("schema"), decode_file("noschema")
    assert len(with_schema) == len(payload_only) == 4116
    pairs = 0
    for a, b in zip(with_schema, payload_only):
        if isinstance(a, str) or isinstance(b, str):
            assert a == b
            continue
        assert [(c.op, c.table, c.before, c.after) for c in a] == [(c.op, c.table, c.before, c.after) for c in b]
        pairs += len(a)
    assert pairs == 3364


def test_recorded_values_are_the_binlog_values() -> None:
    after = {c.after["id"]: c.after for changes in decode_file("noschema") if isinstance(changes, list)
             for c in changes if c.table == "xtypes" and c.after}
    row = next(r for r in after.values() if r["dt3"] is not None and r["ts"] is not None and r["t"] is not None)
    assert isinstance(row["dt3"], dt.datetime) and row["dt3"].tzinfo is None
    assert row["ts"].tzinfo is not None and isinstance(row["t"], dt.timedelta)
    kinds = Counter(type(r["s"]).__name__ for r in after.values() if r["s"] is not None)
    assert set(kinds) == {"set"}
    assert {type(r["b"]) for r in after.values() if r["b"] is not None} == {bytes}
    assert {type(r["bits"]) for r in after.values() if r["bits"] is not None} == {int}


def test_only_the_intended_rejections_fail() -> None:
    for which in ("schema", "noschema"):
        reasons: Counter[str] = Counter()
        for changes in decode_file(which):
            if isinstance(changes, str):
                reasons["decode: " + changes.split(":")[1].strip()] += 1
                continue
            for c in changes:
                try:
                    MAPPING.translate(c)
                except ChangeError as e:
                    reasons["not allowed" if "is not an allowed" in str(e) else str(e)] += 1
        # 13: the correction of a row outside the allow-list (its before image) is no longer rejected
        assert reasons == {"not allowed": 13, "decode: BIGINT UNSIGNED, but Debezium sent -1": 3}, which


def test_a_wrapped_bigint_unsigned_is_rejected_with_its_reason() -> None:
    bad = [c for c in decode_file("schema") if isinstance(c, str)]
    assert len(bad) == 3 and all("sent -1" in r and "bigint.unsigned.handling.mode=precise" in r for r in bad)
    # they are the whole life of one row, xtypes id 29904 (u = 2^64-1): its insert and both updates, so
    # no replay (one topic or a topic per table) has that row, whatever the order
    records = recorded("schema")
    rows = {json.loads(records[i]["key"])["payload"]["id"] for i, c in enumerate(decode_file("schema")) if isinstance(c, str)}
    assert rows == {29904}
    assert [json.loads(r["value"])["payload"]["op"] for r in records if r["topic"].endswith(".xtypes") and r["value"]
            and json.loads(r["key"])["payload"]["id"] == 29904] == ["c", "u", "u"]
    # without the DDL nothing says the column is unsigned: the value passes (documented)
    plain = decode_file("schema", None)
    assert not any(isinstance(c, str) for c in plain)


def test_without_ddl_what_needs_a_schema_is_an_error_naming_the_column(tmp_path) -> None:
    for name in ("kb.yaml", "xtypes.yaml"):
        text = (DIR / name).read_text().replace("  ddl: dbzt.sql", "")
        (tmp_path / name).write_text(text)
    types = PayloadTypes.from_files(compile_mappings([tmp_path / "kb.yaml", tmp_path / "xtypes.yaml"]).files)
    errors = Counter(c.split(": payload-only")[0] for c in decode_file("noschema", types) if isinstance(c, str))
    assert set(errors) <= {"column 'updated_at': type datetime", "column 'score': type decimal", "column 'dt0': type datetime",
                           "column 'dt3': type datetime", "column 'dec30': type decimal", "column 'dec0': type decimal",
                           "column 'bits': type int"}
    assert errors["column 'updated_at': type datetime"] > 100 and errors["column 'score': type decimal"] > 100
    one = next(c for c in decode_file("noschema", types) if isinstance(c, str))
    assert "cannot be read without a schema" in one and "source.ddl" in one
