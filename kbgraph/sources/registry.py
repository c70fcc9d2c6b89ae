"""Which module builds which source: for ``kbgraph sync --source NAME`` and ``kbgraph verify --source NAME``.

``SOURCES`` names, per sync source, a function ``from_settings(settings, mapping) -> Source``; it is
imported only when that source is used, so a missing optional client never breaks the others. Each
``from_settings`` is typed to take its component's spec (``kbgraph.settings``); the CLI's
``Settings`` holds them all.

``CURRENT_ROWS`` names, per verify source, what reads the rows a source holds now (``verify``
compares the graph with them): ``snapshot`` with plain SELECTs, ``jsonl`` from a file of inserts.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from kbgraph.errors import KbgraphError, SourceError

if TYPE_CHECKING:
    from kbgraph.mapping.rules import Mapping
    from kbgraph.settings import BinlogSettings, JsonlSettings, Settings
    from kbgraph.sources import Source
    from kbgraph.verify_rows import FileRows, SqlRows

SOURCES = {
    "jsonl": "kbgraph.sources.jsonl:from_settings",
    "binlog": "kbgraph.sources.binlog:from_settings",
    "kafka": "kbgraph.sources.kafka:from_settings",
}


def build_source(name: str, settings: Settings, mapping: Mapping) -> Source:
    try:
        target = SOURCES[name]
    except KeyError:
        raise KbgraphError(f"unknown source {name!r}; choose one of {', '.join(SOURCES)}") from None
    module, func = target.split(":")
    source: Source = getattr(importlib.import_module(module), func)(settings, mapping)
    return source


def _sql_rows(settings: BinlogSettings, mapping: Mapping) -> SqlRows:
    from kbgraph.sources.binlog.server import ConnInfo
    from kbgraph.verify_rows import SqlRows

    if settings.mysql_url is None:
        raise SourceError("verify needs mysql_url (KBGRAPH_MYSQL_URL=mysql://user:password@host:3306)")
    return SqlRows(ConnInfo.from_url(settings.mysql_url.get_secret_value()), mapping)


def _file_rows(settings: JsonlSettings, mapping: Mapping) -> FileRows:
    from kbgraph.verify_rows import FileRows

    if settings.changes is None:
        raise SourceError("verify --source jsonl needs --changes FILE")
    return FileRows(Path(settings.changes))


CURRENT_ROWS: dict[str, Callable[[Settings, Mapping], FileRows | SqlRows]] = {"snapshot": _sql_rows, "jsonl": _file_rows}


def current_rows(name: str, settings: Settings, mapping: Mapping) -> FileRows | SqlRows:
    """The reader of the rows ``verify --source NAME`` compares the graph with (the caller closes it)."""
    try:
        build = CURRENT_ROWS[name]
    except KeyError:
        raise KbgraphError(f"verify reads rows from {' or '.join(map(repr, CURRENT_ROWS))}, not {name!r}") from None
    return build(settings, mapping)
