"""The four read relations: usage per SIM card and per organization, hourly and daily.

TimescaleDB: continuous aggregates, daily built on hourly, real-time aggregation on.
PostgreSQL: rollup tables of the same columns that the ingest worker keeps exact.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import text

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

STORAGE_MODE = "SELECT mode FROM simusage_storage"

# sum(bigint) is numeric in PostgreSQL; the API promises 64-bit integers, so cast back.
# Real-time aggregation is off by default since TimescaleDB 2.13: without it the newest
# events would stay invisible until the next refresh.
CREATE_CONTINUOUS_AGGREGATES = [
    """
    CREATE MATERIALIZED VIEW usage_sim_card_hourly
    WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
    SELECT time_bucket(INTERVAL '1 hour', time) AS bucket, sim_card_id,
           sum(bytes_used)::bigint AS bytes_used, count(*) AS event_count
    FROM usage
    GROUP BY time_bucket(INTERVAL '1 hour', time), sim_card_id
    WITH NO DATA
    """,
    """
    CREATE MATERIALIZED VIEW usage_organization_hourly
    WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
    SELECT time_bucket(INTERVAL '1 hour', time) AS bucket, organization_id,
           sum(bytes_used)::bigint AS bytes_used, count(*) AS event_count
    FROM usage
    WHERE organization_id IS NOT NULL
    GROUP BY time_bucket(INTERVAL '1 hour', time), organization_id
    WITH NO DATA
    """,
    # Hierarchical: a day is 24 hourly rows to sum, not every event of the day.
    """
    CREATE MATERIALIZED VIEW usage_sim_card_daily
    WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
    SELECT time_bucket(INTERVAL '1 day', bucket) AS bucket, sim_card_id,
           sum(bytes_used)::bigint AS bytes_used, sum(event_count)::bigint AS event_count
    FROM usage_sim_card_hourly
    GROUP BY time_bucket(INTERVAL '1 day', bucket), sim_card_id
    WITH NO DATA
    """,
    """
    CREATE MATERIALIZED VIEW usage_organization_daily
    WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
    SELECT time_bucket(INTERVAL '1 day', bucket) AS bucket, organization_id,
           sum(bytes_used)::bigint AS bytes_used, sum(event_count)::bigint AS event_count
    FROM usage_organization_hourly
    GROUP BY time_bucket(INTERVAL '1 day', bucket), organization_id
    WITH NO DATA
    """,
]

# The policies keep the recent past materialized; late data below a watermark is refreshed by
# the ingest worker itself (see ingest), since a policy only looks back start_offset.
ADD_REFRESH_POLICIES = [
    """
    SELECT add_continuous_aggregate_policy('usage_sim_card_hourly',
        start_offset => INTERVAL '3 days', end_offset => INTERVAL '1 hour',
        schedule_interval => INTERVAL '5 minutes')
    """,
    """
    SELECT add_continuous_aggregate_policy('usage_organization_hourly',
        start_offset => INTERVAL '3 days', end_offset => INTERVAL '1 hour',
        schedule_interval => INTERVAL '5 minutes')
    """,
    """
    SELECT add_continuous_aggregate_policy('usage_sim_card_daily',
        start_offset => INTERVAL '7 days', end_offset => INTERVAL '1 day',
        schedule_interval => INTERVAL '1 hour')
    """,
    """
    SELECT add_continuous_aggregate_policy('usage_organization_daily',
        start_offset => INTERVAL '7 days', end_offset => INTERVAL '1 day',
        schedule_interval => INTERVAL '1 hour')
    """,
]

DROP_CONTINUOUS_AGGREGATES = [
    "DROP MATERIALIZED VIEW IF EXISTS usage_organization_daily",
    "DROP MATERIALIZED VIEW IF EXISTS usage_sim_card_daily",
    "DROP MATERIALIZED VIEW IF EXISTS usage_organization_hourly",
    "DROP MATERIALIZED VIEW IF EXISTS usage_sim_card_hourly",
]

# The key leads the primary key: every read is one key over a range of buckets.
CREATE_ROLLUP_TABLES = [
    f"""
    CREATE TABLE {name} (
        bucket timestamptz NOT NULL,
        {key} text NOT NULL,
        bytes_used bigint NOT NULL,
        event_count bigint NOT NULL,
        PRIMARY KEY ({key}, bucket)
    )
    """
    for name, key in (
        ("usage_sim_card_hourly", "sim_card_id"),
        ("usage_organization_hourly", "organization_id"),
        ("usage_sim_card_daily", "sim_card_id"),
        ("usage_organization_daily", "organization_id"),
    )
]

DROP_ROLLUP_TABLES = [
    "DROP TABLE IF EXISTS usage_organization_daily",
    "DROP TABLE IF EXISTS usage_sim_card_daily",
    "DROP TABLE IF EXISTS usage_organization_hourly",
    "DROP TABLE IF EXISTS usage_sim_card_hourly",
]

# Ranges of late events still to refresh in the continuous aggregates: written in the
# transaction of the events, deleted once refreshed, so a crash in between loses nothing.
CREATE_PENDING_REFRESH = """
    CREATE TABLE aggregate_refresh_pending (
        id bigserial PRIMARY KEY,
        range_start timestamptz NOT NULL,
        range_end timestamptz NOT NULL CHECK (range_end > range_start),
        created_at timestamptz NOT NULL DEFAULT now()
    )
"""
DROP_PENDING_REFRESH = "DROP TABLE IF EXISTS aggregate_refresh_pending"


def _mode() -> str:
    return op.get_bind().execute(text(STORAGE_MODE)).scalar_one()


def upgrade() -> None:
    op.execute(CREATE_PENDING_REFRESH)
    if _mode() == "postgres":
        for statement in CREATE_ROLLUP_TABLES:
            op.execute(statement)
        return
    # TimescaleDB refuses to create a continuous aggregate inside a transaction block.
    with op.get_context().autocommit_block():
        for statement in CREATE_CONTINUOUS_AGGREGATES:
            op.execute(statement)
    for statement in ADD_REFRESH_POLICIES:
        op.execute(statement)


def downgrade() -> None:
    if _mode() == "postgres":
        for statement in DROP_ROLLUP_TABLES:
            op.execute(statement)
    else:
        with op.get_context().autocommit_block():
            for statement in DROP_CONTINUOUS_AGGREGATES:
                op.execute(statement)
    op.execute(DROP_PENDING_REFRESH)
