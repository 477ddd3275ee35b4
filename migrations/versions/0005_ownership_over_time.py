"""Ownership over time: periods per SIM card, per-card aggregates that carry the organization.

A card's usage is attributed by the event's time to the organization that owned the card then.
The per-card relations gain organization_id, so that a key of one organization reads only the
usage attributed to it ('' in the rollup tables, NULL in the continuous aggregates: no owner).
They are rebuilt from the raw rows, whose attribution is kept. The history starts from the
inventory as it is: each card owned by its current organization since the beginning.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import text

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

STORAGE_MODE = "SELECT mode FROM simusage_storage"

CREATE_TABLES = [
    # Periods [valid_from, valid_to) follow each other without gap or overlap (the inventory
    # commands keep it so); the open one (valid_to NULL) is the owner now, also in `inventory`.
    """
    CREATE TABLE ownership (
        sim_card_id text NOT NULL CHECK (sim_card_id ~ '^[0-9]{1,32}$'),
        organization_id text NOT NULL CHECK (organization_id <> ''),
        valid_from timestamptz NOT NULL,
        valid_to timestamptz CHECK (valid_to > valid_from),
        PRIMARY KEY (sim_card_id, valid_from)
    )
    """,
    "CREATE INDEX ownership_organization_id ON ownership (organization_id, sim_card_id)",
    # Bumped by every change of ownership. A worker reads it FOR SHARE first in each batch's
    # transaction: a change waits for batches in flight, and a batch encoded with an older
    # history sees the new version and is attributed again before it commits.
    """
    CREATE TABLE ownership_version (
        version bigint NOT NULL,
        singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton)
    )
    """,
    "INSERT INTO ownership_version (version) VALUES (0)",
    # Stored usage still to attribute again after a change: the cards' rows from next_start on
    # are made to agree with the history, a bounded window per transaction.
    """
    CREATE TABLE reattribution (
        id bigserial PRIMARY KEY,
        sim_card_ids text[] NOT NULL,
        next_start timestamptz NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
    )
    """,
    """
    INSERT INTO ownership (sim_card_id, organization_id, valid_from)
    SELECT sim_card_id, organization_id, '1970-01-01 00:00:00+00' FROM inventory
    """,
    # Re-attribution reads one card's rows over a range of time.
    "CREATE INDEX usage_sim_card_time ON usage (sim_card_id, time)",
]
DROP_TABLES = [
    "DROP INDEX IF EXISTS usage_sim_card_time",
    "DROP TABLE IF EXISTS reattribution",
    "DROP TABLE IF EXISTS ownership_version",
    "DROP TABLE IF EXISTS ownership",
]

# ---- PostgreSQL mode: the rollup tables ------------------------------------------------------

ROLLUP_WITH_ORGANIZATION = [
    "ALTER TABLE {table} ADD COLUMN organization_id text NOT NULL DEFAULT ''",
    "ALTER TABLE {table} DROP CONSTRAINT {table}_pkey",
    "TRUNCATE {table}",
    "ALTER TABLE {table} ADD PRIMARY KEY (sim_card_id, bucket, organization_id)",
]
REBUILD_ROLLUPS = [
    """
    INSERT INTO usage_sim_card_hourly (bucket, sim_card_id, organization_id, bytes_used, event_count)
    SELECT date_trunc('hour', time, 'UTC'), sim_card_id, coalesce(organization_id, ''),
           sum(bytes_used)::bigint, count(*)
    FROM usage GROUP BY 1, 2, 3
    """,
    """
    INSERT INTO usage_sim_card_daily (bucket, sim_card_id, organization_id, bytes_used, event_count)
    SELECT date_trunc('day', bucket, 'UTC'), sim_card_id,
           organization_id, sum(bytes_used)::bigint, sum(event_count)::bigint
    FROM usage_sim_card_hourly GROUP BY 1, 2, 3
    """,
]
ROLLUP_WITHOUT_ORGANIZATION = [
    "CREATE TABLE {table}_collapsed AS SELECT bucket, sim_card_id, sum(bytes_used)::bigint AS "
    "bytes_used, sum(event_count)::bigint AS event_count FROM {table} GROUP BY bucket, sim_card_id",
    "ALTER TABLE {table} DROP CONSTRAINT {table}_pkey",
    "TRUNCATE {table}",
    "ALTER TABLE {table} DROP COLUMN organization_id",
    "ALTER TABLE {table} ADD PRIMARY KEY (sim_card_id, bucket)",
    "INSERT INTO {table} (bucket, sim_card_id, bytes_used, event_count) "
    "SELECT bucket, sim_card_id, bytes_used, event_count FROM {table}_collapsed",
    "DROP TABLE {table}_collapsed",
]
ROLLUPS = ("usage_sim_card_hourly", "usage_sim_card_daily")

# ---- TimescaleDB mode: the continuous aggregates ---------------------------------------------

DROP_CARD_AGGREGATES = [
    "DROP MATERIALIZED VIEW IF EXISTS usage_sim_card_daily",
    "DROP MATERIALIZED VIEW IF EXISTS usage_sim_card_hourly",
]


def _card_aggregates(with_organization: bool) -> list[str]:
    # organization_id last, as ALTER TABLE leaves it in the rollup tables: one column order.
    organization = ", organization_id" if with_organization else ""
    return [
        f"""
        CREATE MATERIALIZED VIEW usage_sim_card_hourly
        WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
        SELECT time_bucket(INTERVAL '1 hour', time) AS bucket, sim_card_id,
               sum(bytes_used)::bigint AS bytes_used, count(*) AS event_count{organization}
        FROM usage
        GROUP BY time_bucket(INTERVAL '1 hour', time), sim_card_id{organization}
        WITH NO DATA
        """,
        f"""
        CREATE MATERIALIZED VIEW usage_sim_card_daily
        WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
        SELECT time_bucket(INTERVAL '1 day', bucket) AS bucket, sim_card_id,
               sum(bytes_used)::bigint AS bytes_used, sum(event_count)::bigint AS event_count{organization}
        FROM usage_sim_card_hourly
        GROUP BY time_bucket(INTERVAL '1 day', bucket), sim_card_id{organization}
        WITH NO DATA
        """,
    ]


CARD_POLICIES = [
    """
    SELECT add_continuous_aggregate_policy('usage_sim_card_hourly',
        start_offset => INTERVAL '3 days', end_offset => INTERVAL '1 hour',
        schedule_interval => INTERVAL '5 minutes')
    """,
    """
    SELECT add_continuous_aggregate_policy('usage_sim_card_daily',
        start_offset => INTERVAL '7 days', end_offset => INTERVAL '1 day',
        schedule_interval => INTERVAL '1 hour')
    """,
]
# Materialize the stored history up to the last whole hour (day): from there on real-time
# aggregation reads the raw rows, as for the other aggregates.
REFRESH_CARD_AGGREGATES = [
    "CALL refresh_continuous_aggregate('usage_sim_card_hourly', NULL, "
    "date_trunc('hour', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')",
    "CALL refresh_continuous_aggregate('usage_sim_card_daily', NULL, "
    "date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')",
]


def _postgres_mode() -> bool:
    return op.get_bind().execute(text(STORAGE_MODE)).scalar_one() == "postgres"


def _recreate_card_aggregates(with_organization: bool) -> None:
    # TimescaleDB refuses to create or refresh a continuous aggregate inside a transaction.
    with op.get_context().autocommit_block():
        for statement in DROP_CARD_AGGREGATES + _card_aggregates(with_organization):
            op.execute(statement)
        for statement in CARD_POLICIES:
            op.execute(statement)
        for statement in REFRESH_CARD_AGGREGATES:
            op.execute(statement)


def upgrade() -> None:
    for statement in CREATE_TABLES:
        op.execute(statement)
    if _postgres_mode():
        for table in ROLLUPS:
            for statement in ROLLUP_WITH_ORGANIZATION:
                op.execute(statement.format(table=table))
        for statement in REBUILD_ROLLUPS:
            op.execute(statement)
    else:
        _recreate_card_aggregates(with_organization=True)


def downgrade() -> None:
    if _postgres_mode():
        for table in ROLLUPS:
            for statement in ROLLUP_WITHOUT_ORGANIZATION:
                op.execute(statement.format(table=table))
    else:
        _recreate_card_aggregates(with_organization=False)
    for statement in DROP_TABLES:
        op.execute(statement)
