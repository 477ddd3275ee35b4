"""The ingest benchmarks' shared runs (bench/ingest.py, bench/workers.py): a topic filled with
reference-shaped events, `simusage ingest` processes timed from their start to the stored offsets
reaching the topic's end, with PostgreSQL's CPU over the run, and the `psql \\copy` ceiling."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit, urlunsplit

import psycopg
from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ingest.events import EARLIEST, Event, parse_event  # noqa: E402
from ingest.producer import REFERENCE_EVENTS, reference_events  # noqa: E402

SERVER = os.environ.get(
    "SIMUSAGE_BENCH_POSTGRES_URL", "postgresql://simusage:simusage@127.0.0.1:55432/postgres"
)
KAFKA = os.environ.get("SIMUSAGE_BENCH_KAFKA", "127.0.0.1:9092")
INVENTORY = Path(os.environ.get("SIMUSAGE_BENCH_INVENTORY", ROOT / "data" / "inventory.json"))
if not INVENTORY.exists():
    INVENTORY = ROOT.parent / "shared" / "data" / "inventory.json"
CLEAR = ("usage", "sim_card_seen", "kafka_offset", "usage_sim_card_hourly", "usage_organization_hourly",
         "usage_sim_card_daily", "usage_organization_daily", "usage_sim_card_monthly")


def clean_slate(connection: psycopg.Connection, tables: tuple[str, ...]) -> None:
    """Empty the tables and write out what the previous measure left dirty, so that each
    measure starts alike instead of paying for its predecessor's checkpoint."""
    connection.execute(sql.SQL("TRUNCATE {}").format(sql.SQL(", ").join(map(sql.Identifier, tables))))
    connection.commit()
    try:
        connection.execute("CHECKPOINT")  # superuser or pg_checkpoint only
    except psycopg.Error:
        connection.rollback()
    connection.commit()


def url_of(database: str) -> str:
    return urlunsplit(urlsplit(SERVER)._replace(path=f"/{database}"))


def reference_run_events(events: int) -> list:
    """`events` reference-shaped (key, value) pairs: the reference producer's runs in a row."""
    sent = []
    run = 0
    while len(sent) < events:
        sent.extend(reference_events(seed=1000 + run))
        run += 1
    del sent[events:]
    return sent


def fill_topic(topic: str, partitions: int, sent: list) -> list:
    """Create the topic and send the (key, value) events to it; return them."""
    events = len(sent)
    admin = KafkaAdminClient(bootstrap_servers=KAFKA)
    admin.create_topics([NewTopic(topic, partitions, 1), NewTopic(f"{topic}.dlq", 1, 1)])
    admin.close()
    producer = KafkaProducer(bootstrap_servers=KAFKA, linger_ms=20, batch_size=512 * 1024,
                             max_request_size=8 * 1024 * 1024, acks=1)
    started = time.monotonic()
    for key, value in sent:
        producer.send(topic, key=key, value=value)
    producer.flush()
    producer.close()
    elapsed = time.monotonic() - started
    print(f"filled {topic} ({partitions} partitions): {events:,} events ({events / REFERENCE_EVENTS:.1f} "
          f"reference runs) in {elapsed:.1f} s ({events / elapsed:,.0f} events/s)")
    return sent


def end_offsets(topic: str, partitions: int) -> dict[int, int]:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=KAFKA)
    ends = consumer.end_offsets([TopicPartition(topic, p) for p in range(partitions)])
    consumer.close()
    return {tp.partition: offset for tp, offset in ends.items()}


class WorkerRun(NamedTuple):
    """One timed run: seconds from the processes' start and from the first commit to the last
    (scaled to all events), rows stored, and PostgreSQL's CPU seconds over it (None if it does
    not run on this machine)."""

    total: float
    steady: float
    rows: int
    database_cpu: float | None


def run_workers(url: str, topic: str, ends: dict[int, int], batch_size: int,
                workers: int = 1) -> WorkerRun:
    """`workers` worker processes of one consumer group on a clean table, until the stored
    offsets reach the topic's end."""
    from api_servers import postgres_cpu_seconds  # after the ingest package: it puts bench/ first

    with psycopg.connect(url, autocommit=True) as connection:
        clean_slate(connection, CLEAR)
    environment = dict(
        os.environ, DATABASE_URL=url, KAFKA_BOOTSTRAP_SERVERS=KAFKA, SIMUSAGE_TOPIC=topic,
        SIMUSAGE_CONSUMER_GROUP=f"bench-{uuid.uuid4().hex[:8]}", SIMUSAGE_INGEST_METRICS_PORT="0",
        SIMUSAGE_LOG_LEVEL="WARNING", SIMUSAGE_BATCH_SIZE=str(batch_size),
    )
    target = sum(ends.values())
    database_before = postgres_cpu_seconds()
    started = time.monotonic()
    processes = [subprocess.Popen([sys.executable, "-m", "simusage.cli", "ingest"], env=environment,
                                  cwd=ROOT) for _ in range(workers)]
    first = None
    try:
        with psycopg.connect(url, autocommit=True) as connection:
            while True:
                done = connection.execute(
                    "SELECT coalesce(sum(next_offset), 0)::bigint FROM kafka_offset WHERE topic = %s", (topic,)
                ).fetchone()[0]
                now = time.monotonic()
                if done and first is None:
                    first = (now, done)
                if done >= target:
                    break
                if any(process.poll() is not None for process in processes) or now - started > 900:
                    raise SystemExit("a worker stopped or they took too long")
                time.sleep(0.02)
            database_after = postgres_cpu_seconds()
            rows = connection.execute("SELECT count(*) FROM usage").fetchone()[0]
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(30)
    total = now - started
    steady = (now - first[0]) * target / max(target - first[1], 1) if first else total
    cpu = None if database_before is None or database_after is None else database_after - database_before
    return WorkerRun(total, steady, rows, cpu)


def run_worker(url: str, topic: str, ends: dict[int, int], batch_size: int) -> tuple[float, float, int]:
    """(seconds from start, seconds first->last commit, rows) for one worker on a clean table."""
    run = run_workers(url, topic, ends, batch_size)
    return run.total, run.steady, run.rows


def accepted_rows(events: list, owners: dict[str, str]) -> list[tuple]:
    rows = []
    for _, value in events:
        event = parse_event(value)
        if isinstance(event, Event):
            moment = EARLIEST + timedelta(microseconds=event.time_us)
            rows.append((moment, event.sim_card_id, owners.get(event.sim_card_id), event.bytes_used))
    return rows


def psql_copy(url: str, path: str) -> float:
    with psycopg.connect(url) as connection:
        clean_slate(connection, ("usage",))
    started = time.monotonic()
    subprocess.run(["psql", url, "-q", "-c",
                    f"\\copy usage (time, sim_card_id, organization_id, bytes_used) from '{path}'"],
                   check=True)
    return time.monotonic() - started


