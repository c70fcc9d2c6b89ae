"""``kbgraph dlq list | show | replay | purge``: the dead letters in the graph, to act on."""

from __future__ import annotations

from pathlib import Path

import orjson
import typer

from kbgraph import deadletters as dl
from kbgraph.cli import dlq_kafka
from kbgraph.cli.app import ConfigOpt, MappingsOpt, PipelineOpt, app, console, err, settings
from kbgraph.errors import KbgraphError
from kbgraph.mapping import compile_mappings
from kbgraph.mapping.rules import CompiledMapping
from kbgraph.sink.target import from_settings as target_of

dlq_app = typer.Typer(help="Dead letters of a pipeline: list, show, replay, purge.", no_args_is_help=True)
app.add_typer(dlq_app, name="dlq")

ReasonOpt = typer.Option(None, "--reason", help="only dead letters whose reason contains this text")
TableOpt = typer.Option(None, "--table", help="only dead letters of this table")
IdsArg = typer.Argument(None, help="dead-letter ids (as `dlq show` prints them)")
FromOpt = typer.Option("graph", "--from", help="graph: the :KbDeadLetter store; kafka: the Kafka source's "
                       "dead-letter topic (kafka_dlq_topic, default <group>.dlq)")
KafkaOpt = typer.Option(None, "--kafka", help="--from kafka: bootstrap servers (default KBGRAPH_KAFKA_BOOTSTRAP)")


def _kafka(source: str) -> bool:
    if source not in ("graph", "kafka"):
        raise KbgraphError(f"--from must be graph or kafka, not {source!r}")
    return source == "kafka"


def _json(value: object) -> str:
    return orjson.dumps(value, default=str).decode()


def _mapping_or_none(mappings: list[Path] | None, default: list[Path]) -> CompiledMapping | None:
    try:
        return compile_mappings(mappings or default)
    except KbgraphError:
        return None  # list/show still work without readable mapping files; keys are then guessed


@dlq_app.command("list")
def dlq_list(pipeline: str | None = PipelineOpt, table: str | None = TableOpt,
             reason: str | None = ReasonOpt, source: str = FromOpt, kafka: str | None = KafkaOpt,
             mappings: list[Path] | None = MappingsOpt, config: Path | None = ConfigOpt) -> None:
    """Dead letters grouped by reason: how many, of which tables, first and last position."""
    s = settings(config, pipeline=pipeline, kafka_bootstrap=kafka)
    if _kafka(source):
        return dlq_kafka.list_(s, _mapping_or_none(mappings, s.mappings), table, reason)
    target = target_of(s)
    with target.driver() as driver:
        groups = dl.groups(dl.stream(driver, target.database, s.pipeline, reason=reason, table=table))
    if not groups:
        console.print(f"pipeline [bold]{s.pipeline}[/]: no dead letters")
        return
    for g in groups:
        tables = ", ".join(f"{name} ({n:,})" for name, n in g.tables.most_common())
        console.print(f"{g.count:,} × {g.reason}", highlight=False, markup=False, soft_wrap=True)
        console.print(f"    tables {tables}; first at {_json(g.first.position)}, last at {_json(g.last.position)}",
                      highlight=False, markup=False, soft_wrap=True)
    console.print(f"pipeline [bold]{s.pipeline}[/]: {sum(g.count for g in groups):,} dead letters; "
                  "`kbgraph dlq show` for each, `kbgraph dlq replay` once fixed")


