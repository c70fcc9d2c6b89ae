"""What a statement in the binlog means for the graph: TRUNCATE changes, a clean stop, or nothing.

``statement_changes`` applies the configured policy (``binlog_ddl``, ``binlog_truncate``) to a
classified ``QueryEvent``: DDL that alters, drops or renames a mapped table stops the pipeline at
the checkpoint (unless ``continue_unmapped`` and no mapped column is touched); TRUNCATE of a mapped
table becomes a ``truncate`` change (or a stop); DML logged in STATEMENT format that may touch a
mapped table stops, since its rows cannot be read.
"""

from __future__ import annotations

import logging

from kbgraph.change import Change
from kbgraph.errors import StopAtCheckpoint
from kbgraph.sources.binlog.ddl import DdlStatement
from kbgraph.sources.binlog.tables import MappedTables

log = logging.getLogger(__name__)


def statement_changes(
    st: DdlStatement, default_schema: str | None, where: str, tables: MappedTables, on_ddl: str, on_truncate: str
) -> tuple[list[Change], list[tuple[str, str]]]:
    """The changes a statement yields, and the mapped (schema, table) pairs whose columns may have changed."""
    if st.kind in ("control", "create", "other"):
        return [], []
    if st.kind == "xa_rollback":
        raise StopAtCheckpoint(
            f"the binlog at {where} rolls back a prepared XA transaction ({_short(st.text)}), whose changes the "
            "graph may already hold; run `kbgraph snapshot` again"
        )
    if st.kind == "dml":
        hit = sorted(tables.names() & st.words)
        if hit:
            raise StopAtCheckpoint(
                f"the binlog at {where} holds a statement-format change that may touch mapped table {hit[0]} "
                f"({_short(st.text)}); its rows cannot be read. Set binlog_format=ROW for every session "
                "(and SET GLOBAL binlog_format=ROW), then run `kbgraph snapshot` again"
            )
        return [], []
    out: list[Change] = []
    touched: list[tuple[str, str]] = []
    for named_schema, table in st.tables:
        schema = named_schema or default_schema
        if st.kind == "drop_database":
            if schema in tables.schemas():
                raise StopAtCheckpoint(f"the binlog at {where} drops database {schema}, which the mappings read; "
                                       "fix the mappings, then run `kbgraph snapshot` again")
            continue
        if not tables.matching(schema, table):
            continue
        if schema is not None:
            touched.append((schema, table))
        name = f"{schema}.{table}" if schema else table
        if st.kind == "truncate":
            if on_truncate == "stop":
                raise StopAtCheckpoint(
                    f"the binlog at {where} truncates mapped table {name}; the graph is unchanged. Run `kbgraph "
                    "snapshot` again, or set binlog_truncate=delete to delete its graph elements instead"
                )
            out.append(Change(table, "truncate", None, None, {}, schema))
            continue
        if st.kind == "alter" and on_ddl == "continue_unmapped" and st.columns is not None:
            mapped = tables.columns(schema, table)
            if mapped is not None and not (st.columns & mapped):
                log.info("continuing past DDL on %s at %s: no mapped column affected", name, where)
                continue
        what = {"alter": "alters", "drop": "drops", "rename": "renames"}.get(st.kind, "changes")
        if on_ddl == "stop" or st.kind != "alter":
            advice = "update the mappings if needed and run `kbgraph snapshot` again"
        else:
            advice = "it touches a mapped column: update the mappings and run `kbgraph snapshot` again"
        if on_ddl == "stop" and st.kind == "alter":
            advice += " (or set binlog_ddl=continue_unmapped to pass DDL that touches no mapped column)"
        raise StopAtCheckpoint(f"the binlog at {where} {what} mapped table {name} ({_short(st.text)}); {advice}")
    return out, touched


def _short(sql: str, limit: int = 120) -> str:
    one = " ".join(sql.split())
    return one if len(one) <= limit else one[: limit - 3] + "..."
