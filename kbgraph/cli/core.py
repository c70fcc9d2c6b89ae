"""Core commands: validate, plan, schema print|apply, sync, status."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import typer
from rich.syntax import Syntax
from rich.table import Table

from kbgraph.checkpoint import read_checkpoint_info
from kbgraph.cli.app import ConfigOpt, MappingsOpt, PipelineOpt, app, console, err, schema_app, settings
from kbgraph.cli.progress import ProgressReporter, line
from kbgraph.cli.run import Hook, build_pipeline, run_until_signal
from kbgraph.errors import ChangeError, KbgraphError
from kbgraph.graph import schema as graph_schema
from kbgraph.graph.batch import plan_groups
from kbgraph.graph.cypher import DEAD_LETTER_LABEL
from kbgraph.graph.ops import GraphOp
from kbgraph.mapping import compile_mappings
from kbgraph.mapping.compiled import EntityCompiled, RelationCompiled
from kbgraph.mapping.rules import CompiledMapping
from kbgraph.pipeline import RunStats
from kbgraph.settings import Settings
from kbgraph.sink.target import from_settings as target_of
from kbgraph.sources import StandaloneContext
from kbgraph.sources.registry import SOURCES, build_source


def _mapping(s: Settings, mappings: list[Path] | None) -> CompiledMapping:
    return compile_mappings(mappings or s.mappings)


@app.command()
def validate(
    paths: list[Path] | None = typer.Argument(None, help="mapping files or folders (as -m; default: mappings/)",
                                                 show_default=False),
    mappings: list[Path] | None = MappingsOpt,
    json_schema: bool = typer.Option(False, "--json-schema", help="print the mapping files' JSON Schema instead"),
    check_source: bool = typer.Option(False, "--check-source", help="also check the mappings against the live "
                                      "database (tables, columns, keys, types; reads information_schema only)"),
    mysql_url: str | None = typer.Option(None, "--mysql-url", help="the database for --check-source "
                                            "(default: KBGRAPH_MYSQL_URL)", show_default=False),
    config: Path | None = ConfigOpt,
) -> None:
    """Check mapping files; every problem is reported as file:line: key: message."""
    if json_schema:
        from kbgraph.mapping.schema_export import mapping_json_schema

        console.print_json(json.dumps(mapping_json_schema()))
        return
    s = settings(config)
    m = _mapping(s, [*(paths or []), *(mappings or [])])
    table = Table("rule", "kind", "table", "graph")
    for r in m.rules():
        if isinstance(r, EntityCompiled):
            graph = f"(:{r.label}{''.join(':' + x for x in r.fixed)}) key {', '.join(r.key_props)}"
        elif isinstance(r, RelationCompiled):
            graph = f"(:{r.f_label})-[:{'|'.join(r.types)}]->(:{r.t_label})"
        else:
            graph = f"(:{r.owner_label}) {'property node' if r.as_node else 'node property'}"
        table.add_row(r.name, r.kind, r.table, graph)
    console.print(table)
    console.print(f"[green]ok[/]: {len(m.files)} file(s), {len(m.rules())} rule(s), {len(m.tables())} table(s)")
    if check_source:
        _check_source(m, mysql_url or (s.mysql_url.get_secret_value() if s.mysql_url else None))


def _check_source(m: CompiledMapping, url: str | None) -> None:
    from kbgraph.source_check import check_source
    from kbgraph.sources.binlog.server import ConnInfo

    if not url:
        raise KbgraphError("--check-source needs the database: --mysql-url or KBGRAPH_MYSQL_URL")
    conn = ConnInfo.from_url(url)
    problems, checked = check_source(m, conn)
    for problem in problems:
        err.print(problem, highlight=False, markup=False, soft_wrap=True)
    if problems:
        err.print(f"{len(problems)} problem(s) against {conn.where()}", highlight=False)
        raise typer.Exit(1)
    console.print(f"[green]ok[/]: {checked} table(s) on {conn.where()} have every mapped column", highlight=False)


def _cypher_value(v: Any) -> str:
    """How a parameter value that JSON cannot show travels: date('…'), datetime('…'), …"""
    import datetime as dt

    for kind, fn in ((dt.datetime, "localdatetime"), (dt.date, "date"), (dt.time, "localtime")):
        if isinstance(v, kind):
            aware = fn != "date" and getattr(v, "tzinfo", None) is not None
            return f"{fn.replace('local', '') if aware else fn}('{v.isoformat()}')"
    return str(v)


@app.command()
def plan(
    changes: Path = typer.Option(..., "--changes", "-c", help="JSONL change file"),
    mappings: list[Path] | None = MappingsOpt,
    batch_size: int = typer.Option(1000, "--batch-size", help="changes per transaction"),
    limit: int = typer.Option(3, "--rows", help="parameter rows shown per statement"),
    config: Path | None = ConfigOpt,
) -> None:
    """Print the Cypher and parameters a sync would run for a change file, without a database."""

    from kbgraph.sources.jsonl import JsonlSource

    s = settings(config)
    m = _mapping(s, mappings)

    ops: list[GraphOp] = []
    batch_no = in_batch = 0

    def show() -> None:
        nonlocal ops, batch_no, in_batch
        if not in_batch:
            return
        batch_no += 1
        console.rule(f"transaction {batch_no}: {in_batch} change(s)")
        for g in plan_groups(ops):
            console.print(f"[bold]-- {g.stmt.name}[/] ({len(g.rows)} row(s))")
            console.print(Syntax(g.stmt.cypher, "cypher", theme="ansi_dark", background_color="default"), soft_wrap=True)
            shown = "\n".join("  " + orjson.dumps(r, default=_cypher_value, option=orjson.OPT_PASSTHROUGH_DATETIME).decode() for r in g.rows[:limit])
            more = f"\n  … {len(g.rows) - limit} more row(s)" if len(g.rows) > limit else ""
            console.print("$rows:\n" + shown + more, highlight=False, markup=False, soft_wrap=True)
        ops, in_batch = [], 0

    for change in JsonlSource(changes).changes({}, StandaloneContext()):
        try:
            ops.extend(m.translate(change))
        except ChangeError as e:
            console.print(f"[red]dead letter[/]: {e}", highlight=False, soft_wrap=True)
        in_batch += 1
        if in_batch >= batch_size and change.tx_end:
            show()
    show()


@schema_app.command("print")
def schema_print(mappings: list[Path] | None = MappingsOpt, config: Path | None = ConfigOpt) -> None:
    """Show the constraints and indexes the mappings need."""
    m = _mapping(settings(config), mappings)
    for text in graph_schema.statements(m):
        console.print(text + ";", highlight=False, markup=False, soft_wrap=True)


@schema_app.command("apply")
def schema_apply(mappings: list[Path] | None = MappingsOpt, config: Path | None = ConfigOpt) -> None:
    """Create the missing constraints and indexes (idempotent)."""
    s = settings(config)
    m = _mapping(s, mappings)
    target = target_of(s)
    with target.driver() as driver:
        done = graph_schema.apply_schema(driver, target.database, m)
    for text in done:
        console.print(text + ";", highlight=False, markup=False, soft_wrap=True)
    console.print(f"[green]schema ok[/]: {len(done)} created, {len(m.constraints()) - len(done)} already there")


def run_pipeline(s: Settings, m: CompiledMapping, source_name: str, *, quiet: bool = False,
                 metrics_port: int | None = None) -> RunStats:
    """Build the source, run the pipeline until the source ends or SIGINT/SIGTERM, report."""
    pipeline = build_pipeline(s, m)  # first: no graph set is the first thing to say
    source = build_source(source_name, s, m)
    reporter = None if quiet else ProgressReporter(console)
    hooks: list[Hook] = [reporter] if reporter is not None else []
    if metrics_port:
        from kbgraph.metrics import Metrics

        metrics = Metrics(s.pipeline)
        metrics.serve(metrics_port)
        hooks.append(metrics)
        console.print(f"metrics: http://127.0.0.1:{metrics_port}/metrics")
    try:
        stats, _ = run_until_signal(pipeline, source, hooks)
    finally:
        if reporter:
            reporter.close()
    if not quiet:
        console.print(f"[green]done[/]: {line(stats)}", highlight=False)
        if stats.counts.graph:
            console.print("graph: " + ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in stats.counts.graph.items()))
        if stats.unrepresentable is not None and stats.unrepresentable.total:
            console.print("written as NULL (zero or partial dates the graph cannot represent): "
                          + stats.unrepresentable.summary(), highlight=False)
    return stats


@app.command()
def sync(
    source: str = typer.Option("jsonl", "--source", "-s", help=f"one of: {', '.join(SOURCES)}"),
    changes: Path | None = typer.Option(None, "--changes", "-c", help="JSONL change file (source jsonl)"),
    mappings: list[Path] | None = MappingsOpt,
    pipeline: str | None = PipelineOpt,
    batch_size: int | None = typer.Option(None, "--batch-size", help="changes per graph transaction"),
    flush_ms: int | None = typer.Option(None, "--flush-ms", help="flush a partial batch after this long"),
    on_error: str | None = typer.Option(None, "--on-error", help="dead_letter (default) or stop"),
    mysql_url: str | None = typer.Option(None, "--mysql-url", help="binlog source: mysql://user:pw@host:port"),
    server_id: int | None = typer.Option(
        None, "--server-id", help="binlog source: replica id of this reader, unique among everything that reads "
        "the server's binlog (other kbgraph syncs, publish, real replicas); env KBGRAPH_SERVER_ID, default 4271"),
    kafka_bootstrap: str | None = typer.Option(None, "--kafka", help="kafka source: bootstrap servers"),
    topics: list[str] | None = typer.Option(None, "--topic", help="kafka source: topic (repeatable)"),
    until_end: bool = typer.Option(False, "--until-end", help="binlog source: catch up to the end of the binlog, then exit"),
    metrics_port: int | None = typer.Option(None, "--metrics-port", help="serve Prometheus metrics on this port"),
    config: Path | None = ConfigOpt,
) -> None:
    """Apply changes from a source to the graph, resuming from the pipeline's checkpoint."""
    s = settings(config, changes=changes, pipeline=pipeline, batch_size=batch_size, flush_ms=flush_ms,
                 on_error=on_error, mysql_url=mysql_url, server_id=server_id, kafka_bootstrap=kafka_bootstrap,
                 kafka_topics=topics or None, mappings=mappings or None, binlog_until_end=until_end or None)
    run_pipeline(s, _mapping(s, None), source, metrics_port=metrics_port)


