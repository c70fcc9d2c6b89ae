"""``kbgraph snapshot``: load the current rows of every mapped table, then `sync --source binlog`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from kbgraph.checkpoint import read_checkpoint
from kbgraph.cli.app import ConfigOpt, MappingsOpt, PipelineOpt, app, console, settings
from kbgraph.cli.run import build_pipeline, run_until_signal
from kbgraph.errors import KbgraphError
from kbgraph.mapping import compile_mappings
from kbgraph.outage import StoppedWaiting
from kbgraph.sink.target import from_settings as target_of
from kbgraph.sources.binlog.position import Position
from kbgraph.sources.binlog.server import ConnInfo
from kbgraph.sources.binlog.tables import MappedTables
from kbgraph.sources.snapshot import SnapshotSource


@app.command()
def snapshot(
    mappings: list[Path] | None = MappingsOpt,
    pipeline: str | None = PipelineOpt,
    mysql_url: str | None = typer.Option(None, "--mysql-url", help="mysql://user:pw@host:port"),
    chunk: int | None = typer.Option(None, "--chunk", help="rows per primary-key chunk (default 1000)"),
    batch_size: int | None = typer.Option(None, "--batch-size", help="changes per graph transaction"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress display"),
    if_needed: bool = typer.Option(False, "--if-needed", help="do nothing when the pipeline already has a finished "
                                   "snapshot or a binlog position (for a container that runs it at every start)"),
    config: Path | None = ConfigOpt,
) -> None:
    """Load the rows that exist now and record the binlog position `sync --source binlog` continues from.

    An interrupted snapshot resumes after its last committed chunk when run again."""
    s = settings(config, pipeline=pipeline, mysql_url=mysql_url, snapshot_chunk=chunk, batch_size=batch_size,
                 mappings=mappings or None)
    if s.mysql_url is None:
        raise KbgraphError("the snapshot needs mysql_url (--mysql-url or KBGRAPH_MYSQL_URL=mysql://user:pw@host:3306)")
    m = compile_mappings(s.mappings)
    target = target_of(s)
    if if_needed:
        with target.driver() as driver:
            done = _streaming_from(read_checkpoint(driver, target.database, s.pipeline))
        if done is not None:
            console.print(f"pipeline {s.pipeline} already streams from {done}; no snapshot needed", highlight=False)
            return
    tables = MappedTables.from_mapping(m)
    if not tables.pairs:
        raise KbgraphError("the mappings name no table to snapshot")
    source = SnapshotSource(ConnInfo.from_url(s.mysql_url.get_secret_value()), tables, chunk=s.snapshot_chunk,
                            console=None if quiet else console)
    try:
        stats, stopped = run_until_signal(build_pipeline(s, m), source)
    except StoppedWaiting:  # asked to stop while the graph was unreachable: interrupted like any stop
        stats, stopped = None, True
    if stats is None or stopped or source.final_position is None:
        applied = f" after {stats.counts.changes:,} rows" if stats is not None else " while waiting for the graph"
        console.print(f"[yellow]snapshot interrupted[/]{applied}; "
                      "run `kbgraph snapshot` again to continue from the last committed chunk")
        raise typer.Exit(3)
    rate = source.rows / source.seconds if source.seconds > 0 else 0.0
    fp = source.final_position
    console.print(f"[green]snapshot done[/]: {source.rows:,} rows read, {stats.counts.changes:,} applied, "
                  f"{rate:,.0f} rows/s; `kbgraph sync --source binlog` continues at {fp['file']}:{fp['pos']}"
                  + (f" (GTID {fp['gtid']})" if fp.get("gtid") else ""), highlight=False)
    if source.unrepresentable.total:
        console.print("written as NULL (zero or partial dates the graph cannot represent): "
                      + source.unrepresentable.summary(), highlight=False)


def _streaming_from(checkpoint: dict[str, Any]) -> str | None:
    """Where the pipeline's binlog stream continues, when its snapshot is done (or it never needed one)."""
    snap = checkpoint.get("snapshot")
    position = Position.from_checkpoint(checkpoint)
    if position is None or (snap and not snap.get("done")):
        return None
    return position.describe()
