"""``kbgraph dlq … --from kafka``: the same commands over the Kafka source's dead-letter topic
(``kbgraph.sources.kafka.dlq_topic``)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import orjson
import typer

from kbgraph.cli.app import console, err
from kbgraph.errors import KbgraphError
from kbgraph.settings import Settings
from kbgraph.sink.target import from_settings as target_of
from kbgraph.sources.kafka import dlq_topic as kt


def _json(value: object) -> str:
    return orjson.dumps(value, default=str).decode()


def where(s: Settings) -> tuple[str, str]:
    if not s.kafka_bootstrap:
        raise KbgraphError("--from kafka needs the broker: --kafka or KBGRAPH_KAFKA_BOOTSTRAP")
    return s.kafka_bootstrap, s.kafka_dlq_topic or f"{s.kafka_group}.dlq"


def _matching(s: Settings, mapping: Any, ids: list[str] | None, table: str | None,
              reason: str | None) -> tuple[list[kt.KafkaLetter], list[kt.KafkaLetter]]:
    """(every letter from the reader offset on, the ones the filters select)."""
    bootstrap, topic = where(s)
    letters = list(kt.read(bootstrap, topic, mapping=mapping, options=s.kafka_consumer_options))
    chosen = [d for d in letters if (not ids or d.id in ids) and (not reason or reason in d.reason)
              and (not table or d.where.split(".")[-1] == table or d.where == table)]
    return letters, chosen


def list_(s: Settings, mapping: Any, table: str | None, reason: str | None) -> None:
    _, topic = where(s)
    _, letters = _matching(s, mapping, None, table, reason)
    if not letters:
        console.print(f"dead-letter topic [bold]{topic}[/]: no dead letters after the reader's offset")
        return
    groups: dict[str, list[kt.KafkaLetter]] = {}
    for d in letters:
        groups.setdefault(d.group, []).append(d)
    for text, members in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        tables = Counter(d.where for d in members)
        shown = ", ".join(f"{name} ({n:,})" for name, n in tables.most_common())
        console.print(f"{len(members):,} × {text}", highlight=False, markup=False, soft_wrap=True)
        console.print(f"    tables {shown}; first at {_json(members[0].position)}, last at {_json(members[-1].position)}",
                      highlight=False, markup=False, soft_wrap=True)
    console.print(f"dead-letter topic [bold]{topic}[/]: {len(letters):,} dead letters; "
                  "`kbgraph dlq show --from kafka` for each, `kbgraph dlq replay --from kafka` once fixed")


def show(s: Settings, mapping: Any, ids: list[str] | None, table: str | None, reason: str | None, limit: int) -> None:
    _, topic = where(s)
    _, letters = _matching(s, mapping, ids, table, reason)
    for d in letters[:limit]:
        c = d.change
        op = c.op if c is not None else "record"
        console.print(f"[bold]{d.id}[/]  {op} on {d.where}  key {_json(d.key_of())}  at {_json(d.position)}  "
                      f"({d.stage})", highlight=False, markup=True, soft_wrap=True)
        console.print(f"  reason: {d.reason}", highlight=False, markup=False, soft_wrap=True)
        if c is not None:
            for name, row in (("before", c.before), ("after", c.after)):
                if row is not None:
                    console.print(f"  {name}: {_json(row)}", highlight=False, markup=False, soft_wrap=True)
        else:
            raw = (d.record.value or b"")[:300].decode("utf-8", "replace")
            console.print(f"  record: {raw}", highlight=False, markup=False, soft_wrap=True)
    if not letters:
        console.print(f"dead-letter topic [bold]{topic}[/]: no dead letters match")


def replay(s: Settings, mapping: Any, ids: list[str] | None, table: str | None, reason: str | None) -> None:
    bootstrap, topic = where(s)
    letters, chosen = _matching(s, mapping, ids, table, reason)
    target = target_of(s)
    with target.driver() as driver:
        result = kt.replay(driver, target.database, s.pipeline, mapping, chosen, bootstrap, topic,
                           s.kafka_producer_options, batch_size=s.batch_size)
    moved = kt.advance(letters, {d.id for d in chosen})
    kt.commit(bootstrap, topic, moved, s.kafka_consumer_options)
    console.print(f"replayed {result.replayed:,} from {topic}: [green]{result.applied:,} applied[/], "
                  f"{result.still_failing:,} still fail (produced again to {topic})", highlight=False)
    for text, n in result.reasons.most_common(5):
        err.print(f"  {n:,} × {text}", highlight=False, markup=False, soft_wrap=True)
    if result.still_failing:
        raise typer.Exit(1)


def purge(s: Settings, mapping: Any, ids: list[str] | None, table: str | None, reason: str | None, yes: bool) -> None:
    bootstrap, topic = where(s)
    letters, chosen = _matching(s, mapping, ids, table, reason)
    moved = kt.advance(letters, {d.id for d in chosen})
    n = sum(1 for d in letters if d.partition in moved and d.offset < moved[d.partition])
    if n and not yes and not typer.confirm(f"move the reader of {topic!r} past {n:,} dead letters?"):
        raise typer.Exit(1)
    kt.commit(bootstrap, topic, moved, s.kafka_consumer_options)
    kept = len(chosen) - n
    note = f"; {kept:,} matching ones stay behind records the filter left out" if kept else ""
    console.print(f"purged {n:,} dead letters of {topic} (group {kt.reader_group(topic)} moved past them; "
                  f"the records themselves go with the topic's retention){note}", highlight=False)