@app.command()
def status(pipeline: str | None = PipelineOpt, mappings: list[Path] | None = MappingsOpt,
           config: Path | None = ConfigOpt) -> None:
    """Show a pipeline's checkpoint, dead letters and what the graph holds.

    With --mappings, every label and type the mappings write is listed, those with no element too."""
    s = settings(config, pipeline=pipeline)
    mapped: tuple[set[str], set[str]] = (set(), set())
    if mappings:
        mapped = _mapping(s, mappings).graph_names()
    target = target_of(s)
    with target.driver() as driver:
        info = read_checkpoint_info(driver, target.database, s.pipeline)
        labels, _, _ = driver.execute_query(
            "MATCH (n) UNWIND labels(n) AS label RETURN label, count(*) AS n ORDER BY label", database_=target.database)
        rels, _, _ = driver.execute_query(
            "MATCH ()-[r]->() RETURN type(r) AS type, count(*) AS n ORDER BY type", database_=target.database)
        dead, _, _ = driver.execute_query(
            f"MATCH (d:`{DEAD_LETTER_LABEL}` {{pipeline: $p}}) RETURN count(d) AS n", p=s.pipeline, database_=target.database)
    console.print(f"graph: {target.describe()}")
    if info is None:
        console.print(f"pipeline [bold]{s.pipeline}[/]: no checkpoint yet")
    else:
        console.print(f"pipeline [bold]{s.pipeline}[/]: {info.get('changes', 0):,} changes applied, "
                      f"last at {info.get('updated_at')}")
        console.print(f"position: {info['position']}", highlight=False)
    console.print(f"dead letters: {dead[0]['n'] if dead else 0}")
    label_counts = {r["label"]: r["n"] for r in labels}
    type_counts = {r["type"]: r["n"] for r in rels}
    t = Table("label / type", "count", *(["mapped"] if mappings else []))
    for names, counts, shown in ((mapped[0], label_counts, ":{}"), (mapped[1], type_counts, "[:{}]")):
        for name in sorted(counts.keys() | names):
            flag = (["yes" if name in names else ""] if mappings else [])
            t.add_row(shown.format(name), f"{counts.get(name, 0):,}", *flag)
    console.print(t)
