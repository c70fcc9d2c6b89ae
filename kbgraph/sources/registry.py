"""Which module builds which source for ``kbgraph sync --source NAME``.

Each entry names a function ``from_settings(settings, mapping) -> Source``; it is imported only
when that source is used, so a missing optional client never breaks the others.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from kbgraph.errors import KbgraphError

if TYPE_CHECKING:
    from kbgraph.mapping.rules import Mapping
    from kbgraph.settings import Settings
    from kbgraph.sources import Source

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
    return getattr(importlib.import_module(module), func)(settings, mapping)
