"""Logging of every simusage process: text or JSON lines on stderr, at the configured level."""

from __future__ import annotations

import json
import logging
import sys

from simusage.settings import Settings


class JsonLines(logging.Formatter):
    """One JSON object per log record."""

    def format(self, record: logging.LogRecord) -> str:
        line = {"time": self.formatTime(record), "level": record.levelname,
                "logger": record.name, "message": record.getMessage()}
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line)


def configure_logging(settings: Settings) -> None:
    """Log to stderr as SIMUSAGE_LOG_FORMAT says, at SIMUSAGE_LOG_LEVEL (kafka-python: warnings)."""
    handler = logging.StreamHandler(sys.stderr)
    if settings.log_format == "json":
        handler.setFormatter(JsonLines())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=settings.log_level, handlers=[handler], force=True)
    level = logging.getLevelName(settings.log_level)
    logging.getLogger("kafka").setLevel(max(logging.WARNING, level))
    # uvicorn runs with log_config=None, so its loggers reach this handler like ours.
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    # Alembic announces each of its plugins at INFO whenever the migration scripts are read.
    logging.getLogger("alembic.runtime.plugins").setLevel(max(logging.WARNING, level))
    # Decoding a multi-megabyte fetch response takes longer than its 0.1 s "slow task" warning.
    logging.getLogger("kafka.net.selector").setLevel(max(logging.ERROR, level))
