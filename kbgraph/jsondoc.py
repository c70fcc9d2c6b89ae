"""One rule for JSON column values, whatever the source.

A JSON column's value in a ``Change`` is its *document*: a dict, list, number, bool, or a string
document. A source that parses the column (the binlog, a snapshot, Debezium's ``Json`` type) hands a
string document over as ``JsonString``, so it is never parsed a second time; any other ``str`` or
``bytes`` in a JSON column is JSON *text* (what JSON sources such as Debezium's MariaDB connector,
Maxwell or a JSONL file send) and the mapping's ``type: json`` parses it. So ``'"just text"'`` stored
in MariaDB becomes the graph string ``just text`` from every source, and ``'"{\\"a\\": 1}"'`` stays the
string ``{"a": 1}`` instead of turning into a map.
"""

from __future__ import annotations

import json
from typing import Any

import orjson


class JsonString(str):
    """A JSON document that is a string, already parsed: not JSON text."""

    __slots__ = ()


def parse_json(v: Any) -> Any:
    """The document of JSON text (``str``/``bytes``); a string document comes back as ``JsonString``.

    Raises ``ValueError`` when the text is not JSON. Anything else (already parsed) is returned as is."""
    if isinstance(v, JsonString):
        return v
    if isinstance(v, (str, bytes, bytearray)):
        try:
            doc = orjson.loads(v)
        except orjson.JSONDecodeError:
            doc = json.loads(v)  # integers beyond 64 bits; raises ValueError for what is not JSON
        return JsonString(doc) if isinstance(doc, str) else doc
    return v
