"""Settings: one typed spec per component, flat names, flags > env > file > defaults, no leaking config path."""

from __future__ import annotations

from pathlib import Path

import pytest

from kbgraph.settings import (
    BinlogSettings,
    GraphSettings,
    JsonlSettings,
    KafkaSettings,
    PipelineSettings,
    PublishSettings,
    Settings,
    load,
    load_settings,
)

# one field of each component: (spec, field, environment name, file value, env value, flag value, default)
FIELDS = [
    (GraphSettings, "neo4j_uri", "NEO4J_URI", "bolt://file:7687", "bolt://env:7687", "bolt://flag:7687", None),
    (PipelineSettings, "batch_size", "KBGRAPH_BATCH_SIZE", 11, 22, 33, 1000),
    (JsonlSettings, "changes", "KBGRAPH_CHANGES", Path("file.jsonl"), Path("env.jsonl"), Path("flag.jsonl"), None),
    (BinlogSettings, "server_id", "KBGRAPH_SERVER_ID", 5001, 5002, 5003, 4271),
    (KafkaSettings, "kafka_group", "KBGRAPH_KAFKA_GROUP", "file-g", "env-g", "flag-g", "kbgraph"),
    (PublishSettings, "kafka_topic_prefix", "KBGRAPH_KAFKA_TOPIC_PREFIX", "file-p", "env-p", "flag-p", "kbgraph"),
]


def _toml(v: object) -> str:
    return str(v) if isinstance(v, int) else f'"{v}"'


@pytest.mark.parametrize("spec, field, env, file_value, env_value, flag_value, default", FIELDS,
                         ids=[f[1] for f in FIELDS])
def test_each_component_takes_flags_over_environment_over_file_over_defaults(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spec: type, field: str, env: str,
        file_value: object, env_value: object, flag_value: object, default: object) -> None:
    monkeypatch.chdir(tmp_path)  # no ./kbgraph.toml
    cfg = tmp_path / "given.toml"
    cfg.write_text(f"{field} = {_toml(file_value)}\n", encoding="utf-8")
    for kind in (spec, Settings):  # the component alone, and composed into the CLI's settings
        assert getattr(load(kind), field) == default
        assert getattr(load(kind, cfg), field) == file_value
        monkeypatch.setenv(env, str(env_value))
        assert getattr(load(kind, cfg), field) == env_value
        assert getattr(load(kind, cfg, **{field: None}), field) == env_value  # None: flag not given
        assert getattr(load(kind, cfg, **{field: flag_value}), field) == flag_value
        monkeypatch.delenv(env)


def test_a_config_path_does_not_leak_into_the_next_call(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    a, b = tmp_path / "a.toml", tmp_path / "b.toml"
    a.write_text('pipeline = "from-a"\nkafka_group = "group-a"\n', encoding="utf-8")
    b.write_text('pipeline = "from-b"\n', encoding="utf-8")
    assert load_settings(a).pipeline == "from-a"
    assert load_settings().pipeline == "default"  # no path: ./kbgraph.toml, absent here
    assert load_settings(b).pipeline == "from-b" and load_settings(b).kafka_group == "kbgraph"
    assert load(KafkaSettings).kafka_group == "kbgraph"
    assert load_settings(a).kafka_group == "group-a"  # a path used again reads its own file again
    (tmp_path / "kbgraph.toml").write_text('pipeline = "from-cwd"\n', encoding="utf-8")
    assert load_settings().pipeline == "from-cwd"  # the default file, looked for at each call
    assert load_settings(b).pipeline == "from-b"  # a given path replaces it


def test_settings_are_every_component_so_each_from_settings_takes_them() -> None:
    s = Settings()
    for spec in (GraphSettings, PipelineSettings, JsonlSettings, BinlogSettings, KafkaSettings, PublishSettings):
        assert isinstance(s, spec)
        assert set(spec.model_fields) <= set(Settings.model_fields)
    assert "kafka_bootstrap" not in BinlogSettings.model_fields and "mysql_url" not in KafkaSettings.model_fields
    assert "neo4j_uri" not in PipelineSettings.model_fields


def test_secrets_and_kafka_client_options_never_print(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = tmp_path / "kbgraph.toml"
    cfg.write_text('mysql_url = "mysql://u:my-sql-pw@h:3306"\n'
                   '[kafka_consumer_options]\nsasl_plain_password = "consumer-pw"\n'
                   '[kafka_producer_options]\nsasl_plain_password = "producer-pw"\n', encoding="utf-8")
    monkeypatch.setenv("NEO4J_PASSWORD", "graph-pw")
    s = load_settings()
    shown = repr(s) + str(s) + repr(load(KafkaSettings)) + repr(load(BinlogSettings))
    for secret in ("my-sql-pw", "consumer-pw", "producer-pw", "graph-pw"):
        assert secret not in shown
    assert s.kafka_consumer_options == {"sasl_plain_password": "consumer-pw"}
    assert s.kafka_producer_options["sasl_plain_password"] == "producer-pw"
    assert s.neo4j_password.get_secret_value() == "graph-pw"


def test_the_graph_target_comes_from_the_graph_spec_alone() -> None:
    from kbgraph.errors import KbgraphError
    from kbgraph.sink.target import from_settings

    with pytest.raises(KbgraphError, match="no graph to write to: set NEO4J_URI"):
        from_settings(GraphSettings(neo4j_uri=None))
    t = from_settings(GraphSettings(neo4j_uri="bolt://g:7687", neo4j_password="pw", graph_retry_s=1.5))
    assert (t.uri, t.user, t.password, t.database, t.retry_s) == ("bolt://g:7687", "neo4j", "pw", "neo4j", 1.5)


def test_verify_picks_its_rows_through_the_registry(tmp_path: Path) -> None:
    from kbgraph.errors import KbgraphError, SourceError
    from kbgraph.verify.source_rows import current_rows

    with pytest.raises(KbgraphError, match="verify reads rows from 'snapshot' or 'jsonl', not 'kafka'"):
        current_rows("kafka", Settings(), None)
    with pytest.raises(SourceError, match="verify --source jsonl needs --changes FILE"):
        current_rows("jsonl", Settings(), None)
    with pytest.raises(SourceError, match="verify needs mysql_url"):
        current_rows("snapshot", Settings(), None)
    f = tmp_path / "rows.jsonl"
    f.write_text('{"table": "t", "op": "insert", "after": {"id": 1}}\n', encoding="utf-8")
    rows = current_rows("jsonl", Settings(changes=f), None)
    assert rows.concrete(None, "t") == [("", "t")]


def test_a_signal_stops_the_run_and_the_old_handlers_come_back() -> None:
    import os
    import signal

    from kbgraph.cli.run import stop_on_signals

    before = signal.getsignal(signal.SIGTERM)
    calls: list[str] = []
    with stop_on_signals(lambda: calls.append("stop")) as stopped:
        assert not stopped.requested
        os.kill(os.getpid(), signal.SIGTERM)  # delivered to the main thread before kill returns
        assert calls == ["stop"] and stopped.requested
    assert signal.getsignal(signal.SIGTERM) is before
