"""The raw rows' lifecycle in TimescaleDB mode: the compression policy, from the settings.

Run by migration 0008 and again by every `simusage migrate`, so that a changed
SIMUSAGE_COMPRESS_AFTER takes effect without a new migration: the policy is replaced, never
duplicated, and chunks already compressed stay so (late events still land in them: TimescaleDB
2.11+ writes into compressed chunks). PostgreSQL mode has nothing to do here.
"""

from __future__ import annotations

from typing import Any

# Segmented by card and ordered by time, as the reads go: a card's hours, an organization's
# cards one after the other.
ENABLE_COMPRESSION = """
    ALTER TABLE usage SET (timescaledb.compress, timescaledb.compress_segmentby = 'sim_card_id',
                           timescaledb.compress_orderby = 'time DESC')
"""
REMOVE_POLICY = "SELECT remove_compression_policy('usage', if_exists => true)"
ADD_POLICY = "SELECT add_compression_policy('usage', compress_after => CAST(%s AS interval))"
DECOMPRESS_ALL = """
    SELECT count(decompress_chunk(chunk, if_compressed => true)) FROM show_chunks('usage') AS chunk
"""
DISABLE_COMPRESSION = "ALTER TABLE usage SET (timescaledb.compress = false)"
# What is in force, as TimescaleDB's own catalog says.
POLICY = """
    SELECT config ->> 'compress_after' FROM timescaledb_information.jobs
    WHERE proc_name = 'policy_compression' AND hypertable_name = 'usage'
"""


def apply_compression_policy(cursor: Any, compress_after: str) -> None:
    """Replace the compression policy of `usage` by compress_after's ("never": none), in the
    caller's transaction; cursor: a DB-API cursor (psycopg's, or Alembic's connection's)."""
    cursor.execute(REMOVE_POLICY)
    if compress_after != "never":
        cursor.execute(ADD_POLICY, (compress_after,))


def compression_policy(cursor: Any) -> str | None:
    """The compress_after of the policy in force (None: no policy)."""
    cursor.execute(POLICY)
    row = cursor.fetchone()
    return row[0] if row else None
