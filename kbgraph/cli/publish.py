"""``kbgraph publish``: stream the binlog of the mapped tables to Kafka as Debezium-compatible JSON."""

from __future__ import annotations

from pathlib import Path

import typer

from kbgraph.cli.app import ConfigOpt, MappingsOpt, PipelineOpt, app, console, settings
from kbgraph.cli.run import stop_on_signals
from kbgraph.mapping import compile_mappings


@app.command()
def publish(
    mappings: list[Path] | None = MappingsOpt,
    mysql_url: str | None = typer.Option(None, "--mysql-url", help="mysql://user:pw@host:port (or KBGRAPH_MYSQL_URL)"),
    kafka_bootstrap: str | None = typer.Option(None, "--kafka", help="bootstrap servers (or KBGRAPH_KAFKA_BOOTSTRAP)"),
    prefix: str | None = typer.Option(None, "--prefix", help="topics are <prefix>.<db>.<table> (default: kbgraph)"),
    start: str = typer.Option("current", "--from", help="where to start without a state file: current, or FILE:POS"),
    state: Path | None = typer.Option(None, "--state", help="position file (default: kbgraph-publish.<pipeline>.json)"),
    topic: str | None = typer.Option(None, "--topic", help="one topic for every table (keeps the binlog's total order "
                                        "with one partition) instead of <prefix>.<db>.<table>"),
    partitions: int = typer.Option(1, "--partitions", min=1, help="partitions of topics publish creates (existing ones are kept)"),
    server_id: int | None = typer.Option(None, "--server-id", help="replica id of this binlog reader; not the one sync uses"),
    until_end: bool = typer.Option(False, "--until-end", help="stop at the end of the binlog instead of waiting for more"),
    schemas: bool = typer.Option(True, "--schemas/--no-schemas", help="records with their schema, as Debezium's JsonConverter "
                                 "with schemas.enable=true (default), or the payload alone"),
    pipeline: str | None = PipelineOpt,
    config: Path | None = ConfigOpt,
) -> None:
    """Publish the binlog of the mapped tables to Kafka (a topic per table, keyed by primary key).

    The position advances only after the brokers acknowledged every record before it; a restart
    continues there (records sent after it may be sent again: `sync --source kafka` is idempotent
    to such repeats).
    """
    from kbgraph.publish import build_publisher

    s = settings(config, mappings=mappings or None, mysql_url=mysql_url, kafka_bootstrap=kafka_bootstrap,
                 kafka_topic_prefix=prefix, publish_state=state, pipeline=pipeline,
                 binlog_until_end=True if until_end else None)
    p = build_publisher(s, compile_mappings(s.mappings), start=start, partitions=partitions, server_id=server_id, topic=topic,
                        schemas=schemas)

    with stop_on_signals(p.stop):
        console.print(f"publishing to topics {s.kafka_topic_prefix}.<db>.<table> at {s.kafka_bootstrap}; "
                      f"position file {p.state.path}", highlight=False)
        stats = p.run()
    console.print(f"[green]done[/]: {stats.changes:,} changes as {stats.messages:,} records; position {stats.saved}", highlight=False)
