"""The MySQL / MariaDB binlog source (``kbgraph sync --source binlog``).

``BinlogSource`` (reader.py) streams row events as ``Change`` objects; ``server.py`` checks the
server, ``decode.py`` makes binlog values equal to what a snapshot SELECT gives, ``ddl.py``
classifies logged statements, ``position.py`` is the checkpoint fragment.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kbgraph.errors import SourceError

if TYPE_CHECKING:
    from kbgraph.mapping.rules import CompiledMapping
    from kbgraph.settings import BinlogSettings
    from kbgraph.sources.binlog.reader import BinlogSource


def from_settings(settings: BinlogSettings, mapping: CompiledMapping) -> BinlogSource:
    from kbgraph.sources.binlog.reader import BinlogSource
    from kbgraph.sources.binlog.server import ConnInfo
    from kbgraph.sources.binlog.tables import MappedTables

    if settings.mysql_url is None:
        raise SourceError("the binlog source needs mysql_url (KBGRAPH_MYSQL_URL=mysql://user:password@host:3306)")
    tables = MappedTables.from_mapping(mapping)
    if not tables.pairs:
        raise SourceError("the mappings name no table for the binlog source to read")
    return BinlogSource(
        ConnInfo.from_url(settings.mysql_url.get_secret_value()),
        tables,
        server_id=settings.server_id,
        blocking=not settings.binlog_until_end,
        on_ddl=settings.binlog_ddl,
        on_truncate=settings.binlog_truncate,
        reconnect_s=settings.outage_max_s,  # a restarted server is waited for like the graph (default: forever)
    )
