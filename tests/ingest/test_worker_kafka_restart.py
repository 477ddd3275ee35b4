"""The worker when Kafka goes away and comes back (issue 3: "Kafka down: it reconnects").

The shared broker on 127.0.0.1:9092 serves every other test, so it must not be stopped; and a
TCP proxy in front of Kafka proves nothing, because clients bootstrap through it and then
connect to the broker's advertised listener directly. So this module runs a broker of its own,
with the project's own scripts/kafka.sh on free ports and a temporary state directory, and
stops and restarts that one for real (same data directory: the topics and records survive).
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from kafka.admin import KafkaAdminClient, NewTopic

from ingest.dead_letters import SOURCE_OFFSET, SOURCE_PARTITION
from ingest.events import Event, parse_event
from tests.ingest.conftest import (
    PARTITIONS, ROOT, committed, dead_letters, end_offsets, produce, wait_for, worker_settings,
)
from tests.ingest.helpers import expected_totals, raw_totals
from tests.ingest.test_worker import headers_of, reference_runs, totals

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class PrivateKafka:
    """A broker of this module's own, driven by scripts/kafka.sh start|stop."""

    state_dir: Path
    port: int
    controller_port: int

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _script(self, command: str) -> None:
        environment = {**os.environ, "SIMUSAGE_STATE_DIR": str(self.state_dir),
                       "SIMUSAGE_KAFKA_PORT": str(self.port),
                       "SIMUSAGE_KAFKA_CONTROLLER_PORT": str(self.controller_port)}
        result = subprocess.run([str(ROOT / "scripts" / "kafka.sh"), command], env=environment,
                                capture_output=True, text=True, timeout=180, check=False)
        assert result.returncode == 0, f"kafka.sh {command} failed:\n{result.stdout}\n{result.stderr}"

    def start(self) -> None:
        self._script("start")

    def stop(self) -> None:
        self._script("stop")


@pytest.fixture(scope="module")
def private_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateKafka]:
    """A private single-node broker for this module; stopped (whatever happened) at the end.
    The jars come from ~/.m2 via mvn into the state directory: a few seconds, offline."""
    kafka = PrivateKafka(tmp_path_factory.mktemp("private-kafka"), free_port(), free_port())
    kafka.start()
    try:
        yield kafka
    finally:
        kafka.stop()


def dead_letter_sources(bootstrap: str, topic: str, at_least: int, timeout: float = 30) -> Counter:
    """(source partition, source offset) -> copies, over the topic's dead-letter topic."""
    records = dead_letters(topic, at_least, timeout, bootstrap)
    return Counter((headers_of(r)[SOURCE_PARTITION], headers_of(r)[SOURCE_OFFSET]) for r in records)


@pytest.fixture
def private_topic(private_kafka: PrivateKafka, topic_name: str) -> str:
    """A topic of 4 partitions and its dead-letter topic on the private broker (which goes
    away with its temporary state directory: nothing to delete)."""
    admin = KafkaAdminClient(bootstrap_servers=private_kafka.bootstrap)
    admin.create_topics([NewTopic(topic_name, PARTITIONS, 1), NewTopic(f"{topic_name}.dlq", 1, 1)])
    admin.close()
    wait_for(lambda: end_offsets(topic_name, bootstrap=private_kafka.bootstrap) is not None, 20, "the topic's metadata")
    return topic_name


def test_kafka_stopped_and_restarted_under_a_running_worker_loses_and_doubles_nothing(
    ingest_database: str, private_kafka: PrivateKafka, private_topic: str, worker_processes
) -> None:
    topic, bootstrap = private_topic, private_kafka.bootstrap
    events = reference_runs(1)  # 40,320 events; day 00's 1,440 are rejected (dead letters)
    half = len(events) // 2
    # Rejected records on both sides of the outage: the dead-letter producer reconnects too.
    before = produce(topic, events[:720] + events[1440:half], bootstrap=bootstrap)
    worker = worker_processes(worker_settings(
        ingest_database, topic, KAFKA_BOOTSTRAP_SERVERS=bootstrap, SIMUSAGE_BATCH_SIZE="2000",
    ))
    pid = worker.process.pid
    wait_for(lambda: committed(ingest_database, topic) == len(before), 60, "the first half ingested")

    private_kafka.stop()  # SIGTERM to the broker: every connection of the worker's is closed
    down_until = time.monotonic() + 5
    while time.monotonic() < down_until:  # 5 s without a broker: the worker must wait it out
        assert worker.process.poll() is None, "the worker exited while Kafka was down"
        time.sleep(0.1)
    assert committed(ingest_database, topic) == len(before)

    private_kafka.start()  # same state directory: the topics and the first half are still there
    after = produce(topic, events[720:1440] + events[half:], bootstrap=bootstrap)
    sent = before + after
    # Promptly: about 1 s of reconnect backoff plus a second of work. With kafka-python's
    # default 30 s backoff cap this took ~14 s after an outage of ~8 s.
    wait_for(lambda: committed(ingest_database, topic) == len(sent), 8, "the second half ingested")

    # Same process all along: it reconnected rather than crashing and being restarted.
    assert worker.process.pid == pid and worker.process.poll() is None
    assert worker.stop() == 0

    assert committed(ingest_database, topic) == len(sent)  # nothing read twice past the end
    assert totals(ingest_database) == expected_totals(sent)  # no loss, no duplicate
    with psycopg.connect(ingest_database) as connection:
        assert raw_totals(connection) == expected_totals(sent)
    rejected = sum(1 for v in sent if not isinstance(parse_event(v), Event))
    assert rejected > 0
    assert len(dead_letter_sources(bootstrap, topic, rejected)) == rejected  # every one, maybe twice
