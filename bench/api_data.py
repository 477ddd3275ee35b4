"""The data set of bench/api.py: 10,000 SIM cards of one organization, 30 days, 5.1 M raw rows
in a postgres-mode database, loaded by SQL (generate_series) with the rollups computed by
GROUP BY, kept between runs."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from simusage import migration
from simusage.settings import load_settings

SERVER = os.environ.get("SIMUSAGE_BENCH_POSTGRES_URL",
                        "postgresql://simusage:simusage@127.0.0.1:55432/postgres")
NAME = "simusage_bench"
CARDS, DAYS, EVENTS_PER_CARD = 10_000, 30, 510  # 17 events a card a day: 5.1 M rows
START = datetime(2022, 1, 1, tzinfo=UTC)
ORGANIZATION_ID = "bench"
DAY = START + timedelta(days=12)

# The four rollups from the raw rows, as ingest leaves them; per-card rows carry the
# organization the usage is attributed to ('' for none). Also used by bench/reattribution.py.
ROLLUPS_FROM_RAW = [
    """INSERT INTO usage_sim_card_hourly (bucket, sim_card_id, organization_id, bytes_used,
       event_count) SELECT date_trunc('hour', time, 'UTC'), sim_card_id,
       coalesce(organization_id, ''), sum(bytes_used), count(*) FROM usage GROUP BY 1, 2, 3""",
    """INSERT INTO usage_sim_card_daily (bucket, sim_card_id, organization_id, bytes_used,
       event_count) SELECT date_trunc('day', bucket, 'UTC'), sim_card_id, organization_id,
       sum(bytes_used), sum(event_count) FROM usage_sim_card_hourly GROUP BY 1, 2, 3""",
    """INSERT INTO usage_sim_card_monthly (bucket, sim_card_id, organization_id, bytes_used,
       event_count) SELECT date_trunc('month', bucket, 'UTC'), sim_card_id, organization_id,
       sum(bytes_used), sum(event_count) FROM usage_sim_card_daily GROUP BY 1, 2, 3""",
    """INSERT INTO usage_organization_hourly SELECT date_trunc('hour', time, 'UTC'), organization_id,
       sum(bytes_used), count(*) FROM usage WHERE organization_id IS NOT NULL GROUP BY 1, 2""",
    """INSERT INTO usage_organization_daily SELECT date_trunc('day', bucket, 'UTC'), organization_id,
       sum(bytes_used), sum(event_count) FROM usage_organization_hourly GROUP BY 1, 2""",
]

LOAD = [
    "SET work_mem = '256MB'",
    "SET synchronous_commit = off",
    "SELECT setseed(0.2022)",
    """INSERT INTO inventory (sim_card_id, organization_id)
       SELECT '8944' || lpad(card::text, 6, '0'), %(organization)s
       FROM generate_series(0, %(cards)s - 1) card""",
    "DROP INDEX usage_time",  # rebuilt after the load: one sort instead of 5 M random inserts
    """INSERT INTO usage (time, sim_card_id, organization_id, bytes_used)
       SELECT %(start)s::timestamptz + random() * interval '30 days',
              '8944' || lpad(card::text, 6, '0'), %(organization)s, floor(random() * 4097)::bigint
       FROM generate_series(0, %(cards)s - 1) card, generate_series(1, %(events)s) event""",
    "CREATE INDEX usage_time ON usage (time)",
    # Each card owned by the organization since the beginning, as the migration records it.
    """INSERT INTO ownership (sim_card_id, organization_id, valid_from)
       SELECT sim_card_id, organization_id, '1970-01-01 00:00:00+00' FROM inventory""",
    "INSERT INTO sim_card_seen (sim_card_id) SELECT sim_card_id FROM inventory",
    *ROLLUPS_FROM_RAW,
]


def database_url() -> str:
    """The benchmark database's URL."""
    return urlunsplit(urlsplit(SERVER)._replace(path=f"/{NAME}"))


def prepare(reload: bool) -> None:
    """Create and fill the benchmark database unless it is already there; a kept one is
    migrated to the code's head (it may have been built by an older checkout)."""
    settings = load_settings(DATABASE_URL=database_url(), SIMUSAGE_STORAGE_MODE="postgres")
    with psycopg.connect(SERVER, autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (NAME,)).fetchone()
        if exists and not reload:
            with psycopg.connect(database_url()) as connection:
                rows = connection.execute("SELECT count(*) FROM usage").fetchone()[0]
            if rows == CARDS * EVENTS_PER_CARD:
                migration.upgrade(settings)
                return
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(NAME)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(NAME)))
    migration.upgrade(settings)
    started = time.perf_counter()
    with psycopg.connect(database_url()) as connection:
        for statement in LOAD:
            connection.execute(statement, {"organization": ORGANIZATION_ID, "start": START,
                                           "events": EVENTS_PER_CARD, "cards": CARDS})
    with psycopg.connect(database_url(), autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE")
    print(f"loaded {CARDS * EVENTS_PER_CARD:,} raw rows in {time.perf_counter() - started:.0f} s")
