"""One line for a command that cannot reach PostgreSQL or Kafka: what it tried, and why."""

from __future__ import annotations

from urllib.parse import urlsplit

import kafka.errors
import psycopg
import psycopg_pool
import sqlalchemy.exc

from migrations.timescaledb_probe import StorageModeError
from simusage.settings import Settings


def database_target(url: str) -> str:
    """Where a database URL points, without its password."""
    parts = urlsplit(url)
    database = parts.path.lstrip("/") or "-"
    return (f"PostgreSQL at {parts.hostname or 'localhost'}:{parts.port or 5432} "
            f"(database {database}, user {parts.username or '-'})")


def _reason(error: BaseException, secret: str | None) -> str:
    lines = str(error).strip().splitlines()
    reason = lines[0].strip() if lines else type(error).__name__
    return reason.replace(secret, "***") if secret else reason


def describe_failure(error: BaseException, settings: Settings) -> str | None:
    """The line for an unreachable database or broker, or a storage mode this server cannot
    have; None for any other error, which is a fault to show in full."""
    if isinstance(error, sqlalchemy.exc.OperationalError) and error.orig is not None:
        error = error.orig
    if isinstance(error, (psycopg.OperationalError, psycopg_pool.PoolTimeout)):
        password = urlsplit(settings.database_url).password
        return f"cannot reach {database_target(settings.database_url)}: {_reason(error, password)}"
    if isinstance(error, (kafka.errors.KafkaConnectionError, kafka.errors.KafkaTimeoutError)):
        return (f"cannot reach the Kafka broker at {settings.kafka_bootstrap_servers}: "
                f"{_reason(error, None)}")
    if isinstance(error, StorageModeError):
        return str(error)
    return None
