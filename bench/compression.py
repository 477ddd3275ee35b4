"""Bytes per raw event before and after compression (issue 14), in TimescaleDB mode: MEASURED ON
PGLITE (TimescaleDB 2.23 in WASM PostgreSQL 17), the only TimescaleDB this machine has.

A copy of `usage` as the migrations make it (one-day chunks, the time index of the hypertable,
the (sim_card_id, time) index of re-attribution), in a schema of its own on the PGlite server
that `make test` uses (scripts/pglite.sh): 1,000 cards of 10 organizations, one event a minute
each for two days, bytes drawn as a real fleet's vary; then every chunk compressed with the
migration's own settings (migrations/lifecycle.py: segment by card, order by time).

    python bench/compression.py [--cards 1000] [--days 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from migrations.lifecycle import ENABLE_COMPRESSION  # noqa: E402

PGLITE = os.environ.get("SIMUSAGE_TEST_PGLITE_URL",
                        "postgresql://postgres:postgres@127.0.0.1:55433/postgres?sslmode=disable")
SCHEMA = "bench_compression"
SETUP = [
    f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE",
    f"CREATE SCHEMA {SCHEMA}",
    f"SET search_path = {SCHEMA}, public",
    """CREATE TABLE usage (time timestamptz NOT NULL, sim_card_id text NOT NULL,
                           organization_id text, bytes_used bigint NOT NULL CHECK (bytes_used >= 0))""",
    "SELECT create_hypertable('usage', by_range('time', INTERVAL '1 day'))",
    "CREATE INDEX usage_sim_card_time ON usage (sim_card_id, time)",
]
# One event a minute per card; bytes spread over four orders of magnitude, as sessions are.
FILL = """
    INSERT INTO usage (time, sim_card_id, organization_id, bytes_used)
    SELECT '2024-05-01T00:00:00Z'::timestamptz + minute * INTERVAL '1 minute',
           (89440000000 + card)::text, 'org-' || (card %% 10),
           (floor(power(10, 2 + 4 * random())))::bigint
    FROM generate_series(0, %(cards)s - 1) AS card,
         generate_series(0, %(minutes)s - 1) AS minute
"""
SIZE = "SELECT hypertable_size('usage'), (SELECT count(*) FROM usage)"
COMPRESS = "SELECT count(compress_chunk(chunk)) FROM show_chunks('usage') AS chunk"


def main() -> int:
    """Fill, measure, compress, measure; print bytes per event."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cards", type=int, default=1000)
    parser.add_argument("--days", type=int, default=2)
    arguments = parser.parse_args()
    with psycopg.connect(PGLITE, autocommit=True) as connection:
        for statement in SETUP:
            connection.execute(statement)
        started = time.perf_counter()
        connection.execute(FILL, {"cards": arguments.cards, "minutes": arguments.days * 1440})
        connection.execute("ANALYZE usage")
        before, events = connection.execute(SIZE).fetchone()
        print(f"{events:,} events in {time.perf_counter() - started:.0f} s; "
              f"row by row {before / events:.1f} bytes per event ({before / 2**20:.1f} MiB)")
        connection.execute(ENABLE_COMPRESSION)
        started = time.perf_counter()
        chunks = connection.execute(COMPRESS).fetchone()[0]
        after = connection.execute(SIZE).fetchone()[0]
        print(f"compressed {chunks} chunks in {time.perf_counter() - started:.0f} s: "
              f"{after / events:.1f} bytes per event ({after / 2**20:.1f} MiB), "
              f"{before / after:.1f}x smaller (PGlite, TimescaleDB 2.23)")
        connection.execute(f"DROP SCHEMA {SCHEMA} CASCADE")
    return 0


if __name__ == "__main__":
    sys.exit(main())
