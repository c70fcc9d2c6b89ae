"""MySQL / MariaDB data type families: one table (``FAMILY``), the sets derived from it.

Names are ``information_schema.COLUMNS.DATA_TYPE`` in lower case, plus the aliases a ``COLUMN_TYPE``
or a Canal ``mysqlType`` can spell (``integer``, ``dec``, ``fixed``, ``real``, ``double precision``,
``bool``). MariaDB-only types (``uuid``, ``inet4``, ``inet6``) are listed as text: that is how the
server prints them. MariaDB's JSON is a LONGTEXT with a ``json_valid()`` check, so its DATA_TYPE is
``longtext``; ``kbgraph.mysql.catalog`` reports such a column as ``json`` when asked to.
"""

from __future__ import annotations

INTEGER = "integer"
DECIMAL = "decimal"
FLOAT = "float"
DATE = "date"  # calendar values that can be zero or partial: DATE, DATETIME, TIMESTAMP
TIME = "time"
YEAR = "year"
TEXT = "text"
BINARY = "binary"
JSON = "json"
BIT = "bit"
ENUM = "enum"
SET = "set"

FAMILY: dict[str, str] = {
    "tinyint": INTEGER, "smallint": INTEGER, "mediumint": INTEGER, "int": INTEGER, "integer": INTEGER,
    "bigint": INTEGER,
    "decimal": DECIMAL, "numeric": DECIMAL, "dec": DECIMAL, "fixed": DECIMAL,
    "float": FLOAT, "double": FLOAT, "real": FLOAT, "double precision": FLOAT,
    "date": DATE, "datetime": DATE, "timestamp": DATE,
    "time": TIME,
    "year": YEAR,
    "char": TEXT, "varchar": TEXT, "tinytext": TEXT, "text": TEXT, "mediumtext": TEXT, "longtext": TEXT,
    "uuid": TEXT, "inet4": TEXT, "inet6": TEXT,
    "binary": BINARY, "varbinary": BINARY, "tinyblob": BINARY, "blob": BINARY, "mediumblob": BINARY,
    "longblob": BINARY,
    "json": JSON,
    "bit": BIT, "bool": BIT, "boolean": BIT,
    "enum": ENUM,
    "set": SET,
}


def family(data_type: str) -> str | None:
    """The family of a data type (``None`` for one not listed: geometry, vector, ...)."""
    return FAMILY.get(data_type.lower())


def of(*families: str) -> frozenset[str]:
    """Every data type name of the given families."""
    return frozenset(t for t, f in FAMILY.items() if f in families)


INTEGERS = of(INTEGER)
DECIMALS = of(DECIMAL)
FLOATS = of(FLOAT)
DATES = of(DATE)
BINARIES = of(BINARY)
BLOBS = BINARIES - {"binary"}  # variable length: no padding to restore
TEXTS = of(TEXT) - {"uuid", "inet4", "inet6"}  # the character types proper


def base_type(column_type: str) -> str:
    """The base type of a ``COLUMN_TYPE`` text: ``decimal(10,2)`` -> decimal, ``int(11) unsigned`` -> int,
    ``double precision`` -> double precision."""
    text = column_type.strip().lower()
    if text.startswith("double precision"):
        return "double precision"
    return text.split("(", 1)[0].split(" ", 1)[0]
