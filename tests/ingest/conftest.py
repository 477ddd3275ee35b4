"""Fixtures of the ingest tests: topics on the real broker, workers in threads or processes."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic

from ingest.inventory import import_inventory_file
from ingest.worker import Worker
from simusage.settings import Settings
from tests.conftest import KAFKA, settings_for
from tests.ingest.helpers import INVENTORY_FILE

ROOT = Path(__file__).resolve().parents[2]
PARTITIONS = 4


def wait_for(condition: Callable[[], object], timeout: float = 60, what: str = "condition") -> object:
    """Poll condition until it returns something true; fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def topic(topic_name: str) -> Iterator[str]:
    """A topic of its own (4 partitions) and its dead-letter topic (1), deleted afterwards."""
    admin = KafkaAdminClient(bootstrap_servers=KAFKA)
    admin.create_topics([NewTopic(topic_name, PARTITIONS, 1), NewTopic(f"{topic_name}.dlq", 1, 1)])
    wait_for(lambda: end_offsets(topic_name) is not None, 20, "the topic's metadata")
    yield topic_name
    with contextlib.suppress(Exception):
        admin.delete_topics([topic_name, f"{topic_name}.dlq"])
    admin.close()


def end_offsets(topic: str, partitions: int = PARTITIONS, bootstrap: str = KAFKA) -> dict[int, int] | None:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        ends = consumer.end_offsets([TopicPartition(topic, p) for p in range(partitions)])
        return {tp.partition: offset for tp, offset in ends.items()}
    except Exception:  # noqa: BLE001 - not there yet
        return None
    finally:
        consumer.close()


def produce(topic: str, events, partition: int | None = None, bootstrap: str = KAFKA,
            headers: list | None = None) -> list[bytes]:
    """Send (key, value) pairs, acknowledged by the broker; return the values sent."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=10, batch_size=256 * 1024, acks="all",
                             max_request_size=1_048_576 + 4096)
    values = []
    for key, value in events:
        producer.send(topic, key=key, value=value, partition=partition, headers=headers)
        values.append(value)
    producer.flush()
    producer.close()
    return values


def dead_letters(topic: str, at_least: int, timeout: float = 30, bootstrap: str = KAFKA) -> list:
    """Every record of the topic's dead-letter topic, once there are at least `at_least`."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    partition = TopicPartition(f"{topic}.dlq", 0)
    consumer.assign([partition])
    consumer.seek_to_beginning(partition)
    records: list = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for batch in consumer.poll(timeout_ms=200).values():
            records.extend(batch)
        if len(records) >= at_least and consumer.position(partition) >= consumer.end_offsets([partition])[partition]:
            break
    consumer.close()
    return records


def committed(url: str, topic: str) -> int:
    """Records the database has consumed from the topic, all partitions together."""
    with psycopg.connect(url) as connection:
        return connection.execute(
            "SELECT coalesce(sum(next_offset), 0)::bigint FROM kafka_offset WHERE topic = %s", (topic,)
        ).fetchone()[0]


@pytest.fixture
def ingest_database(postgres_database: str) -> str:
    """A PostgreSQL-mode database with the reference inventory."""
    import_inventory_file(settings_for(postgres_database), INVENTORY_FILE)
    return postgres_database


def worker_settings(url: str, topic: str, **overrides) -> Settings:
    values = {
        "SIMUSAGE_TOPIC": topic, "SIMUSAGE_CONSUMER_GROUP": f"group-{topic}",
        "SIMUSAGE_INGEST_METRICS_PORT": "0", "SIMUSAGE_BATCH_WAIT_MS": "100",
        "SIMUSAGE_SESSION_TIMEOUT_MS": "6000", "SIMUSAGE_HEARTBEAT_INTERVAL_MS": "1000",
    }
    return settings_for(url, **(values | overrides))


@contextlib.contextmanager
def running_worker(settings: Settings) -> Iterator[Worker]:
    """A worker on a thread of this process; stopped (as by SIGTERM) on exit."""
    stop = threading.Event()
    worker = Worker(settings, stop)
    outcome: list = []
    thread = threading.Thread(target=lambda: outcome.append(worker.run()), daemon=True)
    thread.start()
    try:
        yield worker
    finally:
        stop.set()
        thread.join(60)
        assert not thread.is_alive(), "the worker did not stop"
    assert outcome == [0]


def wait_consumed(worker: Worker, ends: dict[int, int], timeout: float = 60) -> None:
    wait_for(lambda: all(worker.committed.get(p, 0) >= e for p, e in ends.items() if e), timeout,
             f"the worker to commit up to {ends}")


class WorkerProcess:
    """`simusage ingest` as a process of its own, for signals and kill -9."""

    def __init__(self, settings: Settings, log: Path) -> None:
        environment = {**os.environ, **{
            alias: str(value) for alias, value in _environment(settings).items()
        }}
        self.path = log
        self.log = log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "simusage.cli", "ingest"], cwd=ROOT, env=environment,
            stdout=self.log, stderr=subprocess.STDOUT,
        )

    def assignments(self) -> list[str]:
        """The partition lists this worker was assigned, in order, from its log."""
        text = self.path.read_text(errors="replace")
        return re.findall(r"assigned partitions (\[[0-9, ]*\])", text)

    def signal(self, number: int) -> None:
        self.process.send_signal(number)

    def wait(self, timeout: float = 30) -> int:
        return self.process.wait(timeout)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.signal(signal.SIGTERM)
        code = self.wait(30)
        self.log.close()
        return code


def _environment(settings: Settings) -> dict[str, object]:
    """The environment variables that give these settings."""
    variables = {}
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias.choices[0]
        variables[alias] = getattr(settings, name)
    return variables


@pytest.fixture
def worker_processes(tmp_path: Path) -> Iterator[Callable[[Settings], WorkerProcess]]:
    """Start worker processes; any still running at the end is killed."""
    started: list[WorkerProcess] = []

    def start(settings: Settings) -> WorkerProcess:
        process = WorkerProcess(settings, tmp_path / f"worker-{len(started)}.log")
        started.append(process)
        return process

    yield start
    for process in started:
        if process.process.poll() is None:
            process.process.kill()
            process.process.wait(10)


class Proxy:
    """A TCP forwarder to a server, which a test can cut (connections reset, new ones refused)
    and restore: the database going away and coming back, without touching the real one."""

    def __init__(self, port: int) -> None:
        self.target = port
        self.connections: list = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._serving = True
        threading.Thread(target=self._accept, args=(self._listener,), daemon=True).start()

    def _accept(self, listener) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(("127.0.0.1", self.target))
            except OSError:
                client.close()
                continue
            self.connections += [client, server]
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source, sink) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.close()

    def cut(self) -> None:
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread up
        self._listener.close()
        for connection in self.connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
                connection.close()
        self.connections = []

    def restore(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, args=(self._listener,), daemon=True).start()

    def close(self) -> None:
        self.cut()
