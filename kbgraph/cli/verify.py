"""``kbgraph verify``: does the graph hold exactly what the source's current rows say? ``--repair`` fixes it."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from kbgraph.cli.app import ConfigOpt, MappingsOpt, PipelineOpt, app, console, err, settings
from kbgraph.mapping import compile_mappings
from kbgraph.sink.target import from_settings as target_of
from kbgraph.verify.source_rows import current_rows
from kbgraph.verify.verifier import Verifier, VerifyOptions


@app.command()
def verify(
    source: str = typer.Option("snapshot", "--source", "-s",
                               help="snapshot (the current rows of the MySQL/MariaDB tables, read with plain SELECTs) "
                                    "or jsonl (a file of inserts)"),
    changes: Path | None = typer.Option(None, "--changes", "-c", help="jsonl: the current rows as insert changes"),
    mysql_url: str | None = typer.Option(None, "--mysql-url", help="snapshot: mysql://user:pw@host:port (SELECT is enough)"),
    mappings: list[Path] | None = MappingsOpt,
    show: int = typer.Option(10, "--show", help="differences shown per rule (the rest are counted)"),
    chunk: int = typer.Option(1000, "--chunk", min=1, help="rows, nodes or relationships compared per step"),
    repair: bool = typer.Option(False, "--repair", help="fix the differences through the sync's writer "
                                                        "(the sync's checkpoint does not move)"),
    wait: float = typer.Option(60.0, "--wait", min=0, help="seconds to wait for a running sync to pass a chunk "
                                                           "before its differences are re-checked"),
    idle: float = typer.Option(2.0, "--idle", min=0, help="seconds a standing checkpoint means that no sync runs "
                                                          "(then a difference is re-checked at once)"),
    as_json: bool = typer.Option(False, "--json", help="print the report as JSON"),
    pipeline: str | None = PipelineOpt,
    config: Path | None = ConfigOpt,
) -> None:
    """Compare the graph with what the source's current rows make, rule by rule, in key order and chunks.

    Reports missing, extra and differing elements by key (each differing property with both values),
    totals per rule, and rows the mappings reject (dead letters when synced; not differences). A
    difference is re-checked once the running sync has passed the chunk's position (no wait when no
    sync moves the checkpoint). --repair writes a missing or differing element's source row again as
    an insert and deletes an extra element, through the sync's writer (same Cypher, dead letters),
    without moving the sync's checkpoint. Needs SELECT only. Exit 0: equal (or every difference
    repaired), 1: differences, 2: error.
    """
    s = settings(config, changes=changes, mysql_url=mysql_url, mappings=mappings or None, pipeline=pipeline)
    m = compile_mappings(s.mappings)
    rows = current_rows(source, s, m)
    target = target_of(s)
    def waiting(pos: tuple[str, int] | None) -> None:
        at = f"binlog {pos[0]}:{pos[1]}" if pos else "the position of the comparison (unknown to this user: waiting for it to stand still)"
        err.print(f"differences found; waiting up to {wait:g} s for pipeline {s.pipeline!r} to pass {at} before a re-check",
                  highlight=False, markup=False, soft_wrap=True)

    opts = VerifyOptions(chunk=chunk, show=show, repair=repair, pipeline=s.pipeline, wait_s=wait, idle_s=idle,
                         on_wait=waiting)
    try:
        with target.driver() as driver:
            verifier = Verifier(m, rows, driver, target.database, opts)
            report = verifier.run()
    finally:
        rows.close()
    if as_json:
        print(json.dumps(report.as_json(), ensure_ascii=False, default=str))
    else:
        for line in report.lines():
            console.print(line, highlight=False, markup=False, soft_wrap=True)
        for why in report.rejected_examples:
            console.print(f"row the mappings reject: {why}", highlight=False, markup=False, soft_wrap=True)
    n = report.differences
    if n == 0:
        if not as_json:
            console.print("[green]verified[/]: the graph equals what the source rows make")
        return
    repaired = sum(t.repaired for t in report.rules.values())
    dead = verifier.writer.counts.dead_letters
    if dead:
        console.print(f"[yellow]repair: {dead} row(s) went to the dead letters[/] (kbgraph dlq list)")
    if repair and repaired == n and not dead:
        if not as_json:
            console.print(f"[yellow]repaired[/] {n} difference(s); run verify again to confirm")
        return
    if not as_json:
        console.print(f"[red]differs[/]: {n} difference(s)")
    raise typer.Exit(1)
