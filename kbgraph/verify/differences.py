"""What ``kbgraph verify`` reports: differences by key, compared value by value. Pure: no I/O.

An element is named by its identity, never its internal id: a node by label and key
(``Entity {id: 7}``), a relationship or property node by its row id (``[:WORKS_AT {_kb_id:
'relation:[3]'}]``), an attribute by its owner and name. Values are compared as the driver hands
them back (``comparable``): Python temporal values become Neo4j temporal text, so both sides print
alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kbgraph.verify.dump import graph_value, plain

MISSING, EXTRA, DIFFERS = "missing", "extra", "differs"
ABSENT = object()  # a property one side does not have


def comparable(v: Any) -> Any:
    """A value as the graph hands it back, in a form that compares and prints alike on both sides."""
    return plain(graph_value(v))


def show(v: Any) -> str:
    if v is ABSENT:
        return "(none)"
    return repr(v)


def name_of(label: str, names: Iterable[str], key: Iterable[Any]) -> str:
    """``Entity {id: 7}``."""
    return f"{label} {{" + ", ".join(f"{n}: {show(comparable(v))}" for n, v in zip(names, key)) + "}"


@dataclass(frozen=True)
class PropDiff:
    prop: str
    graph: Any
    source: Any

    def __str__(self) -> str:
        return f"{self.prop}: graph {show(self.graph)} ≠ source {show(self.source)}"


@dataclass(frozen=True)
class Difference:
    """One element that differs. ``ident`` is what re-checks match on; ``fix`` says how to repair it
    (a source row to upsert, or what to delete); it is not part of the identity."""

    kind: str  # MISSING / EXTRA / DIFFERS
    what: str  # the element, by key
    props: tuple[PropDiff, ...] = ()
    fix: Any = field(default=None, compare=False, hash=False)

    @property
    def ident(self) -> tuple[str, str]:
        return (self.kind, self.what)

    def __str__(self) -> str:
        if self.kind == DIFFERS:
            return f"{self.what}: " + "; ".join(map(str, self.props))
        return self.what


def diff_props(graph: dict[str, Any], source: dict[str, Any], owned: Any = None) -> tuple[PropDiff, ...]:
    """Property differences between a graph element and what its row says, in name order.

    ``owned(name)`` says which graph properties the comparison covers (default: all); every property
    the source gives is covered. A property whose value is ``None`` is absent (see
    ``kbgraph.mapping.columns.stored``).
    """
    names = {n for n in graph if owned is None or owned(n)} | {n for n, v in source.items() if v is not None}
    out = []
    for n in sorted(names):
        g = graph.get(n, ABSENT)
        s = source.get(n, ABSENT)
        g = ABSENT if g is None else g
        s = ABSENT if s is None else s
        gc = g if g is ABSENT else comparable(g)
        sc = s if s is ABSENT else comparable(s)
        if gc != sc:
            out.append(PropDiff(n, gc, sc))
    return tuple(out)


@dataclass
class RuleTotals:
    rule: str
    what: str  # "kb.entity → :Entity"
    rows: int = 0
    elements: int = 0  # graph elements scanned for extras
    rejected: int = 0  # rows the mappings reject (dead letters when synced): not differences
    counts: dict[str, int] = field(default_factory=lambda: {MISSING: 0, EXTRA: 0, DIFFERS: 0})
    shown: list[Difference] = field(default_factory=list)
    repaired: int = 0

    @property
    def differences(self) -> int:
        return sum(self.counts.values())


class Report:
    """Totals per rule and the first ``cap`` differences of each (the rest are only counted)."""

    def __init__(self, cap: int = 10) -> None:
        self.cap = cap
        self.rules: dict[str, RuleTotals] = {}
        self.rejected_examples: list[str] = []

    def rule(self, name: str, what: str) -> RuleTotals:
        t = self.rules.get(name)
        if t is None:
            t = self.rules[name] = RuleTotals(name, what)
        return t

    def add(self, rule: str, diffs: Iterable[Difference]) -> None:
        t = self.rules[rule]
        for d in diffs:
            t.counts[d.kind] += 1
            if len(t.shown) < self.cap:
                t.shown.append(d)

    def reject(self, rule: str, reason: str) -> None:
        self.rules[rule].rejected += 1
        if len(self.rejected_examples) < self.cap:
            self.rejected_examples.append(reason)

    @property
    def differences(self) -> int:
        return sum(t.differences for t in self.rules.values())

    def lines(self) -> list[str]:
        out = []
        for t in self.rules.values():
            c = t.counts
            head = (f"{t.rule} ({t.what}): {t.rows:,} rows, {t.elements:,} graph elements; "
                    f"{c[MISSING]} missing, {c[EXTRA]} extra, {c[DIFFERS]} differing")
            if t.rejected:
                head += f"; {t.rejected} rows the mappings reject"
            if t.repaired:
                head += f"; {t.repaired} repaired"
            out.append(head)
            for d in t.shown:
                out.append(f"  {d.kind:<8} {d}")
            rest = t.differences - len(t.shown)
            if rest > 0:
                out.append(f"  … and {rest} more")
        return out

    def as_json(self) -> dict[str, Any]:
        return {
            "equal": self.differences == 0,
            "differences": self.differences,
            "rules": [
                {"rule": t.rule, "what": t.what, "rows": t.rows, "graph_elements": t.elements,
                 "rejected": t.rejected, "repaired": t.repaired, **t.counts,
                 "shown": [{"kind": d.kind, "element": d.what,
                            "properties": [{"name": p.prop, "graph": _j(p.graph), "source": _j(p.source)}
                                           for p in d.props]} for d in t.shown]}
                for t in self.rules.values()
            ],
        }


def _j(v: Any) -> Any:
    return None if v is ABSENT else v


def still_there(first: Iterable[Difference], again: Iterable[Difference]) -> list[Difference]:
    """The re-check's differences that the first look also found (a difference that went away, or
    that only the re-check sees, was a sync in flight)."""
    seen = {d.ident for d in first}
    return [d for d in again if d.ident in seen]
