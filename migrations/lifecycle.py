"""The stored data's lifecycle in TimescaleDB mode: compression and retention, from the settings.

Run by migration 0008 and again by every `simusage migrate`, so that a changed
SIMUSAGE_COMPRESS_AFTER, SIMUSAGE_RAW_RETENTION or SIMUSAGE_AGGREGATE_RETENTION takes effect
without a new migration: each policy is replaced, never duplicated. Chunks already compressed
stay so (late events still land in them: TimescaleDB 2.11+ writes into compressed chunks).
Raw retention drops whole chunks only; the continuous aggregates keep what they materialized
(their refresh policies look back at most 3 months, less than any retention the settings admit),
and the worker refuses events too old to be refreshed exactly (ingest/writer.py,
`raw_rows_kept_from`). PostgreSQL mode keeps everything.
"""

from __future__ import annotations

from typing import Any

from simusage.settings import Settings
from simusage.storage import RELATIONS, SIM_CARD_MONTHLY

# Applied at every migrate with today's names (not a migration's record of its own time).
AGGREGATES = (*RELATIONS.values(), SIM_CARD_MONTHLY)

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
REMOVE_RETENTION = "SELECT remove_retention_policy(%s, if_exists => true)"
ADD_RETENTION = "SELECT add_retention_policy(%s, drop_after => CAST(%s AS interval))"
# The jobs view names a continuous aggregate's policies by the aggregate's own name.
RETENTION = """
    SELECT config ->> 'drop_after' FROM timescaledb_information.jobs
    WHERE proc_name = 'policy_retention' AND hypertable_name = %s
"""
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


def apply_retention_policies(cursor: Any, raw_retention: str, aggregate_retention: str) -> None:
    """Replace the retention policies of `usage` and of the aggregates ("keep": none)."""
    for relation, retention in ((("usage",), raw_retention), (AGGREGATES, aggregate_retention)):
        for name in relation:
            cursor.execute(REMOVE_RETENTION, (name,))
            if retention != "keep":
                cursor.execute(ADD_RETENTION, (name, retention))


def apply_lifecycle(cursor: Any, settings: Settings) -> None:
    """Every lifecycle policy as the settings say, in the caller's transaction."""
    apply_compression_policy(cursor, settings.compress_after)
    apply_retention_policies(cursor, settings.raw_retention, settings.aggregate_retention)


def retention_policy(cursor: Any, relation: str) -> str | None:
    """The drop_after in force for usage or an aggregate (None: kept)."""
    cursor.execute(RETENTION, (relation,))
    row = cursor.fetchone()
    return row[0] if row else None
