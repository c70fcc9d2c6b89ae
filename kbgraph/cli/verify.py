"""``kbgraph verify``: does the graph hold exactly what the source's current rows say?"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from kbgraph.cli.app import ConfigOpt, MappingsOpt, app, console, err, settings, target_of
from kbgraph.errors import KbgraphError
from kbgraph.expected import expected_graph
from kbgraph.mapping import compile_mappings
from kbgraph.sources import StandaloneContext
from kbgraph.verify import dump_graph


@app.command()
def verify(
    source: str = typer.Option("snapshot", "--source", "-s",
                               help="snapshot (the current rows of the MySQL/MariaDB tables) or jsonl (a file of inserts)"),
    changes: Optional[Path] = typer.Option(None, "--changes", "-c", help="jsonl: the current rows as insert changes"),
    mysql_url: Optional[str] = typer.Option(None, "--mysql-url", help="snapshot: mysql://user:pw@host:port"),
    mappings: Optional[list[Path]] = MappingsOpt,
    show: int = typer.Option(10, "--show", help="differences shown per kind"),
    config: Optional[Path] = ConfigOpt,
) -> None:
    """Compare the graph with the graph the current source rows make (computed in memory). Exit 1 if they differ."""
    s = settings(config, changes=changes, mysql_url=mysql_url, mappings=mappings or None)
    m = compile_mappings(s.mappings)
    if source == "jsonl":
        from kbgraph.sources.jsonl import from_settings
    elif source == "snapshot":
        from kbgraph.sources.snapshot import from_settings
    else:
        raise KbgraphError(f"verify reads rows from 'snapshot' or 'jsonl', not {source!r}")
    rows = from_settings(s, m)
    try:
        expected = expected_graph(m, rows.changes({}, StandaloneContext()))
    finally:
        rows.close()
    for e in expected.errors[:show]:
        err.print(f"[yellow]row the mappings reject[/]: {e}", highlight=False, soft_wrap=True)
    target = target_of(s)
    labels, types = m.graph_names()
    with target.driver() as driver:
        actual = dump_graph(driver, target.database, labels, types)
    want = expected.dump()
    console.print(f"source rows make {want.summary()}; the graph holds {actual.summary()}")
    if actual == want:
        console.print("[green]verified[/]: the graph equals what the source rows make")
        return
    console.print(actual.diff(want, limit=show), highlight=False, markup=False, soft_wrap=True)
    console.print("[red]differs[/] (+ only in the graph, - only in what the rows make)")
    raise typer.Exit(1)