@dlq_app.command("show")
def dlq_show(ids: list[str] | None = IdsArg, pipeline: str | None = PipelineOpt,
             table: str | None = TableOpt, reason: str | None = ReasonOpt,
             limit: int = typer.Option(20, "--limit", help="show at most this many"),
             source: str = FromOpt, kafka: str | None = KafkaOpt,
             mappings: list[Path] | None = MappingsOpt, config: Path | None = ConfigOpt) -> None:
    """Each dead letter: id, table, op, key, position, reason and the row images."""
    s = settings(config, pipeline=pipeline, kafka_bootstrap=kafka)
    m = _mapping_or_none(mappings, s.mappings)
    if _kafka(source):
        return dlq_kafka.show(s, m, ids, table, reason, limit)
    target = target_of(s)
    with target.driver() as driver:
        letters = dl.load(driver, target.database, s.pipeline, reason=reason, table=table, ids=ids, limit=limit)
    for d in letters:
        console.print(f"[bold]{d.id}[/]  {d.op} on {d.where}  key {_json(d.key(m))}  at {_json(d.position)}  ({d.at})",
                      highlight=False, markup=True, soft_wrap=True)
        console.print(f"  reason: {d.reason}", highlight=False, markup=False, soft_wrap=True)
        for name, row in (("before", d.before), ("after", d.after)):
            if row is not None:
                console.print(f"  {name}: {_json(row)}", highlight=False, markup=False, soft_wrap=True)
    if not letters:
        console.print(f"pipeline [bold]{s.pipeline}[/]: no dead letters match")


@dlq_app.command("replay")
def dlq_replay(ids: list[str] | None = IdsArg, pipeline: str | None = PipelineOpt,
               table: str | None = TableOpt, reason: str | None = ReasonOpt,
               source: str = FromOpt, kafka: str | None = KafkaOpt,
               mappings: list[Path] | None = MappingsOpt, config: Path | None = ConfigOpt) -> None:
    """Apply dead letters again (after fixing the mapping or the data); those applied leave the store,
    those that still fail stay. Exit 1 when some still fail."""
    s = settings(config, pipeline=pipeline, kafka_bootstrap=kafka)
    m = compile_mappings(mappings or s.mappings)
    if _kafka(source):
        return dlq_kafka.replay(s, m, ids, table, reason)
    target = target_of(s)
    with target.driver() as driver:
        which = dl.ids(driver, target.database, s.pipeline, reason=reason, table=table, only=ids)
        result = dl.replay(driver, target.database, s.pipeline, m, which, batch_size=s.batch_size)
    console.print(f"replayed {result.replayed:,}: [green]{result.applied:,} applied[/] and removed from the "
                  f"dead letters, {result.still_failing:,} still fail", highlight=False)
    for text, n in result.reasons.most_common(5):
        err.print(f"  {n:,} × {text}", highlight=False, markup=False, soft_wrap=True)
    if result.still_failing:
        raise typer.Exit(1)


@dlq_app.command("purge")
def dlq_purge(ids: list[str] | None = IdsArg, pipeline: str | None = PipelineOpt,
              table: str | None = TableOpt, reason: str | None = ReasonOpt,
              all_: bool = typer.Option(False, "--all", help="every dead letter of the pipeline"),
              yes: bool = typer.Option(False, "--yes", "-y", help="do not ask"),
              source: str = FromOpt, kafka: str | None = KafkaOpt,
              mappings: list[Path] | None = MappingsOpt, config: Path | None = ConfigOpt) -> None:
    """Delete dead letters for good: by id, --reason, --table, or --all. From Kafka: move the
    dead-letter topic's reader group past them (the topic's retention removes the records)."""
    if not (ids or table or reason or all_):
        raise KbgraphError("say which dead letters to purge: ids, --reason, --table, or --all")
    s = settings(config, pipeline=pipeline, kafka_bootstrap=kafka)
    if _kafka(source):
        return dlq_kafka.purge(s, _mapping_or_none(mappings, s.mappings), ids, table, reason, yes)
    target = target_of(s)
    with target.driver() as driver:
        n = len(dl.ids(driver, target.database, s.pipeline, reason=reason, table=table, only=ids))
        if n and not yes and not typer.confirm(f"delete {n:,} dead letters of pipeline {s.pipeline!r} for good?"):
            raise typer.Exit(1)
        done = dl.purge(driver, target.database, s.pipeline, reason=reason, table=table, ids=ids) if n else 0
    console.print(f"purged {done:,} dead letters of pipeline [bold]{s.pipeline}[/]")
