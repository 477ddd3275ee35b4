"""Each card's UTC months, per organization: rankings over months read 1 row a card, not 30.

Organization.topSimCards over a month summed 300,000 per-card daily rows for 10,000 cards
(150 ms); whole UTC months now come from `usage_sim_card_monthly`, with the same columns as the
per-card relations. PostgreSQL mode: a rollup table the worker and re-attribution keep exact
like the others, filled here from the daily one (stop the workers of earlier versions first:
they would not add into it). TimescaleDB mode: a continuous aggregate on the daily one
(hierarchical, TimescaleDB 2.9+), refreshed after it.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import text

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

STORAGE_MODE = "SELECT mode FROM simusage_storage"

ROLLUP = [
    """
    CREATE TABLE usage_sim_card_monthly (
        bucket timestamptz NOT NULL,
        sim_card_id text NOT NULL,
        bytes_used bigint NOT NULL,
        event_count bigint NOT NULL,
        organization_id text NOT NULL DEFAULT '',
        PRIMARY KEY (sim_card_id, bucket, organization_id)
    ) WITH (fillfactor = 70)
    """,
    # The worker's batches wait while the months are summed: none is counted twice or lost.
    "LOCK TABLE usage_sim_card_daily IN SHARE MODE",
    """
    INSERT INTO usage_sim_card_monthly (bucket, sim_card_id, organization_id, bytes_used, event_count)
    SELECT date_trunc('month', bucket, 'UTC'), sim_card_id, organization_id,
           sum(bytes_used)::bigint, sum(event_count)::bigint
    FROM usage_sim_card_daily GROUP BY 1, 2, 3
    """,
    "CREATE INDEX usage_sim_card_monthly_organization ON usage_sim_card_monthly (organization_id, bucket)",
]
AGGREGATE = """
    CREATE MATERIALIZED VIEW usage_sim_card_monthly
    WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
    SELECT time_bucket(INTERVAL '1 month', bucket) AS bucket, sim_card_id,
           sum(bytes_used)::bigint AS bytes_used, sum(event_count)::bigint AS event_count,
           organization_id
    FROM usage_sim_card_daily
    GROUP BY time_bucket(INTERVAL '1 month', bucket), sim_card_id, organization_id
    WITH NO DATA
"""
POLICY = """
    SELECT add_continuous_aggregate_policy('usage_sim_card_monthly',
        start_offset => INTERVAL '3 months', end_offset => INTERVAL '1 month',
        schedule_interval => INTERVAL '1 hour')
"""
# Materialize the stored history up to this month's start: from there on real-time aggregation
# reads the daily aggregate.
REFRESH = (
    "CALL refresh_continuous_aggregate('usage_sim_card_monthly', NULL, "
    "date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')"
)


def _postgres_mode() -> bool:
    return op.get_bind().execute(text(STORAGE_MODE)).scalar_one() == "postgres"


def upgrade() -> None:
    if _postgres_mode():
        for statement in ROLLUP:
            op.execute(statement)
        return
    # TimescaleDB refuses to create or refresh a continuous aggregate inside a transaction.
    with op.get_context().autocommit_block():
        for statement in (AGGREGATE, POLICY, REFRESH):
            op.execute(statement)


def downgrade() -> None:
    if _postgres_mode():
        op.execute("DROP TABLE IF EXISTS usage_sim_card_monthly")
        return
    with op.get_context().autocommit_block():
        op.execute("DROP MATERIALIZED VIEW IF EXISTS usage_sim_card_monthly")
