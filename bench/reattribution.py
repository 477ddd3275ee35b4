"""Re-attribution benchmark: how long moving stored usage to a new owner takes, and what it
costs a worker ingesting at the same time.

    python bench/reattribution.py [--year-card] [--cards 1000] [--days 30] [--ingest-events N]

1. A fresh PostgreSQL-mode database. One card with a year of per-minute usage (525,600 events)
   and an organization of --cards cards with --days days of per-minute usage are written
   straight into `usage` (generate_series) and the rollups rebuilt from them, as ingest leaves
   them. The reference inventory's 15 cards are imported for the worker.
2. The year card moves to another organization from the start of its year: `simusage
   inventory reattribute`'s job is timed (events moved per second).
3. Ingest alone: a worker process (`simusage ingest`) consumes a topic of --ingest-events
   reference-shaped events (other cards); the clock runs from its first commit to its last.
4. The same with the organization's cards moving at once (from the start of their data): the
   re-attribution runs on its own connection while the worker consumes a second, identical
   topic. Printed: the re-attribution's time and rate, the worker's rate during it as a share
   of its rate alone (floor 0.5), and whether the re-attribution outlasted the worker's run
   (if not, the share is optimistic: raise --days).

Needs the services of `make up`/`make test`.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.api_data import ROLLUPS_FROM_RAW  # noqa: E402
from bench.ingest import INVENTORY, KAFKA, SERVER, end_offsets, fill_topic, reference_run_events, url_of  # noqa: E402
from ingest.inventory import change_owners, import_inventory_file  # noqa: E402
from ingest.reattribution import run_pending  # noqa: E402
from simusage import migration  # noqa: E402
from simusage.settings import load_settings  # noqa: E402

GENERATE = """
    INSERT INTO usage (time, sim_card_id, organization_id, bytes_used)
    SELECT %(start)s::timestamptz + minute * interval '1 minute', card, %(organization)s,
           (minute::bigint * 7919 + length(card)) %% 100000
    FROM unnest(%(cards)s::text[]) AS card, generate_series(0, %(minutes)s - 1) AS minute
"""
REBUILD = [
    "TRUNCATE usage_sim_card_hourly, usage_sim_card_daily, usage_organization_hourly, usage_organization_daily, "
    "usage_sim_card_monthly",
    *ROLLUPS_FROM_RAW,
    "ANALYZE",
]
EXACT = """
    SELECT (SELECT sum(bytes_used) FROM usage WHERE organization_id = %(to)s)
         = (SELECT sum(bytes_used) FROM usage_organization_daily WHERE organization_id = %(to)s)
       AND NOT EXISTS (SELECT 1 FROM usage_organization_daily WHERE organization_id = %(from)s)
