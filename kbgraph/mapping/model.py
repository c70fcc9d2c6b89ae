"""The shape of a mapping file, as pydantic v2 models.

This is the contract between the YAML a user writes (``mappings/*.yaml``) and the compiler that
turns it into rules. Structural checks live here; checks that need the whole file (names unique,
endpoint keys matching the target label's key, columns of a known source table) live in
``kbgraph.mapping.validate``. Error messages are turned into ``file:line: key: message`` by
``kbgraph.mapping.loader``.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# Identifiers that become labels or relationship types. Every one is emitted escaped (backticks),
# so any script works (`诗人`, `Città`); a name must start with a letter (of any script) or '_' and
# hold letters, digits, '_' and inner spaces or '-', '.', ':' — what reads well in Neo4j Browser.
# Refused: empty names, edge or control whitespace, backticks, and anything else Cypher or a
# column value's round trip could not carry safely.
NAME_RE = re.compile(r"^[^\W\d](?:[\w .:-]*\w)?\Z")
# Property keys may also hold dots (flattened JSON) and non-ASCII letters (e.g. Chinese).
PROPERTY_RE = re.compile(r"^[^\s`\x00-\x1f][^`\x00-\x1f]*$")
INTERNAL_PREFIX = "_kb"

ValueType = Literal[
    "auto", "int", "float", "str", "bool", "decimal", "date", "datetime", "time", "json", "bytes"
]


def _check_name(value: str, what: str) -> str:
    if not NAME_RE.match(value):
        raise ValueError(
            f"{what} {value!r} must start with a letter (of any script) or '_' and hold only letters, digits, "
            "'_' and inner spaces, '-', '.' or ':'"
        )
    if value.startswith(INTERNAL_PREFIX):
        raise ValueError(f"{what} {value!r}: names starting with {INTERNAL_PREFIX!r} are kbgraph's own")
    return value


def check_property_key(value: str) -> str:
    if not value or not PROPERTY_RE.match(value) or value != value.strip():
        raise ValueError(f"property key {value!r} is empty, has a backtick, control character or edge space")
    if value.startswith(INTERNAL_PREFIX):
        raise ValueError(f"property key {value!r}: names starting with {INTERNAL_PREFIX!r} are kbgraph's own")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Options(_Strict):
    """How values without an explicit choice are converted. Defaults for every rule of the file."""

    decimal: Literal["string", "float"] = Field(
        "string", description="DECIMAL columns: exact text (default) or a float"
    )
    json_: Literal["flatten", "string"] = Field(
        "flatten", alias="json", description="JSON columns: a map flattened to dotted keys, or kept as JSON text"
    )
    bytes: Literal["base64", "hex"] = Field("base64", description="binary columns as base64 or hex text")


class Column(_Strict):
    """A column and how its value becomes a graph value."""

    column: str = Field(description="column of the rule's table")
    type: ValueType = Field("auto", description="conversion; auto keeps the source's own type")
    decimal: Literal["string", "float"] | None = Field(
        None, description="DECIMAL values: exact text or a float; default: the file's options.decimal"
    )
    json_: Literal["flatten", "string"] | None = Field(
        None, alias="json", description="JSON values: flattened to dotted keys or JSON text; default: options.json"
    )
    bytes: Literal["base64", "hex"] | None = Field(
        None, description="binary values as base64 or hex text; default: options.bytes"
    )


ColumnRef = str | Column


def column_name(ref: ColumnRef) -> str:
    return ref if isinstance(ref, str) else ref.column


class FromColumn(_Strict):
    """A label or relationship type taken from a column value, restricted to an allow-list."""

    column: str = Field(description="column of the rule's table whose value is the name")
    allow: list[str] = Field(
        min_length=1,
        description="the only values that may become names; a row with another value is a dead letter",
    )

    @field_validator("allow")
    @classmethod
    def _names(cls, v: list[str]) -> list[str]:
        for name in v:
            _check_name(name, "allowed name")
        if len(set(v)) != len(v):
            raise ValueError("allow-list has a repeated name")
        return v


class DebeziumSettings(_Strict):
    """The Debezium connector's settings for this schema's topics (Debezium's defaults), needed to read
    its payload-only records (``schemas.enable=false``) and to check values such as BIGINT UNSIGNED."""

    time_precision_mode: Literal["adaptive_time_microseconds", "adaptive", "connect"] = Field(
        "adaptive_time_microseconds", alias="time.precision.mode",
        description="the connector's time.precision.mode: how it encodes DATE, TIME, DATETIME, TIMESTAMP")
    decimal_handling_mode: Literal["precise", "double", "string"] = Field(
        "precise", alias="decimal.handling.mode", description="the connector's decimal.handling.mode")
    bigint_unsigned_handling_mode: Literal["long", "precise"] = Field(
        "long", alias="bigint.unsigned.handling.mode",
        description="the connector's bigint.unsigned.handling.mode (long: values above 2^63-1 arrive negative)")
    binary_handling_mode: Literal["bytes", "base64", "base64-url-safe", "hex"] = Field(
        "bytes", alias="binary.handling.mode", description="the connector's binary.handling.mode")
    connector: Literal["mariadb", "mysql"] = Field("mariadb", description="Debezium's MariaDB or MySQL connector")


class SourceSpec(_Strict):
    """Where the rows come from."""

    schema_: str | None = Field(
        None, alias="schema",
        description="source database / schema name; changes of other databases are not this file's; unset: a table of that name in any database",
    )
    ddl: str | None = Field(
        None, description="SQL file with the CREATE TABLE statements (path relative to this file)"
    )
    debezium: DebeziumSettings = Field(
        default_factory=DebeziumSettings, description="the Debezium connector's settings (Kafka source only)"
    )


def _props(v: dict[str, ColumnRef]) -> dict[str, ColumnRef]:
    for key in v:
        check_property_key(key)
    return v


class EntityRule(_Strict):
    """A row of ``table`` is one node."""

    name: str | None = Field(None, description="rule name; defaults to the table name")
    table: str = Field(description="source table whose rows are the nodes")
    label: str | list[str] = Field(description="fixed label(s); the first is the node's identity label")
    label_from: FromColumn | None = Field(
        None, description="one more label, taken from a column's value through an allow-list"
    )
    key: list[str] | dict[str, ColumnRef] = Field(
        description="key columns (property = column name) or {property: column}"
    )
    properties: dict[str, ColumnRef] = Field(
        default_factory=dict, description="{node property: column}; a NULL value removes the property"
    )
    where: str | None = Field(None, description="row filter, e.g. 'deleted = 0'; other rows are not in the graph")

    @field_validator("label")
    @classmethod
    def _labels(cls, v: str | list[str]) -> str | list[str]:
        names = [v] if isinstance(v, str) else v
        if not names:
            raise ValueError("at least one label is needed")
        for name in names:
            _check_name(name, "label")
        return v

    @field_validator("key")
    @classmethod
    def _key(cls, v: list[str] | dict[str, ColumnRef]) -> list[str] | dict[str, ColumnRef]:
        if not v:
            raise ValueError("at least one key column is needed")
        for k in v:
            check_property_key(k)
        return v

    _p = field_validator("properties")(classmethod(lambda cls, v: _props(v)))

    @property
    def labels(self) -> list[str]:
        return [self.label] if isinstance(self.label, str) else list(self.label)

    @property
    def key_columns(self) -> dict[str, ColumnRef]:
        return {c: c for c in self.key} if isinstance(self.key, list) else dict(self.key)


class Endpoint(_Strict):
    """A node a relationship or property attaches to: its identity label and key."""

    label: str = Field(description="the identity label (first label) of an entity rule's nodes")
    key: dict[str, ColumnRef] = Field(description="{node key property: column of this table}")

    _l = field_validator("label")(classmethod(lambda cls, v: _check_name(v, "label")))

    @field_validator("key")
    @classmethod
    def _key(cls, v: dict[str, ColumnRef]) -> dict[str, ColumnRef]:
        if not v:
            raise ValueError("at least one key property is needed")
        for k in v:
            check_property_key(k)
        return v


class RelationRule(_Strict):
    """A row of ``table`` is one relationship."""

    name: str | None = Field(None, description="rule name, unique among relation rules; defaults to the table name")
    table: str = Field(description="source table whose rows are the relationships")
    type: str | None = Field(None, description="a fixed relationship type (give this or type_from)")
    type_from: FromColumn | None = Field(
        None, description="the type taken from a column's value through an allow-list (give this or type)"
    )
    from_: Endpoint = Field(alias="from", description="the start node (created as a stub if it is not there)")
    to: Endpoint = Field(description="the end node (created as a stub if it is not there)")
    key: list[str] | None = Field(
        None,
        description="columns identifying the row (its primary key); default: the key of an entity rule of the same "
        "table, else the endpoint and type columns",
    )
    properties: dict[str, ColumnRef] = Field(default_factory=dict, description="{relationship property: column}")
    where: str | None = Field(None, description="row filter; other rows make no relationship")

    _t = field_validator("type")(classmethod(lambda cls, v: v if v is None else _check_name(v, "relationship type")))
    _p = field_validator("properties")(classmethod(lambda cls, v: _props(v)))

    @model_validator(mode="after")
    def _one_type(self) -> RelationRule:
        if (self.type is None) == (self.type_from is None):
            raise ValueError("give exactly one of 'type' and 'type_from'")
        return self


class PropertyRule(_Strict):
    """A row of a key/value (EAV) table is one property of an owner node."""

    name_: str | None = Field(None, alias="rule", description="rule name; defaults to the table name")
    table: str = Field(description="source (key/value) table")
    owner: Endpoint = Field(description="the node the property belongs to (created as a stub if it is not there)")
    name: str = Field(description="column holding the attribute name")
    value: ColumnRef = Field(description="column holding the attribute value")
    as_: Literal["node_property", "property_node"] = Field(
        "node_property", alias="as",
        description="node_property: owner[name] = value; property_node: (owner)-[rel_type]->(:label {name, value})",
    )
    label: str = Field("Property", description="label of property nodes (as: property_node)")
    rel_type: str = Field("HAS_PROPERTY", description="type of owner -> property node relationships")
    key: list[str] | None = Field(
        None, description="columns identifying the row; default: the owner key columns and the name column"
    )
    where: str | None = Field(None, description="row filter; other rows give no property")

    _l = field_validator("label", "rel_type")(classmethod(lambda cls, v: _check_name(v, "name")))


class MappingFile(_Strict):
    """One mapping file: how the tables of one source schema become graph elements."""

    source: SourceSpec = Field(default_factory=SourceSpec, description="where the rows come from")
    options: Options = Field(default_factory=Options, description="value conversion defaults for every rule")
    entities: list[EntityRule] = Field(default_factory=list, description="rules: a row is a node")
    relations: list[RelationRule] = Field(default_factory=list, description="rules: a row is a relationship")
    properties: list[PropertyRule] = Field(
        default_factory=list, description="rules: a key/value row is a property of a node, or a property node"
    )
