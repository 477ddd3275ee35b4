"""Fixtures of the command-line tests."""

from __future__ import annotations

import pytest

from simusage.settings import get_settings


@pytest.fixture
def database(postgres_database: str, monkeypatch: pytest.MonkeyPatch, tmp_path) -> str:
    """The test database as the command's DATABASE_URL."""
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("DATABASE_URL", postgres_database)
    get_settings.cache_clear()
    yield postgres_database
    get_settings.cache_clear()
