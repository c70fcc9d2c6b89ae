"""Settings from flags, environment and a config file (pydantic-settings), one typed spec per component.

Precedence: command-line flags > environment > config file (``kbgraph.toml``/``--config``) > defaults.
Environment names: ``NEO4J_URI``, ``NEO4J_USERNAME``, ``NEO4J_PASSWORD``, ``NEO4J_DATABASE`` for the
graph; every other field as ``KBGRAPH_<FIELD>`` (e.g. ``KBGRAPH_MYSQL_URL``, ``KBGRAPH_KAFKA_BOOTSTRAP``).
Secrets are ``SecretStr``: they never print; the Kafka client option dicts (which may hold SASL
passwords) are left out of ``repr`` too.

Shape (as dlt's config specs): every component declares the fields it reads in its own
``BaseSettings`` class — ``GraphSettings``, ``PipelineSettings``, ``JsonlSettings``,
``BinlogSettings``, ``KafkaSettings``, ``PublishSettings`` — and each ``from_settings`` is typed to
take only its component's spec, so a reader sees at a glance what a source or sink depends on.
``OutageSettings`` (what to do with a bad record, how long to wait for a server) is shared by the
pipeline and by the sources that reconnect or produce dead letters themselves, so those specs
extend it. The CLI's ``Settings`` inherits every spec: its fields stay flat, which keeps the user's
view unchanged (the same flat environment names and flat TOML keys as before this split) and makes
a ``Settings`` acceptable wherever a component's spec is asked for. Nesting (``settings.kafka.group``)
would have changed every environment name and TOML key.

The config file goes in through pydantic-settings' own ``TomlConfigSettingsSource``, read from the
class's ``toml_file`` config. ``load_settings(config)`` builds (and caches) a subclass of the spec
with that file, so a path given to one call never reaches the next; without a path the spec reads
``./kbgraph.toml`` when it exists. A missing ``--config`` file is read as empty, as before.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

DEFAULT_CONFIG = Path("kbgraph.toml")


class _Spec(BaseSettings):
    """Common to every spec: ``KBGRAPH_`` environment names, unknown keys ignored, sources in order."""

    model_config = SettingsConfigDict(env_prefix="KBGRAPH_", extra="ignore", populate_by_name=True)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        file = settings_cls.model_config.get("toml_file") or (DEFAULT_CONFIG if DEFAULT_CONFIG.exists() else None)
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, file))


def _graph_alias(name: str) -> AliasChoices:
    return AliasChoices(name.upper(), f"KBGRAPH_{name.upper()}", name)


class GraphSettings(_Spec):
    """The graph: a Bolt address, credentials and a database (``kbgraph.sink.target``)."""

    neo4j_uri: str | None = Field(None, validation_alias=_graph_alias("neo4j_uri"))
    neo4j_username: str = Field("neo4j", validation_alias=_graph_alias("neo4j_username"))
    neo4j_password: SecretStr = Field(SecretStr(""), validation_alias=_graph_alias("neo4j_password"))
    neo4j_database: str = Field("neo4j", validation_alias=_graph_alias("neo4j_database"))
    graph_retry_s: float = Field(5.0, ge=0)  # the driver's own retry window per transaction; then kbgraph waits with its own backoff


class OutageSettings(_Spec):
    """How a run meets a record it cannot apply and a server it cannot reach."""

    on_error: Literal["dead_letter", "stop"] = "dead_letter"
    outage_max_s: float | None = Field(None, gt=0)  # give up when the graph is unreachable this long (default: wait forever)
    outage_cap_s: float = Field(10.0, gt=0)  # longest pause between attempts while waiting for the graph


class PipelineSettings(OutageSettings):
    """The pipeline: which mappings, which checkpoint, how changes are batched, when it gives up."""

    mappings: list[Path] = Field(default_factory=lambda: [Path("mappings")])
    pipeline: str = "default"  # name of the checkpoint; one per independent stream
    batch_size: int = Field(1000, ge=1)  # changes per graph transaction (split only for larger source transactions)
    flush_ms: int = Field(200, ge=1)  # flush a partial batch after this long without a full one
    queue_size: int = Field(10_000, ge=1)  # changes buffered between reader and writer (at least batch_size)
    # the circuit breaker
    breaker_consecutive: int = Field(1000, ge=0)  # stop after more dead letters in a row than this (0: off)
    breaker_ratio: float = Field(0.5, ge=0, le=1)  # stop when more than this share of the last breaker_window changes are dead letters (0: off)
    breaker_window: int = Field(10_000, ge=1)


class JsonlSettings(_Spec):
    """The jsonl source: a file of changes."""

    changes: Path | None = None


class BinlogSettings(OutageSettings):
    """The binlog source and the snapshot (MySQL / MariaDB)."""

    mysql_url: SecretStr | None = None  # mysql://user:password@host:3306
    # replica id of this binlog reader: it must differ from every other reader of the same server
    # (another sync, `publish`, a real replica), or the server drops one of them; --server-id
    server_id: int = 4271
    binlog_ddl: Literal["stop", "continue_unmapped"] = "stop"  # DDL on a mapped table: stop, or pass it when no mapped column is touched
    binlog_truncate: Literal["delete", "stop"] = "delete"  # TRUNCATE of a mapped table: delete its graph elements, or stop
    binlog_until_end: bool = False  # return once the end of the binlog is reached (catch up, then exit)
    snapshot_chunk: int = Field(1000, ge=1)  # rows per primary-key chunk of `kbgraph snapshot`


class KafkaSettings(OutageSettings):
    """The Kafka source, its dead-letter topic, and the brokers ``publish`` writes to."""

    kafka_bootstrap: str | None = None
    kafka_topics: list[str] = Field(default_factory=list)
    kafka_group: str = "kbgraph"
    kafka_format: Literal["auto", "debezium", "maxwell", "canal", "native"] = "auto"
    kafka_dlq_topic: str | None = None
    # extra kafka-python options (session_timeout_ms, security, ...): they may hold SASL passwords, never printed
    kafka_consumer_options: dict[str, Any] = Field(default_factory=dict, repr=False)
    kafka_producer_options: dict[str, Any] = Field(default_factory=dict, repr=False)
    kafka_merge_wait_ms: int = Field(300, ge=0)  # how long a silent partition may hold up records of others in the ordered merge


class PublishSettings(PipelineSettings, BinlogSettings, KafkaSettings):
    """``kbgraph publish``: a pipeline from the binlog to Kafka (its name names the position file)."""

    kafka_topic_prefix: str = "kbgraph"  # publish: <prefix>.<db>.<table>
    publish_state: Path | None = None  # publish: file holding the acknowledged binlog position (default kbgraph-publish.<pipeline>.json)


class Settings(GraphSettings, JsonlSettings, PublishSettings):
    """Everything the command line reads: every component's spec (publish's brings pipeline, binlog, kafka)."""


SpecT = TypeVar("SpecT", bound=_Spec)


@lru_cache(maxsize=32)
def _with_file(spec: type[SpecT], config: Path) -> type[SpecT]:
    """``spec`` reading ``config`` as its TOML file (one class per spec and path, made once)."""
    return type(spec.__name__, (spec,), {"model_config": SettingsConfigDict(toml_file=config), "__module__": __name__})


def load(spec: type[SpecT], config: Path | None = None, **flags: Any) -> SpecT:
    """A component's spec with flags (None = not given) over environment over the config file."""
    cls = _with_file(spec, config) if config is not None else spec
    return cls(**{k: v for k, v in flags.items() if v is not None})


def load_settings(config: Path | None = None, **flags: Any) -> Settings:
    """The command line's settings with flags (None = not given) over environment over the config file."""
    return load(Settings, config, **flags)
