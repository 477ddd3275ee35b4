"""PostgreSQL mode: the per-card rollups indexed by organization, for rankings of its cards.

Organization.topSimCards reads one organization's rows of the per-card rollups over an
interval; their primary key starts with the card. TimescaleDB mode has these indexes already
(a continuous aggregate indexes each grouping column with the bucket). The index leaves out
bytes and events on purpose: the worker's updates add into those columns, and an index on
them would end the heap-only updates migration 0004 made room for. Built CONCURRENTLY, so a
deployment's ingest goes on while it builds.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import text

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

STORAGE_MODE = "SELECT mode FROM simusage_storage"
INDEXES = {
    "usage_sim_card_hourly_organization": "usage_sim_card_hourly",
    "usage_sim_card_daily_organization": "usage_sim_card_daily",
}


# A build that was interrupted leaves an invalid index that IF NOT EXISTS would keep.
INVALID_INDEX = """
    SELECT 1 FROM pg_index JOIN pg_class ON pg_class.oid = pg_index.indexrelid
    WHERE pg_class.relname = :name AND NOT pg_index.indisvalid
"""


def _postgres_mode() -> bool:
    return op.get_bind().execute(text(STORAGE_MODE)).scalar_one() == "postgres"


def upgrade() -> None:
    if not _postgres_mode():
        return
    with op.get_context().autocommit_block():  # CONCURRENTLY cannot run in a transaction
        for index, table in INDEXES.items():
            if op.get_bind().execute(text(INVALID_INDEX), {"name": index}).first():
                op.execute(f"DROP INDEX CONCURRENTLY {index}")
            op.execute(
                f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {index} ON {table} (organization_id, bucket)"
            )


def downgrade() -> None:
    if not _postgres_mode():
        return
    with op.get_context().autocommit_block():
        for index in INDEXES:
            op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {index}")
