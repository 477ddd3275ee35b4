"""The dead-letter producer on the real broker: the fast append path is the one taken."""

from __future__ import annotations

import pytest

from ingest.dead_letters import DeadLetters
from tests.conftest import settings_for

pytestmark = pytest.mark.kafka


def test_the_installed_kafka_python_takes_the_fast_append_path(topic: str) -> None:
    """`send` falls back to KafkaProducer.send, half as slow again, when the seam is missing
    (it was, with 3.0.12's idempotent producers): an upgrade that moves the seam must fail
    here, not quietly cost throughput."""
    dead_letters = DeadLetters(settings_for("postgresql://unused/x", SIMUSAGE_TOPIC=topic))
    try:
        producer = dead_letters._connect()  # noqa: SLF001
        assert dead_letters._appender(producer) is not None  # noqa: SLF001
    finally:
        dead_letters.close()
