"""The dead-letter store in the graph (``:KbDeadLetter`` nodes): read, group, replay, purge.

A dead letter holds the change as it came (table, op, before/after row images, source position)
and why it failed. ``replay`` sends dead letters through the normal write path again, after the
mapping or the data was fixed: each batch is one graph transaction that applies the changes that
now translate and deletes their dead letters, so a replay interrupted at any point applies
nothing twice; a change that still fails stays a dead letter (with its new reason). Replay moves
no checkpoint.

A replayed change is applied as it was recorded: when the same row changed again later (and that
change was applied), replaying the older one brings back its values; ``kbgraph verify`` shows
such differences.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import neo4j
import orjson

from kbgraph.change import Change
from kbgraph.errors import ChangeError
from kbgraph.graph.cypher import DEAD_LETTER_LABEL, esc
from kbgraph.mapping.rules import CompiledMapping
from kbgraph.sink.breaker import reason_group
from kbgraph.sink.writer import GraphWriter, Item

_REPLAY_KEY = "dl:"  # position key naming the dead letter a replayed change came from
_LABEL = esc(DEAD_LETTER_LABEL)
# run by the writer instead of moving a checkpoint: delete the dead letters this batch replayed
_DELETE_REPLAYED = (
    f"UNWIND [k IN keys($position) WHERE k STARTS WITH 'p.{_REPLAY_KEY}' | substring(k, {len(_REPLAY_KEY) + 2})] AS id\n"
    f"MATCH (d:{_LABEL}) WHERE elementId(d) = id\n"
    "DETACH DELETE d"
)


@dataclass
class DeadLetter:
    id: str  # the node's elementId
    reason: str
    table: str
    schema: str | None
    op: str
    position: dict[str, Any]
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    at: Any = None
    extra: dict[str, Any] = field(default_factory=dict)
    raw_position: dict[str, Any] = field(default_factory=dict)  # as stored (a replayed one names its origin)

    def change(self) -> Change:
        return Change(self.table, self.op, self.before, self.after,  # type: ignore[arg-type]
                      position=dict(self.position), schema=self.schema)

    @property
    def group(self) -> str:
        change = self.change()
        change.position = self.raw_position or self.position
        return reason_group(self.reason, change)

    @property
    def where(self) -> str:
        return f"{self.schema}.{self.table}" if self.schema else self.table

    def key(self, mapping: CompiledMapping | None = None) -> dict[str, Any]:
        """The row's key columns (from the mapping's rules for its table when given)."""
        row = (self.before if self.op == "delete" else self.after) or self.before or self.after or {}
        columns: list[str] = []
        if mapping is not None:
            for rule in mapping.rules():
                if getattr(rule, "table", None) == self.table:
                    keys = getattr(getattr(rule, "keys", None), "columns", None) or []
                    columns += [c for c in keys if c in row and c not in columns]
        if not columns:
            columns = ["id"] if "id" in row else list(row)[:1]
        return {c: row.get(c) for c in columns}


def letter_of(props: dict[str, Any], ident: str) -> DeadLetter:
    """A stored ``:KbDeadLetter`` node (its properties and element id) read back as a ``DeadLetter``."""
    def js(name: str) -> Any:
        raw = props.get(name)
        try:
            return orjson.loads(raw) if isinstance(raw, str) else raw
        except orjson.JSONDecodeError:
            return raw

    body = js("change") or {}
    raw = js("position")
    raw = raw if isinstance(raw, dict) else {}
    position = {k: v for k, v in raw.items() if not k.startswith(_REPLAY_KEY)}
    known = {"reason", "table", "schema", "op", "position", "change", "at", "pipeline"}
    return DeadLetter(
        id=ident, reason=str(props.get("reason") or ""), table=str(props.get("table") or ""),
        schema=props.get("schema"), op=str(props.get("op") or ""), position=position,
        before=body.get("before") if isinstance(body, dict) else None,
        after=body.get("after") if isinstance(body, dict) else None,
        at=props.get("at"), extra={k: v for k, v in props.items() if k not in known}, raw_position=raw,
    )


def _filter(reason: str | None, table: str | None, ids: Iterable[str] | None) -> tuple[str, dict[str, Any]]:
    where = ["d.pipeline = $pipeline"]
    params: dict[str, Any] = {}
    if reason:
        where.append("d.reason CONTAINS $reason")
        params["reason"] = reason
    if table:
        where.append("d.table = $table")
        params["table"] = table
    ids = list(ids or [])
    if ids:
        where.append("elementId(d) IN $ids")
        params["ids"] = ids
    return " AND ".join(where), params


def stream(driver: neo4j.Driver, database: str, pipeline: str, *, reason: str | None = None,
           table: str | None = None, ids: Iterable[str] | None = None, limit: int | None = None) -> Iterator[DeadLetter]:
    """The pipeline's dead letters matching the filters, oldest first, read as they come (a store of
    hundreds of thousands is never held in memory at once)."""
    cond, params = _filter(reason, table, ids)
    query = (f"MATCH (d:{_LABEL}) WHERE {cond} RETURN elementId(d) AS id, properties(d) AS props "
             "ORDER BY d.at, id" + (" LIMIT $limit" if limit else ""))
    with driver.session(database=database, default_access_mode=neo4j.READ_ACCESS) as session:
        for r in session.run(query, pipeline=pipeline, limit=limit, **params):
            yield letter_of(dict(r["props"]), r["id"])


def load(driver: neo4j.Driver, database: str, pipeline: str, **filters: Any) -> list[DeadLetter]:
    return list(stream(driver, database, pipeline, **filters))


def ids(driver: neo4j.Driver, database: str, pipeline: str, *, reason: str | None = None,
        table: str | None = None, only: Iterable[str] | None = None) -> list[str]:
    """Ids of the matching dead letters, oldest first."""
    cond, params = _filter(reason, table, only)
    records, _, _ = driver.execute_query(
        f"MATCH (d:{_LABEL}) WHERE {cond} RETURN elementId(d) AS id ORDER BY d.at, id",
        pipeline=pipeline, **params, database_=database, routing_=neo4j.RoutingControl.READ)
    return [r["id"] for r in records]


@dataclass
class Group:
    reason: str
    count: int
    tables: Counter[str]
    first: DeadLetter
    last: DeadLetter


def groups(letters: Iterable[DeadLetter]) -> list[Group]:
    """Dead letters grouped by reason (positions and numbers aside), largest group first."""
    out: dict[str, Group] = {}
    for d in letters:
        g = out.get(d.group)
        if g is None:
            out[d.group] = Group(d.group, 1, Counter([d.where]), d, d)
        else:
            g.count += 1
            g.tables[d.where] += 1
            g.last = d
    return sorted(out.values(), key=lambda g: -g.count)


def purge(driver: neo4j.Driver, database: str, pipeline: str, *, reason: str | None = None,
          table: str | None = None, ids: Iterable[str] | None = None) -> int:
    cond, params = _filter(reason, table, ids)
    records, _, _ = driver.execute_query(
        f"MATCH (d:{_LABEL}) WHERE {cond} WITH d LIMIT 10000 DETACH DELETE d RETURN count(*) AS n",
        pipeline=pipeline, **params, database_=database)
    n = int(records[0]["n"]) if records else 0
    return n + (purge(driver, database, pipeline, reason=reason, table=table, ids=ids) if n == 10000 else 0)


@dataclass
class ReplayResult:
    replayed: int = 0
    applied: int = 0
    still_failing: int = 0
    reasons: Counter[str] = field(default_factory=Counter)


def replay(driver: neo4j.Driver, database: str, pipeline: str, mapping: CompiledMapping, which: list[str],
           batch_size: int = 500) -> ReplayResult:
    """Apply the dead letters ``which`` (ids, oldest first) again through the writer; see the module doc."""
    result = ReplayResult()

    def failed_again(change: Change, reason: str) -> None:
        result.reasons[reason_group(reason, change)] += 1

    writer = GraphWriter(driver, database, pipeline, "dead_letter", failed_again, checkpoint=_DELETE_REPLAYED)
    for i in range(0, len(which), batch_size):
        items = []
        for d in load(driver, database, pipeline, ids=which[i:i + batch_size]):
            change = d.change()
            change.position[_REPLAY_KEY + d.id] = 0
            try:
                items.append(Item(change, mapping.translate(change)))
            except ChangeError as e:
                items.append(Item(change, [], e))
        before = writer.counts.dead_letters
        writer.write(items)
        failed = writer.counts.dead_letters - before
        result.replayed += len(items)
        result.still_failing += failed
        result.applied += len(items) - failed
    return result
