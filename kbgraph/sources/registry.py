"""Which module builds which source: for ``kbgraph sync --source NAME`` and ``kbgraph verify --source NAME``.

``SOURCES`` names, per sync source, a function ``from_settings(settings, mapping) -> Source``; it is
imported only when that source is used, so a missing optional client never breaks the others. Each
``from_settings`` is typed to take its component's spec (``kbgraph.settings``); the CLI's
``Settings`` holds them all.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from kbgraph.errors import KbgraphError

if TYPE_CHECKING:
    from kbgraph.mapping.rules import CompiledMapping
    from kbgraph.settings import Settings
    from kbgraph.sources import Source

SOURCES = {
    "jsonl": "kbgraph.sources.jsonl:from_settings",
    "binlog": "kbgraph.sources.binlog:from_settings",
    "kafka": "kbgraph.sources.kafka:from_settings",
}


def build_source(name: str, settings: Settings, mapping: CompiledMapping) -> Source:
    try:
        target = SOURCES[name]
    except KeyError:
        raise KbgraphError(f"unknown source {name!r}; choose one of {', '.join(SOURCES)}") from None
    module, func = target.split(":")
    source: Source = getattr(importlib.import_module(module), func)(settings, mapping)
    return source
