"""What every compiled rule reads a row with: converted columns, property diffs, chosen names."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from enum import IntEnum
from typing import Any

import orjson

from kbgraph.errors import ChangeError
from kbgraph.graph.ops import GraphOp
from kbgraph.mapping.convert import INT_MAX, INT_MIN, Flattened, compile_converter
from kbgraph.mapping.model import ColumnRef, FromColumn, Options, column_name
from kbgraph.mapping.where import compile_where

Row = dict[str, Any]
Props = dict[str, Any]


class Phase(IntEnum):
    """The buckets of one change's operations, applied in this order (each rule appends to
    ``out[phase]``; the change's operations are the buckets concatenated)."""

    REMOVE = 0  # relationships, attributes and property nodes that go; TRUNCATE of those
    REKEY = 1  # a node moves to its new key (stub merge, cascades)
    NODE_DELETE = 2  # a node the row no longer maps to is stripped to a stub; TRUNCATE of entities
    NODE_UPSERT = 3  # entity nodes created or filled
    UPSERT = 4  # relationships, attributes and property nodes set; JSON leaves pruned


# the members by name, as the rules index their buckets with them (module globals: the hot path)
REMOVE, REKEY, NODE_DELETE, NODE_UPSERT, UPSERT = Phase
PHASES = range(len(Phase))
Buckets = list[list[GraphOp]]  # one list of graph operations per Phase


def buckets() -> Buckets:
    """An empty list of operations per phase."""
    return [[] for _ in PHASES]


def _always(row: Row) -> bool:
    return True


# Values of these exact types need no conversion for a column of that type (the hot path); an int
# only inside the graph's 64-bit range (the converter refuses one outside it, as a dead letter).
_AS_IS: dict[str, tuple[type, ...]] = {
    "auto": (int, str, float, bool), "int": (int,), "str": (str,), "float": (float,), "bool": (bool,),
}


class Columns:
    """Named columns read from a row and converted: ``{prop: converter(row[column])}``."""

    def __init__(self, refs: dict[str, ColumnRef], options: Options) -> None:
        self.items = [
            (prop, column_name(ref), compile_converter(ref, options), _AS_IS.get("auto" if isinstance(ref, str) else ref.type, ()))
            for prop, ref in refs.items()
        ]

    @property
    def names(self) -> list[str]:
        return [item[0] for item in self.items]

    @property
    def columns(self) -> list[str]:
        return [item[1] for item in self.items]

    def key(self, row: Row) -> tuple[Any, ...] | None:
        """The key values, or None when any is NULL (a NULL foreign key means no element)."""
        out = []
        for _, col, conv, as_is in self.items:
            v = row.get(col)
            if v is None:
                return None
            if type(v) in as_is and (type(v) is not int or INT_MIN <= v <= INT_MAX):  # inline: the hot path
                out.append(v)
                continue
            v = conv(v)
            if v is None:
                return None
            if isinstance(v, (dict, list)):
                raise ChangeError(f"column {col!r} holds a {type(v).__name__}, which cannot be a key", kind="key_value")
            out.append(v)
        return tuple(out)

    def props(self, row: Row) -> Props:
        out: Props = {}
        for prop, col, conv, as_is in self.items:
            v = row.get(col)
            if v is None:
                continue
            if type(v) in as_is and (type(v) is not int or INT_MIN <= v <= INT_MAX):  # inline: the hot path
                out[prop] = v
                continue
            v = conv(v)
            if v is None:
                continue
            if isinstance(v, Flattened):
                for sub, leaf in v.items():
                    out[f"{prop}.{sub}"] = leaf
            else:
                out[prop] = v
        return out


def stored(props: Props) -> Props:
    """What the graph holds after ``SET x += props``: a property whose value is ``None`` is no property.

    The one rule for values Neo4j cannot store, shared by the writer's mapping and ``kbgraph verify``:
    a JSON ``null`` leaf (``{"note": null}``) and SQL NULL become ``None``, which the writer sends to
    remove the property and verify expects to be absent; an empty JSON map becomes the text ``"{}"``
    and an empty list ``[]`` (``convert.py``); an integer outside the graph's 64-bit range (``BIGINT
    UNSIGNED`` above 2^63-1) is a ``ConversionError``: the row is rejected (a dead letter when synced,
    counted as rejected, not as a difference, by verify).
    """
    return {k: v for k, v in props.items() if v is not None}


def nulls(props: Props) -> Props:
    return dict.fromkeys(props)


def state(names: Sequence[str], new: Props, old: Props | None = None) -> Props:
    """What ``SET x += state`` needs to make a present element hold exactly ``new`` (state-based).

    Every mapped property name is written: its value, or NULL (which removes it) when the row has
    none. Flattened JSON leaves of the old image that the new one lacks are removed too. Properties
    the rule does not own (kbgraph's ``_kb*``, attributes from other tables) are left alone.
    """
    out = dict.fromkeys(names)
    if old:
        out.update(dict.fromkeys(old))
    out.update(new)
    return out


def _json(v: Any) -> str:
    return orjson.dumps(v, default=str).decode()


def row_id(rule: str, cols: Sequence[str], row: Row) -> str:
    return rule + ":" + _json([row.get(c) for c in cols])


def cascade_values(row: Row, cols: Sequence[str]) -> list[str]:
    """The values of ``cols`` as they appear inside a row id (JSON), for a re-key cascade."""
    return [_json(row.get(c)) for c in cols]


def cascade_id(record: Any) -> dict[str, Any] | None:
    """A re-key cascade: the row id ``record["id"]`` with the re-keyed columns' values replaced.

    ``pos`` are the positions of the columns that follow the re-keyed node, ``ov`` / ``nv`` their
    old and new values as JSON. Only an id that holds the whole old key there is rewritten: any
    other (one that already belongs to the new key, e.g. from a merged stub) is left alone.
    """
    rid: str = record["id"]
    at = rid.find(":[")
    prefix, body = rid[:at], rid[at + 1:]
    try:
        values = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    moves = list(zip(record["pos"], record["ov"], record["nv"]))
    if not all(i < len(values) and _json(values[i]) == ov for i, ov, _ in moves):
        return None
    for i, _, nv in moves:
        values[i] = orjson.loads(nv)
    new = prefix + ":" + _json(values)
    return None if new == rid else {"old": rid, "new": new}


class Chooser:
    """A label or type from a column value, through an allow-list."""

    def __init__(self, spec: FromColumn, what: str, rule: str) -> None:
        self.column = spec.column
        self.allow = list(spec.allow)
        self.what = what
        self.rule = rule

    def __call__(self, row: Row) -> str | None:
        v = row.get(self.column)
        if v is None:
            return None
        if v not in self.allow:
            v2 = str(v)
            if v2 not in self.allow:
                raise ChangeError(
                    f"rule {self.rule!r}: value {v2[:80]!r} of column {self.column!r} is not an allowed "
                    f"{self.what} ({', '.join(self.allow)})", kind="allow_list"
                )
            return v2
        return str(v)  # in the allow-list: one of its texts


def where_of(text: str | None) -> Callable[[Row], bool]:
    return compile_where(text) if text else _always
