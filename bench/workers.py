"""Ingest with 1 and 2 workers (issue 14): the same filled topic of 4 partitions into a fresh
PostgreSQL-mode database, one and two `simusage ingest` processes of one consumer group,
interleaved with the same run's `psql \\copy` ceiling; events per second, and PostgreSQL's CPU
per 1,000 events (from /proc: the database runs on this machine). Medians of --repeat runs.

    python bench/workers.py [--events 1008000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import uuid
from pathlib import Path

import psycopg
from kafka.admin import KafkaAdminClient
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from ingest.inventory import import_inventory_file  # noqa: E402
from simusage import migration  # noqa: E402
from simusage.settings import load_settings  # noqa: E402
from ingest_runs import (  # noqa: E402
    INVENTORY, KAFKA, SERVER, WorkerRun, accepted_rows, end_offsets, fill_topic, psql_copy,
    reference_run_events, run_workers, url_of,
)

PARTITIONS = 4


def per_thousand_ms(runs: list[WorkerRun], events: int) -> str:
    """PostgreSQL's median CPU per 1,000 events, in ms."""
    cpu = [run.database_cpu for run in runs if run.database_cpu is not None]
    return f"{statistics.median(cpu) * 1000 * 1000 / events:.1f} ms" if cpu else "not measured"


def main() -> int:
    """Run the benchmark and print the rates."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_008_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=load_settings().batch_size)
    arguments = parser.parse_args()
    database = f"simusage_bench_workers_{uuid.uuid4().hex[:8]}"
    topic = f"bench-workers-{uuid.uuid4().hex[:8]}"
    with psycopg.connect(SERVER, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    url = url_of(database)
    runs: dict[int, list[WorkerRun]] = {1: [], 2: []}
    ceiling = []
    try:
        settings = load_settings(DATABASE_URL=url, SIMUSAGE_STORAGE_MODE="postgres")
        migration.upgrade(settings)
        import_inventory_file(settings, INVENTORY)
        with psycopg.connect(url) as connection:
            owners = dict(connection.execute("SELECT sim_card_id, organization_id FROM inventory"))
        events = fill_topic(topic, PARTITIONS, reference_run_events(arguments.events))
        ends = end_offsets(topic, PARTITIONS)
        rows = accepted_rows(events, owners)
        del events
        with tempfile.NamedTemporaryFile("w", suffix=".tsv", delete=False) as text:
            for moment, sim, owner, used in rows:
                text.write(f"{moment.isoformat()}\t{sim}\t{owner or chr(92) + 'N'}\t{used}\n")
        for _ in range(arguments.repeat):
            for workers in (1, 2):
                runs[workers].append(run_workers(url, topic, ends, arguments.batch_size, workers))
            ceiling.append(psql_copy(url, text.name))
        os.unlink(text.name)
    finally:
        with psycopg.connect(SERVER, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(database)))
        admin = KafkaAdminClient(bootstrap_servers=KAFKA)
        admin.delete_topics([topic, f"{topic}.dlq"])
        admin.close()
    total = sum(ends.values())
    if any(run.rows != len(rows) for measured in runs.values() for run in measured):
        raise SystemExit("a run wrote other rows than the valid events")
    copy_rate = len(rows) / statistics.median(ceiling)
    print(f"psql \\copy of the same {len(rows):,} rows: {copy_rate:,.0f} rows/s (the ceiling)")
    rates = {}
    for workers, measured in runs.items():
        rates[workers] = total / statistics.median(run.total for run in measured)
        steady = total / statistics.median(run.steady for run in measured)
        print(f"{workers} worker{'s' if workers > 1 else ''}: {rates[workers]:,.0f} events/s end to "
              f"end ({rates[workers] / copy_rate:.2f} of psql), {steady:,.0f} first to last commit; "
              f"PostgreSQL CPU {per_thousand_ms(measured, total)} per 1,000 events "
              f"(runs (s): {[round(run.total, 2) for run in measured]})")
    print(f"2 workers / 1 worker: {rates[2] / rates[1]:.2f} (on {os.cpu_count()} cores shared with "
          f"the broker and the database)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
