"""`make chaos`: exactly-once under faults, on the project's own services.

1,000,000 reference-shaped events are produced at a steady rate to a 4-partition topic while two
`simusage ingest` workers consume them and, in turn: (a) 20 SIGKILLs hit random workers at
random times (each restarted at once), (b) PostgreSQL is stopped for 60 s, (c) the Kafka broker
is restarted. Then the stored rows are compared, card by card, with what was produced: lost and
duplicated events must both be 0. For each fault it prints the time from the fault's end (the
kill, the database or broker back) to the next committed batch.

Minutes long, and it stops the services it uses: never run it beside `make test`.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import random
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import psycopg
from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# bench/ingest.py's helpers (loaded by path: its module name is the project's `ingest` too).
_spec = importlib.util.spec_from_file_location("bench_ingest", ROOT / "bench" / "ingest.py")
bench_ingest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_ingest)

from simusage import migration  # noqa: E402
from simusage.settings import load_settings  # noqa: E402

KAFKA = bench_ingest.KAFKA
PARTITIONS = 4
COMMITTED = "SELECT coalesce(sum(next_offset), 0) FROM kafka_offset WHERE topic = %s"
STORED = "SELECT sim_card_id, count(*), sum(bytes_used) FROM usage GROUP BY sim_card_id"
ROLLED_UP = "SELECT sim_card_id, sum(event_count), sum(bytes_used) FROM usage_sim_card_daily GROUP BY sim_card_id"


class Progress:
    """Watches the committed offsets: when each fault was followed by a committed batch."""

    def __init__(self, url: str, topic: str) -> None:
        self.url, self.topic = url, topic
        self.committed = 0
        self.changed_at = 0.0
        self.stop = threading.Event()
        threading.Thread(target=self._watch, daemon=True).start()

    def _watch(self) -> None:
        while not self.stop.is_set():
            try:
                with psycopg.connect(self.url, connect_timeout=2) as connection:
                    while not self.stop.is_set():
                        value = connection.execute(COMMITTED, (self.topic,)).fetchone()[0]
                        if value != self.committed:
                            self.committed, self.changed_at = value, time.monotonic()
                        connection.rollback()
                        time.sleep(0.05)
            except psycopg.Error:
                time.sleep(0.2)  # the database is down: the fault under test

    def next_commit_after(self, moment: float, timeout: float = 300) -> float:
        """Seconds from moment to the first committed batch after it."""
        deadline = time.monotonic() + timeout
        while self.changed_at <= moment:
            if time.monotonic() > deadline:
                return float("inf")
            time.sleep(0.02)
        return self.changed_at - moment


def worker(url: str, topic: str, logs: Path) -> subprocess.Popen:
    environment = {**os.environ, "DATABASE_URL": url, "SIMUSAGE_TOPIC": topic,
                   "KAFKA_BOOTSTRAP_SERVERS": KAFKA, "SIMUSAGE_CONSUMER_GROUP": f"{topic}-group",
                   "SIMUSAGE_INGEST_METRICS_PORT": "0", "SIMUSAGE_LOG_LEVEL": "WARNING",
                   "SIMUSAGE_SESSION_TIMEOUT_MS": "6000", "SIMUSAGE_HEARTBEAT_INTERVAL_MS": "2000",
                   "SIMUSAGE_BATCH_SIZE": "20000"}
    log = open(logs / f"worker-{uuid.uuid4().hex[:6]}.log", "w")  # noqa: SIM115 - lives with the process
    return subprocess.Popen([sys.executable, "-m", "simusage.cli", "ingest"], env=environment,
                            stdout=log, stderr=subprocess.STDOUT)


def produce_steadily(topic: str, events: list, seconds: float, done: threading.Event) -> None:
    """Send the events over about `seconds`, so that every fault lands mid-load."""
    producer = KafkaProducer(bootstrap_servers=KAFKA, linger_ms=20, acks="all", retries=2**31 - 1,
                             enable_idempotence=True, batch_size=256 * 1024)
    started, slices = time.monotonic(), 200
    step = len(events) // slices + 1
    for number in range(slices):
        for key, value in events[number * step:(number + 1) * step]:
            producer.send(topic, key=key, value=value)
        time.sleep(max(0.0, started + seconds * (number + 1) / slices - time.monotonic()))
    producer.flush()
    producer.close()
    done.set()


def service(name: str, action: str) -> None:
    subprocess.run([str(ROOT / "scripts" / f"{name}.sh"), action], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main() -> int:
    """Run the three faults; 0 when nothing was lost or duplicated."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--outage", type=float, default=60.0, help="seconds the database is down")
    arguments = parser.parse_args()
    draw = random.Random(2026)

    database = f"simusage_chaos_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(bench_ingest.SERVER, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{database}"')
    url = bench_ingest.url_of(database)
    migration.upgrade(load_settings(DATABASE_URL=url, SIMUSAGE_STORAGE_MODE="postgres"))
    topic = f"chaos-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=KAFKA)
    admin.create_topics([NewTopic(topic, PARTITIONS, 1), NewTopic(f"{topic}.dlq", 1, 1)])
    admin.close()

    events = bench_ingest.reference_run_events(arguments.events)
    expected: Counter = Counter()
    expected_bytes: Counter = Counter()
    rejected = 0
    for _, value in events:  # the reference data holds bad records too: they are no usage
        event = bench_ingest.parse_event(value)
        if isinstance(event, bench_ingest.Event):
            expected[event.sim_card_id] += 1
            expected_bytes[event.sim_card_id] += event.bytes_used
        else:
            rejected += 1

    logs = ROOT / ".run" / "chaos"
    logs.mkdir(parents=True, exist_ok=True)
    workers = [worker(url, topic, logs), worker(url, topic, logs)]
    progress = Progress(url, topic)
    produced = threading.Event()
    threading.Thread(target=produce_steadily, args=(topic, events, 150.0, produced), daemon=True).start()
    recoveries: dict[str, list[float]] = {"SIGKILL of a worker": [], "database down": [],
                                          "broker restart": []}
    started = time.monotonic()
    progress.next_commit_after(started)

    # (a) kills at random moments over the first 50 s, each victim restarted at once.
    for moment in sorted(draw.uniform(2, 50) for _ in range(arguments.kills)):
        time.sleep(max(0.0, started + moment - time.monotonic()))
        victim = draw.randrange(len(workers))
        workers[victim].kill()
        workers[victim].wait()
        killed_at = time.monotonic()
        workers[victim] = worker(url, topic, logs)
        recoveries["SIGKILL of a worker"].append(progress.next_commit_after(killed_at, 120))

    # (b) the database stopped for the outage, mid-load.
    service("postgres", "stop")
    time.sleep(arguments.outage)
    service("postgres", "start")
    back = time.monotonic()
    recoveries["database down"].append(progress.next_commit_after(back))

    # (c) the broker restarted, mid-load (or as soon after as the outage allowed).
    service("kafka", "restart")
    back = time.monotonic()
    recoveries["broker restart"].append(progress.next_commit_after(back))

    produced.wait(600)
    ends = bench_ingest.end_offsets(topic, PARTITIONS)
    total_end = sum(ends.values())
    deadline = time.monotonic() + 600
    while progress.committed < total_end and time.monotonic() < deadline:
        time.sleep(0.5)
    progress.stop.set()
    for process in workers:
        process.terminate()
    for process in workers:
        process.wait(60)

    with psycopg.connect(url) as connection:
        stored = {card: (count, total) for card, count, total in connection.execute(STORED)}
        rolled = {card: (count, total) for card, count, total in connection.execute(ROLLED_UP)}
    lost = sum(max(0, expected[card] - stored.get(card, (0, 0))[0]) for card in expected)
    duplicated = sum(max(0, count - expected.get(card, 0)) for card, (count, _) in stored.items())
    bytes_off = sum(abs(expected_bytes[card] - stored.get(card, (0, 0))[1]) for card in expected)
    rollups_off = sum(stored[card] != rolled.get(card) for card in stored)

    print(f"chaos: {len(events):,} events on {PARTITIONS} partitions, 2 workers, "
          f"{arguments.kills} SIGKILLs, database down {arguments.outage:.0f} s, broker restarted; "
          f"{time.monotonic() - started:.0f} s in all; {rejected:,} of them bad records")
    print(f"  lost events: {lost}   duplicated events: {duplicated}   bytes off: {bytes_off}   "
          f"cards whose rollups differ from their raw rows: {rollups_off}")
    for fault, seconds in recoveries.items():
        ordered = sorted(seconds)
        median = ordered[len(ordered) // 2]
        print(f"  {fault}: next committed batch after {median:.1f} s (median of {len(ordered)}, "
              f"max {ordered[-1]:.1f} s)")
    with psycopg.connect(bench_ingest.SERVER, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE "{database}" WITH (FORCE)')
    return 0 if lost == duplicated == bytes_off == rollups_off == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
