"""``kbgraph verify`` at scale: every rule in bounded chunks, re-checks while a sync runs, ``--repair``.

Order of work: for each rule and each of its tables, the rows in primary-key chunks (missing and
differing elements); then each keyed label, relationship type and property-node label of the graph
in key / row-id chunks (extra elements). Memory holds one chunk per side.

A chunk with differences is looked at again before they are reported: the binlog position is read
before each chunk, and the re-check waits (up to ``wait_s``) until the pipeline's checkpoint in the
graph has passed it. If the checkpoint stands still for ``idle_s`` (no sync runs, or the user may not
read the binlog position), the chunk is re-checked once without waiting, and later chunks do not
wait either until the checkpoint moves again. Only differences both looks found are reported.

``--repair`` writes each chunk's remaining differences through the sync's writer (the same Cypher,
batching and dead letters) in one transaction, without moving the sync's checkpoint: a missing or
differing element gets its source row applied again as an insert (state-based, so the element ends
exactly in its mapped state); an extra element is deleted with the rule's own delete statement.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import neo4j

from kbgraph.change import Change
from kbgraph.checkpoint import read_checkpoint
from kbgraph.errors import ChangeError
from kbgraph.graph.cypher import CHECKPOINT_LABEL, ROW_ID, esc
from kbgraph.mapping.attributes import PropertyCompiled
from kbgraph.mapping.compiled import EntityCompiled, RelationCompiled
from kbgraph.sink.writer import GraphWriter, Item
from kbgraph.verify.differences import Difference, Report, RuleTotals, still_there
from kbgraph.verify.extras import IdCheck, LabelCheck, scan_ids, scan_nodes
from kbgraph.verify.row_checks import Graph, check_rows, describe
from kbgraph.verify.source_rows import Row, TableId

# the writer runs this instead of moving a checkpoint: a repair is not a step of any stream
_NO_CHECKPOINT = "RETURN $count AS repaired"


@dataclass
class VerifyOptions:
    chunk: int = 1000
    show: int = 10
    repair: bool = False
    pipeline: str = "default"
    wait_s: float = 60.0  # longest wait for a running sync to pass a chunk's position
    idle_s: float = 2.0  # a checkpoint that stands still this long: no sync runs
    poll_s: float = 0.2
    on_wait: Callable[[tuple[str, int] | None], None] | None = None  # told when a re-check starts waiting


class Settle:
    """Waits until the sync has passed a source position, or until it is clear that no sync runs."""

    def __init__(self, checkpoint: Callable[[], dict[str, Any]], opts: VerifyOptions,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
        self.checkpoint, self.opts, self.clock, self.sleep = checkpoint, opts, clock, sleep
        self.idle_at: dict[str, Any] | None = None  # the checkpoint when the sync was last seen idle
        self.waits = 0

    @staticmethod
    def passed(cp: dict[str, Any], pos: tuple[str, int] | None) -> bool:
        if pos is None or cp.get("file") is None or cp.get("pos") is None:
            return False
        return (str(cp["file"]), int(cp["pos"])) >= pos

    def __call__(self, pos: tuple[str, int] | None) -> str:
        """"passed", "idle" (no sync moves the checkpoint) or "deadline"."""
        cp = self.checkpoint()
        if self.passed(cp, pos):
            return "passed"
        if self.idle_at is not None and cp == self.idle_at:
            return "idle"  # still standing: re-check at once
        self.waits += 1
        if self.opts.on_wait is not None:
            self.opts.on_wait(pos)
        start = moved = self.clock()
        while self.clock() - start < self.opts.wait_s:
            self.sleep(self.opts.poll_s)
            now = self.checkpoint()
            if self.passed(now, pos):
                self.idle_at = None
                return "passed"
            if now != cp:
                cp, moved = now, self.clock()
            elif self.clock() - moved >= self.opts.idle_s:
                self.idle_at = cp
                return "idle"
        return "deadline"


class Verifier:
    def __init__(self, mapping: Any, rows: Any, driver: neo4j.Driver, database: str, opts: VerifyOptions) -> None:
        self.mapping, self.rows, self.opts = mapping, rows, opts
        self.g = Graph(driver, database)
        self.report = Report(opts.show)
        self.settle = Settle(lambda: read_checkpoint(driver, database, opts.pipeline), opts)
        self.writer = GraphWriter(driver, database, opts.pipeline, "dead_letter", checkpoint=_NO_CHECKPOINT)
        self.schema_of: dict[int, str | None] = {}
        self.by_rule: list[tuple[str | None, Any]] = []
        for (schema, _table), rules in mapping._rules.items():
            for rule in rules:
                self.schema_of[id(rule)] = schema
                self.by_rule.append((schema, rule))

    # ------------------------------------------------------------------ both sides

    def run(self) -> Report:
        for schema, rule in self.by_rule:
            for tid in self.rows.concrete(schema, rule.table):
                self._rows_of(rule, tid)
        for name, label_check, key in self._label_checks():
            self._nodes_of(name, label_check, key)
        for name, id_check in self._id_checks():
            self._ids_of(name, id_check)
        return self.report

    def _rows_of(self, rule: Any, tid: TableId) -> None:
        totals = self.report.rule(rule.name, describe(rule, tid))
        chunks = self.rows.chunks(tid, self.opts.chunk)
        while True:
            pos = self.rows.position()  # before the rows are read
            chunk = next(chunks, None)
            if chunk is None:
                return
            diffs = check_rows(rule, tid, chunk.rows, self.g, lambda why: self.report.reject(rule.name, why))
            if diffs:
                self.settle(pos)
                again = self.rows.between(tid, chunk.after, chunk.last)
                diffs = still_there(diffs, check_rows(rule, tid, again, self.g, _ignore))
            totals.rows += len(chunk.rows)
            self._found(totals, diffs)

    def _nodes_of(self, name: str, check: LabelCheck, key: list[str]) -> None:
        totals = self.report.rule(name, f":{check.label} nodes")
        after: list[Any] | None = None
        while True:
            pos = self.rows.position()
            nodes = scan_nodes(self.g, check.label, key, after, self.opts.chunk)
            if not nodes:
                return
            diffs = check.check(nodes, self._lookup, _ignore)
            if diffs:
                self.settle(pos)
                last = list(nodes[-1]["k"])
                again = [n for n in scan_nodes(self.g, check.label, key, after, self.opts.chunk) if _le(n["k"], last)]
                diffs = still_there(diffs, check.check(again, self._lookup, _ignore))
            totals.elements += len(nodes)
            self._found(totals, diffs)
            if len(nodes) < self.opts.chunk:
                return
            after = list(nodes[-1]["k"])

    def _ids_of(self, name: str, check: IdCheck) -> None:
        totals = self.report.rule(name, check.pattern)
        after: str | None = None
        while True:
            pos = self.rows.position()
            ids = scan_ids(self.g, check.pattern, check.var, after, self.opts.chunk)
            if not ids:
                return
            diffs = check.check(ids, self._lookup, _ignore)
            if diffs:
                self.settle(pos)
                again = [i for i in scan_ids(self.g, check.pattern, check.var, after, self.opts.chunk) if i <= ids[-1]]
                diffs = still_there(diffs, check.check(again, self._lookup, _ignore))
            totals.elements += len(ids)
            self._found(totals, diffs)
            if len(ids) < self.opts.chunk:
                return
            after = ids[-1]

    def _found(self, totals: RuleTotals, diffs: list[Difference]) -> None:
        if diffs and self.opts.repair:
            self._repair(diffs, totals)
        self.report.add(totals.rule, diffs)

    def _lookup(self, rule: Any, cols: list[str], keys: list[tuple[Any, ...]]) -> list[tuple[TableId, Row]]:
        out = []
        for tid in self.rows.concrete(self.schema_of[id(rule)], rule.table):
            out += [(tid, row) for row in self.rows.lookup(tid, cols, keys)]
        return out

    # ------------------------------------------------------------------ what the graph side scans

    def _label_checks(self) -> list[tuple[str, LabelCheck, list[str]]]:
        rules = [r for _, r in self.by_rule]
        prop_labels = {r.node_label for r in rules if isinstance(r, PropertyCompiled) and r.as_node}
        out = []
        for c in self.mapping.constraints():
            if c.kind != "node-unique" or c.label == CHECKPOINT_LABEL or c.label in prop_labels:
                continue
            entities = [r for r in rules if isinstance(r, EntityCompiled) and r.label == c.label]
            attributes = [r for r in rules if isinstance(r, PropertyCompiled) and not r.as_node and r.owner_label == c.label]
            elsewhere = not entities and any(
                c.label in r.fixed or (r.chooser is not None and c.label in r.chooser.allow)
                for r in rules if isinstance(r, EntityCompiled))
            name = entities[0].name if entities else f":{c.label} (stubs)"
            out.append((name, LabelCheck(c.label, list(c.props), entities, attributes, elsewhere), list(c.props)))
        return out

    def _id_checks(self) -> list[tuple[str, IdCheck]]:
        rels: dict[str, list[RelationCompiled]] = {}
        nodes: dict[str, list[PropertyCompiled]] = {}
        for _, r in self.by_rule:
            if isinstance(r, RelationCompiled):
                for t in r.types:
                    rels.setdefault(t, []).append(r)
            elif isinstance(r, PropertyCompiled) and r.as_node:
                nodes.setdefault(r.node_label, []).append(r)
        out = []
        for t, rs in rels.items():
            out.append((rs[0].name, IdCheck(t, f"()-[r:{esc(t)}]->()", "r", rs, lambda rule, t: rule.deletes[t])))
        for label, ps in nodes.items():
            out.append((ps[0].name, IdCheck(label, f"(p:{esc(label)})", "p", ps, lambda rule, _: rule.unset)))
        return out

    # ------------------------------------------------------------------ repair

    def _repair(self, diffs: list[Difference], totals: RuleTotals) -> None:
        items: list[Item] = []
        seen: set[int] = set()
        for d in diffs:
            for kind, a, b in d.fix or []:
                if kind == "row":
                    if id(b) in seen:
                        continue
                    seen.add(id(b))
                    change = Change(a[1], "insert", None, dict(b), schema=a[0] or None)
                    try:
                        items.append(Item(change, self.mapping.translate(change)))
                    except ChangeError as e:
                        items.append(Item(change, getattr(e, "ops", []), e))
                else:
                    change = Change(totals.rule, "delete", {"verify": d.what, ROW_ID: str(a.row.get("id", ""))}, None)
                    items.append(Item(change, [a]))
        self.writer.write(items)
        totals.repaired += len(diffs)


def _ignore(_: str) -> None:
    pass


def _le(a: list[Any], b: list[Any]) -> bool:
    try:
        return list(a) <= list(b)
    except TypeError:
        return True
