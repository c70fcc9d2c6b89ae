"""Settings from flags, environment and a config file (pydantic-settings).

Precedence: command-line flags > environment > config file (``kbgraph.toml``/``--config``) > defaults.
Environment names: ``NEO4J_URI``, ``NEO4J_USERNAME``, ``NEO4J_PASSWORD``, ``NEO4J_DATABASE`` for the
graph; every other field as ``KBGRAPH_<FIELD>`` (e.g. ``KBGRAPH_MYSQL_URL``, ``KBGRAPH_KAFKA_BOOTSTRAP``).
Secrets are ``SecretStr``: they never print.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KBGRAPH_", extra="ignore", populate_by_name=True)

    # graph
    neo4j_uri: str | None = Field(None, validation_alias=AliasChoices("NEO4J_URI", "KBGRAPH_NEO4J_URI", "neo4j_uri"))
    neo4j_username: str = Field("neo4j", validation_alias=AliasChoices("NEO4J_USERNAME", "KBGRAPH_NEO4J_USERNAME", "neo4j_username"))
    neo4j_password: SecretStr = Field(SecretStr(""), validation_alias=AliasChoices("NEO4J_PASSWORD", "KBGRAPH_NEO4J_PASSWORD", "neo4j_password"))
    neo4j_database: str = Field("neo4j", validation_alias=AliasChoices("NEO4J_DATABASE", "KBGRAPH_NEO4J_DATABASE", "neo4j_database"))

    # pipeline
    mappings: list[Path] = Field(default_factory=lambda: [Path("mappings")])
    pipeline: str = "default"  # name of the checkpoint; one per independent stream
    batch_size: int = Field(1000, ge=1)  # changes per graph transaction (split only for larger source transactions)
    flush_ms: int = Field(200, ge=1)  # flush a partial batch after this long without a full one
    queue_size: int = Field(10_000, ge=1)  # changes buffered between reader and writer (at least batch_size)
    on_error: Literal["dead_letter", "stop"] = "dead_letter"

    # operations: outages and the circuit breaker
    outage_max_s: float | None = Field(None, gt=0)  # give up when the graph is unreachable this long (default: wait forever)
    outage_cap_s: float = Field(10.0, gt=0)  # longest pause between attempts while waiting for the graph
    graph_retry_s: float = Field(5.0, ge=0)  # the driver's own retry window per transaction; then kbgraph waits with its own backoff
    breaker_consecutive: int = Field(1000, ge=0)  # stop after more dead letters in a row than this (0: off)
    breaker_ratio: float = Field(0.5, ge=0, le=1)  # stop when more than this share of the last breaker_window changes are dead letters (0: off)
    breaker_window: int = Field(10_000, ge=1)

    # jsonl source
    changes: Path | None = None

    # binlog source (MySQL / MariaDB)
    mysql_url: SecretStr | None = None  # mysql://user:password@host:3306
    # replica id of this binlog reader: it must differ from every other reader of the same server
    # (another sync, `publish`, a real replica), or the server drops one of them; --server-id
    server_id: int = 4271
    binlog_ddl: Literal["stop", "continue_unmapped"] = "stop"  # DDL on a mapped table: stop, or pass it when no mapped column is touched
    binlog_truncate: Literal["delete", "stop"] = "delete"  # TRUNCATE of a mapped table: delete its graph elements, or stop
    binlog_until_end: bool = False  # return once the end of the binlog is reached (catch up, then exit)
    snapshot_chunk: int = Field(1000, ge=1)  # rows per primary-key chunk of `kbgraph snapshot`

    # kafka source / publish
    kafka_bootstrap: str | None = None
    kafka_topics: list[str] = Field(default_factory=list)
    kafka_group: str = "kbgraph"
    kafka_format: Literal["auto", "debezium", "maxwell", "canal", "native"] = "auto"
    kafka_dlq_topic: str | None = None
    kafka_topic_prefix: str = "kbgraph"  # publish: <prefix>.<db>.<table>
    kafka_consumer_options: dict[str, Any] = Field(default_factory=dict)  # extra kafka-python KafkaConsumer options (session_timeout_ms, ...)
    kafka_producer_options: dict[str, Any] = Field(default_factory=dict)  # extra kafka-python KafkaProducer options (linger_ms, ...)
    kafka_merge_wait_ms: int = Field(300, ge=0)  # how long a silent partition may hold up records of others in the ordered merge
    publish_state: Path | None = None  # publish: file holding the acknowledged binlog position (default kbgraph-publish.<pipeline>.json)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, _config_path()))


_CONFIG: Path | None = None


def _config_path() -> Path | None:
    if _CONFIG is not None:
        return _CONFIG
    default = Path("kbgraph.toml")
    return default if default.exists() else None


def load_settings(config: Path | None = None, **flags: Any) -> Settings:
    """Settings with flags (None = not given) over environment over the config file."""
    global _CONFIG
    _CONFIG = config
    try:
        return Settings(**{k: v for k, v in flags.items() if v is not None})
    finally:
        _CONFIG = None
