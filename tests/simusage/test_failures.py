"""Commands that cannot reach PostgreSQL or Kafka say so in one line, without the password."""

from __future__ import annotations

import os
import subprocess
import sys

import kafka.errors
import pytest

from simusage.failures import database_target, describe_failure
from tests.conftest import settings_for

UNREACHABLE = "postgresql://someone:s3cret-pass@127.0.0.1:1/nowhere"


@pytest.mark.parametrize("command", [["migrate"], ["apikey", "list"],
                                     ["apikey", "create", "--admin"]])
def test_a_command_on_an_unreachable_database_fails_in_one_line(command: list[str]) -> None:
    environment = {**os.environ, "DATABASE_URL": UNREACHABLE, "SIMUSAGE_LOG_LEVEL": "INFO"}
    result = subprocess.run([sys.executable, "-m", "simusage.cli", *command], env=environment,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "cannot reach PostgreSQL at 127.0.0.1:1 (database nowhere, user someone)" in lines[0]
    assert "refused" in lines[0] and "s3cret-pass" not in result.stderr


def test_with_debug_logging_the_traceback_is_shown() -> None:
    environment = {**os.environ, "DATABASE_URL": UNREACHABLE, "SIMUSAGE_LOG_LEVEL": "DEBUG"}
    result = subprocess.run([sys.executable, "-m", "simusage.cli", "migrate"], env=environment,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "Traceback" in result.stderr


def test_descriptions_name_the_target_and_hide_the_password() -> None:
    settings = settings_for(UNREACHABLE, KAFKA_BOOTSTRAP_SERVERS="broker.example:9092")
    assert database_target(UNREACHABLE) == "PostgreSQL at 127.0.0.1:1 (database nowhere, user someone)"
    broker = describe_failure(kafka.errors.KafkaConnectionError("111 ECONNREFUSED"), settings)
    assert broker.startswith("cannot reach the Kafka broker at broker.example:9092")
    import psycopg

    leaked = describe_failure(psycopg.OperationalError("auth failed for s3cret-pass\nmore"), settings)
    assert "s3cret-pass" not in leaked and "more" not in leaked
    assert describe_failure(ValueError("a fault"), settings) is None