"""


def committed(url: str, topic: str) -> int:
    with psycopg.connect(url) as connection:
        return connection.execute(
            "SELECT coalesce(sum(next_offset), 0)::bigint FROM kafka_offset WHERE topic = %s", (topic,)
        ).fetchone()[0]


def ingest_rate(url: str, topic: str, total: int) -> tuple[float, float, float]:
    """Run a worker on the topic until all is committed: (events/s from its first commit to
    its last, first commit time, last commit time), times from time.monotonic()."""
    environment = {**os.environ, "DATABASE_URL": url, "KAFKA_BOOTSTRAP_SERVERS": KAFKA,
                   "SIMUSAGE_TOPIC": topic, "SIMUSAGE_CONSUMER_GROUP": f"bench-{topic}",
                   "SIMUSAGE_INGEST_METRICS_PORT": "0", "SIMUSAGE_LOG_LEVEL": "WARNING"}
    process = subprocess.Popen([sys.executable, "-m", "simusage.cli", "ingest"], env=environment,
                               cwd=ROOT)
    first = first_count = None
    try:
        while True:
            count = committed(url, topic)
            now = time.monotonic()
            if count and first is None:
                first, first_count = now, count
            if count >= total:
                return (count - first_count) / max(now - first, 1e-6), first, now
            time.sleep(0.05)
    finally:
        process.terminate()
        process.wait(30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cards", type=int, default=1000, help="cards of the organization that moves")
    parser.add_argument("--days", type=int, default=30, help="days of per-minute usage of each of them")
    parser.add_argument("--ingest-events", type=int, default=403_200, help="events for the worker")
    arguments = parser.parse_args()
    database = f"simusage_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(SERVER, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    url = url_of(database)
    topics = [f"bench-reattribution-{uuid.uuid4().hex[:8]}-{n}" for n in (1, 2)]
    try:
        settings = load_settings(DATABASE_URL=url, SIMUSAGE_STORAGE_MODE="postgres")
        migration.upgrade(settings)
        import_inventory_file(settings, INVENTORY)
        year_start = datetime(2023, 1, 1, tzinfo=UTC)
        fleet_start = datetime(2024, 1, 1, tzinfo=UTC)
        fleet = [f"77{n:08d}" for n in range(arguments.cards)]
        now = datetime.now(UTC)
        started = time.monotonic()
        with psycopg.connect(url, autocommit=True) as connection:
            with connection.transaction():
                change_owners(connection, {"7600000000": "year-a", **dict.fromkeys(fleet, "fleet-a")}, None, now)
            connection.execute("DELETE FROM reattribution")
            connection.execute(GENERATE, {"start": year_start, "organization": "year-a",
                                          "cards": ["7600000000"], "minutes": 525_600})
            connection.execute(GENERATE, {"start": fleet_start, "organization": "fleet-a",
                                          "cards": fleet, "minutes": arguments.days * 1440})
            for statement in REBUILD:
                connection.execute(statement)
        print(f"data: 525,600 events of one card, {arguments.cards * arguments.days * 1440:,} of "
              f"{arguments.cards:,} cards ({arguments.days} days), written in {time.monotonic() - started:.0f} s")
        for topic in topics:
            fill_topic(topic, 4, reference_run_events(arguments.ingest_events))
        totals = [sum(end_offsets(topic, 4).values()) for topic in topics]

        with psycopg.connect(url, autocommit=True) as connection:
            with connection.transaction():
                change_owners(connection, {"7600000000": "year-b"}, year_start, now)
            started = time.monotonic()
            moved = sum(progress.moved_events for progress in run_pending(connection))
            year_seconds = time.monotonic() - started
            year_exact = connection.execute(EXACT, {"to": "year-b", "from": "year-a"}).fetchone()[0]
        print(f"one card, a year: {moved:,} events re-attributed in {year_seconds:.1f} s "
              f"({moved / year_seconds:,.0f} events/s); organization totals exact: {year_exact}")

        alone, _, _ = ingest_rate(url, topics[0], totals[0])
        print(f"ingest alone: {alone:,.0f} events/s (first to last commit)")

        with psycopg.connect(url, autocommit=True) as connection:
            with connection.transaction():
                change_owners(connection, dict.fromkeys(fleet, "fleet-b"), fleet_start, now)
        outcome: dict = {}

        def reattribute() -> None:
            with psycopg.connect(url, autocommit=True) as connection:
                begun = time.monotonic()
                outcome["moved"] = sum(p.moved_events for p in run_pending(connection))
                outcome["seconds"] = time.monotonic() - begun
                outcome["ended"] = time.monotonic()
                outcome["exact"] = connection.execute(EXACT, {"to": "fleet-b", "from": "fleet-a"}).fetchone()[0]

        thread = threading.Thread(target=reattribute)
        thread.start()
        during, _, worker_end = ingest_rate(url, topics[1], totals[1])
        thread.join()
        outlasted = outcome["ended"] >= worker_end
        print(f"{arguments.cards:,} cards, {arguments.days} days: {outcome['moved']:,} events re-attributed in "
              f"{outcome['seconds']:.1f} s ({outcome['moved'] / outcome['seconds']:,.0f} events/s); "
              f"organization totals exact: {outcome['exact']}")
        share = during / alone
        print(f"ingest during it: {during:,.0f} events/s = {share:.2f} of the rate alone "
              f"(re-attribution outlasted the worker's run: {outlasted})")
        ok = share >= 0.5 and year_exact and outcome["exact"]
        print(f"floor (ingest keeps >= 0.50 of its rate, totals exact): {'met' if ok else 'NOT met'}")
        return 0 if ok else 1
    finally:
        with psycopg.connect(SERVER, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))


if __name__ == "__main__":
    sys.exit(main())
