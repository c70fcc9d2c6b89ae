"""Checks that need more than one rule or file: names, labels, keys, columns, where-expressions.

``check_files`` returns messages already formatted ``file:line: key.path: text``; the loader
raises them together. Each check names what to change.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from kbgraph.mapping.model import Column, ColumnRef, Endpoint, EntityRule, PropertyRule, RelationRule
from kbgraph.mapping.where import compile_where

if TYPE_CHECKING:
    from kbgraph.mapping.loader import LoadedFile

__all__ = ["check_files", "closest", "format_path"]

Loc = tuple[str | int, ...]


class _Report:
    def __init__(self, files: list[LoadedFile]) -> None:
        self.order = {id(lf): i for i, lf in enumerate(files)}
        self.items: list[tuple[int, int, str]] = []

    def add(self, lf: LoadedFile, loc: Loc, text: str, line_loc: Loc | None = None) -> None:
        """A problem shown at key path ``loc``, on the line of ``line_loc`` (default ``loc``)."""
        line = lf.line_of(line_loc if line_loc is not None else loc)
        head = f"{lf.path}:{line}" if line is not None else str(lf.path)
        msg = f"{head}: {format_path(loc)}: {text}" if loc else f"{head}: {text}"
        self.items.append((self.order.get(id(lf), 0), line or 0, msg))

    @property
    def lines(self) -> list[str]:
        """Messages by file, then line (stable within a line)."""
        return [msg for _, _, msg in sorted(self.items, key=lambda t: (t[0], t[1]))]


def format_path(loc: Loc) -> str:
    """``("relations", 0, "from", "key")`` → ``relations[0].from.key``."""
    out = ""
    for seg in loc:
        if isinstance(seg, int):
            out += f"[{seg}]"
        elif seg and not any(c in seg for c in ".[]'\" \t"):
            out += f".{seg}" if out else seg
        else:
            out += f"[{seg!r}]"
    return out


def _at(lf: LoadedFile, loc: Loc) -> str:
    return f"{format_path(loc)} at {lf.path}:{lf.line_of(loc)}"


def closest(name: str, options: list[str]) -> str | None:
    """The option a typo most likely meant: same but for case, swapped letters, cut short, or close."""
    for o in options:
        if o.lower() == name.lower():
            return o
    for o in options:
        if sorted(o.lower()) == sorted(name.lower()):
            return o
    if len(name) >= 3:
        for o in options:
            if o.lower().startswith(name.lower()):  # cut short: 'src' for 'src_id'
                return o
    close = difflib.get_close_matches(name, options, n=1, cutoff=0.75)
    return close[0] if close else None


def _typo_of(name: str, options: list[str]) -> str | None:
    """An option equal to name but for case or two swapped letters (never a deliberate name)."""
    for o in options:
        if o != name and (o.lower() == name.lower() or sorted(o.lower()) == sorted(name.lower())):
            return o
    return None


def _suggest(name: str, options: list[str]) -> str:
    hit = closest(name, options)
    return f" (did you mean {hit!r}?)" if hit else ""


def _ref_line(loc: Loc, ref: ColumnRef) -> Loc:
    return loc + ("column",) if isinstance(ref, Column) else loc


# (shown key path, line key path, column) for every column a rule names, except where-expressions


def _key_map(loc: Loc, key: dict[str, ColumnRef]) -> Iterator[tuple[Loc, Loc, str]]:
    for prop, ref in key.items():
        yield loc, _ref_line(loc + (prop,), ref), ref if isinstance(ref, str) else ref.column


def _key_list(loc: Loc, key: list[str] | None) -> Iterator[tuple[Loc, Loc, str]]:
    for j, col in enumerate(key or []):
        yield loc, loc + (j,), col


def _props(loc: Loc, props: dict[str, ColumnRef]) -> Iterator[tuple[Loc, Loc, str]]:
    for prop, ref in props.items():
        yield loc + (prop,), _ref_line(loc + (prop,), ref), ref if isinstance(ref, str) else ref.column


def _columns_named(base: Loc, rule: EntityRule | RelationRule | PropertyRule) -> Iterator[tuple[Loc, Loc, str]]:
    if isinstance(rule, EntityRule):
        if isinstance(rule.key, list):
            yield from _key_list(base + ("key",), rule.key)
        else:
            yield from _key_map(base + ("key",), rule.key)
        yield from _props(base + ("properties",), rule.properties)
        if rule.label_from:
            yield base + ("label_from", "column"), base + ("label_from", "column"), rule.label_from.column
    elif isinstance(rule, RelationRule):
        if rule.type_from:
            yield base + ("type_from", "column"), base + ("type_from", "column"), rule.type_from.column
        yield from _key_map(base + ("from", "key"), rule.from_.key)
        yield from _key_map(base + ("to", "key"), rule.to.key)
        yield from _key_list(base + ("key",), rule.key)
        yield from _props(base + ("properties",), rule.properties)
    else:
        yield from _key_map(base + ("owner", "key"), rule.owner.key)
        yield base + ("name",), base + ("name",), rule.name
        yield base + ("value",), _ref_line(base + ("value",), rule.value), (
            rule.value if isinstance(rule.value, str) else rule.value.column
        )
        yield from _key_list(base + ("key",), rule.key)


def _rules(lf: LoadedFile) -> Iterator[tuple[Loc, Any]]:
    m = lf.model
    for kind, rules in (("entities", m.entities), ("relations", m.relations), ("properties", m.properties)):
        for i, rule in enumerate(rules):
            yield (kind, i), rule


def _rule_name(rule: EntityRule | RelationRule | PropertyRule) -> tuple[str, str]:
    """(name, key the name comes from)."""
    if isinstance(rule, PropertyRule):
        return (rule.name_, "rule") if rule.name_ else (rule.table, "table")
    return (rule.name, "name") if rule.name else (rule.table, "table")


_SINGULAR = {"entities": "entity", "relations": "relation", "properties": "property"}


def _check_names(files: list[LoadedFile], out: _Report) -> None:
    seen: dict[tuple[str, str], tuple[LoadedFile, Loc]] = {}
    for lf in files:
        for base, rule in _rules(lf):
            name, field = _rule_name(rule)
            kind = str(base[0])
            first = seen.get((kind, name))
            if first is None:
                seen[(kind, name)] = (lf, base)
                continue
            set_key = "rule" if kind == "properties" else "name"
            kind = _SINGULAR[kind]
            if field == "table":
                text = (
                    f"{kind} rule name {name!r} (its table) is already used by {_at(*first)}; "
                    f"set `{set_key}:` on one of them to tell them apart"
                )
            else:
                text = f"{kind} rule name {name!r} is already used by {_at(*first)}; choose another `{set_key}:`"
            out.add(lf, base + (field,), text)


def _identity_rules(files: list[LoadedFile]) -> dict[str, tuple[LoadedFile, Loc, EntityRule]]:
    ids: dict[str, tuple[LoadedFile, Loc, EntityRule]] = {}
    for lf in files:
        for i, rule in enumerate(lf.model.entities):
            ids.setdefault(rule.labels[0], (lf, ("entities", i), rule))
    return ids


def _check_labels(files: list[LoadedFile], out: _Report) -> None:
    ids = _identity_rules(files)
    other_labels: dict[str, EntityRule] = {}  # non-identity label -> an entity rule that sets it
    stub_keys: dict[str, tuple[LoadedFile, Loc, Endpoint]] = {}
    for lf in files:
        for i, rule in enumerate(lf.model.entities):
            base: Loc = ("entities", i)
            owner = ids[rule.labels[0]]
            if owner[2] is not rule:
                out.add(lf, base + ("label",), (
                    f"identity label {rule.labels[0]!r} (the first label) is already the identity label of "
                    f"{_at(owner[0], owner[1])}; each entity rule needs its own first label"
                ))
            for name in rule.labels[1:] + (rule.label_from.allow if rule.label_from else []):
                other_labels.setdefault(name, rule)
            if rule.label_from:
                for j, name in enumerate(rule.label_from.allow):
                    hit = ids.get(name)
                    if hit and hit[2] is not rule:
                        out.add(lf, base + ("label_from", "allow", j), (
                            f"label {name!r} is the identity label of {_at(hit[0], hit[1])}; "
                            "nodes of two rules would share it"
                        ))
        endpoints: list[tuple[Loc, Endpoint]] = []
        for i, rel in enumerate(lf.model.relations):
            endpoints += [(("relations", i, "from"), rel.from_), (("relations", i, "to"), rel.to)]
        for i, prop in enumerate(lf.model.properties):
            endpoints.append((("properties", i, "owner"), prop.owner))
            if prop.as_ == "property_node" and prop.label in ids:
                hit = ids[prop.label]
                out.add(lf, ("properties", i, "label"), (
                    f"label {prop.label!r} is the identity label of {_at(hit[0], hit[1])}; "
                    "property nodes need a label of their own"
                ))
        for loc, ep in endpoints:
            _check_endpoint(lf, loc, ep, ids, other_labels, out)
            if ep.label not in ids and ep.label not in other_labels:  # a label only endpoints name (stub nodes)
                first = stub_keys.setdefault(ep.label, (lf, loc, ep))
                if set(first[2].key) != set(ep.key):
                    out.add(lf, loc + ("key",), (
                        f"nodes labelled {ep.label!r} are keyed by {', '.join(map(repr, first[2].key))} at "
                        f"{_at(first[0], first[1] + ('key',))}; use the same key properties here"
                    ))


def _check_endpoint(
    lf: LoadedFile, loc: Loc, ep: Endpoint, ids: dict[str, tuple[LoadedFile, Loc, EntityRule]],
    other_labels: dict[str, EntityRule], out: _Report,
) -> None:
    hit = ids.get(ep.label)
    if hit is None:
        if ep.label in other_labels:
            rule = other_labels[ep.label]
            out.add(lf, loc + ("label",), (
                f"{ep.label!r} is not an identity label; nodes of entity rule {_rule_name(rule)[0]!r} "
                f"are found by their first label {rule.labels[0]!r}"
            ))
        else:
            typo = _typo_of(ep.label, sorted(ids))
            if typo:  # an endpoint label no entity rule owns only ever gets stub nodes: a typo here is silent
                out.add(lf, loc + ("label",), (
                    f"no entity rule has the identity label {ep.label!r}; did you mean {typo!r}?"
                ))
        return
    want = list(hit[2].key_columns)
    if set(ep.key) != set(want):
        out.add(lf, loc + ("key",), (
            f"nodes labelled {ep.label!r} are keyed by {', '.join(map(repr, want))} "
            f"(see {_at(hit[0], hit[1])}); use exactly those key properties here, not {', '.join(map(repr, ep.key))}"
        ))


def _check_columns_and_where(files: list[LoadedFile], out: _Report) -> None:
    for lf in files:
        ddl = lf.model.source.ddl
        for base, rule in _rules(lf):
            pred = None
            if rule.where is not None:
                try:
                    pred = compile_where(rule.where)
                except ValueError as exc:
                    out.add(lf, base + ("where",), f"invalid where-expression: {exc}")
            if isinstance(rule, EntityRule):
                keys = set(rule.key_columns)
                for prop in rule.properties:
                    if prop in keys:
                        out.add(lf, base + ("properties", prop), (
                            f"property {prop!r} is also a key property of this rule; keys are stored already"
                        ))
            if lf.tables is None:
                continue
            columns = lf.tables.get(rule.table)
            if columns is None:
                out.add(lf, base + ("table",), (
                    f"table {rule.table!r} is not in {ddl}{_suggest(rule.table, sorted(lf.tables))}"
                ))
                continue
            known = set(columns)
            for shown, line_loc, col in _columns_named(base, rule):
                if col not in known:
                    out.add(lf, shown, (
                        f"column {col!r} is not a column of table {rule.table!r}{_suggest(col, columns)}"
                    ), line_loc)
            if pred is not None:
                for col in sorted(pred.columns - known):
                    out.add(lf, base + ("where",), (
                        f"column {col!r} in the where-expression is not a column of table "
                        f"{rule.table!r}{_suggest(col, columns)}"
                    ))


def check_files(files: list[LoadedFile]) -> list[str]:
    """Cross-checks over all loaded files; messages formatted ``file:line: key.path: text``."""
    out = _Report(files)
    _check_names(files, out)
    _check_labels(files, out)
    _check_columns_and_where(files, out)
    return out.lines
