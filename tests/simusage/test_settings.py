"""Settings: defaults that run the demo, and bad values that name their variable."""

from __future__ import annotations

import pytest

from simusage.settings import SettingsError, load_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    for name in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS", "SIMUSAGE_TOPIC", "SIMUSAGE_API_PORT",
                 "SIMUSAGE_STORAGE_MODE", "SIMUSAGE_AUTH", "SIMUSAGE_DEAD_LETTER_TOPIC"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env


def test_defaults() -> None:
    settings = load_settings()
    assert settings.kafka_bootstrap_servers == "localhost:9092"
    assert settings.topic == "usage"
    assert settings.dead_letters == "usage.dlq"
    assert (settings.api_host, settings.api_port) == ("127.0.0.1", 8000)
    assert settings.storage_mode == "auto"
    assert settings.auth == "on"


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIMUSAGE_TOPIC", "events")
    monkeypatch.setenv("SIMUSAGE_API_PORT", "9000")
    settings = load_settings()
    assert (settings.topic, settings.dead_letters, settings.api_port) == ("events", "events.dlq", 9000)


def test_dotenv_file_is_read(tmp_path) -> None:
    (tmp_path / ".env").write_text("SIMUSAGE_STORAGE_MODE=postgres\n")
    assert load_settings().storage_mode == "postgres"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SIMUSAGE_API_PORT", "eighty"),
        ("SIMUSAGE_API_PORT", "70000"),
        ("SIMUSAGE_STORAGE_MODE", "mysql"),
        ("DATABASE_URL", "mysql://localhost/db"),
        ("SIMUSAGE_AUTH", "maybe"),
        ("SIMUSAGE_BATCH_SIZE", "0"),
    ],
)
def test_bad_value_names_its_variable(monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=variable):
        load_settings()
