"""TimescaleDB mode: raw chunks compressed after SIMUSAGE_COMPRESS_AFTER (default 7 days), and
the retention policies of SIMUSAGE_RAW_RETENTION and SIMUSAGE_AGGREGATE_RETENTION (default keep).

A fleet of 10,000 cards reporting each minute writes 14 M raw rows a day, kept forever: the
columnstore (segment by card, order by time) keeps them in a fraction of the space, and the
continuous aggregates read them as before. The policy comes from the settings
(migrations/lifecycle.py); `simusage migrate` applies a changed value again. Downgrade
decompresses every chunk first. PostgreSQL mode: nothing (its raw table is not compressed).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import context, op
from sqlalchemy import text

from migrations.lifecycle import (
    DECOMPRESS_ALL,
    DISABLE_COMPRESSION,
    ENABLE_COMPRESSION,
    REMOVE_POLICY,
    apply_lifecycle,
    apply_retention_policies,
)

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

STORAGE_MODE = "SELECT mode FROM simusage_storage"


def _postgres_mode() -> bool:
    return op.get_bind().execute(text(STORAGE_MODE)).scalar_one() == "postgres"


def upgrade() -> None:
    if _postgres_mode():
        return
    op.execute(ENABLE_COMPRESSION)
    settings = context.config.attributes["settings"]
    cursor = op.get_bind().connection.cursor()
    apply_lifecycle(cursor, settings)


def downgrade() -> None:
    if _postgres_mode():
        return
    cursor = op.get_bind().connection.cursor()
    apply_retention_policies(cursor, "keep", "keep")
    op.execute(REMOVE_POLICY)
    op.execute(DECOMPRESS_ALL)
    op.execute(DISABLE_COMPRESSION)
