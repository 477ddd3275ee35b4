"""Logs: readable text by default, one JSON object per line when SIMUSAGE_LOG_FORMAT=json."""

from __future__ import annotations

import json
import logging

import pytest

from simusage.logs import configure_logging
from simusage.settings import load_settings


@pytest.fixture(autouse=True)
def restore_logging():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_json_lines_from_our_loggers_and_uvicorn(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(load_settings(SIMUSAGE_LOG_FORMAT="json"))
    logging.getLogger("simusage.ingest").info("batch: %d records", 3)
    logging.getLogger("uvicorn.error").warning("shutting down")
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("app").exception("failed")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [(line["logger"], line["level"], line["message"]) for line in lines] == [
        ("simusage.ingest", "INFO", "batch: 3 records"),
        ("uvicorn.error", "WARNING", "shutting down"),
        ("app", "ERROR", "failed"),
    ]
    assert "ValueError: boom" in lines[2]["exception"]


def test_text_by_default_at_the_configured_level(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(load_settings(SIMUSAGE_LOG_FORMAT="text", SIMUSAGE_LOG_LEVEL="warning"))
    logging.getLogger("simusage.ingest").info("hidden")
    logging.getLogger("simusage.ingest").warning("shown")
    error = capsys.readouterr().err
    assert "hidden" not in error
    assert "WARNING simusage.ingest: shown" in error
    with pytest.raises(json.JSONDecodeError):
        json.loads(error.splitlines()[0])
