"""PostgreSQL mode: raw `usage` partitioned by UTC day, so that retention drops whole days.

The table as it was becomes the default partition, without copying a row: the day partitions
are created ahead by the worker (and for the days of each batch), and a day that already has
rows in the default partition gets them moved into its own when it is created
(`simusage_usage_day`). Retention (`simusage_drop_usage_before`) drops the day partitions below
a time and deletes the default partition's rows there. Downgrade puts every row back into one
plain table. TimescaleDB mode: nothing (a hypertable has chunks).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import text

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

STORAGE_MODE = "SELECT mode FROM simusage_storage"

UPGRADE = [
    "ALTER TABLE usage RENAME TO usage_default",
    "ALTER INDEX usage_time RENAME TO usage_default_time",
    "ALTER INDEX usage_sim_card_time RENAME TO usage_default_sim_card_time",
    """
    CREATE TABLE usage (
        time timestamptz NOT NULL,
        sim_card_id text NOT NULL,
        organization_id text,
        bytes_used bigint NOT NULL CONSTRAINT usage_bytes_used_check CHECK (bytes_used >= 0)
    ) PARTITION BY RANGE (time)
    """,
    "ALTER TABLE usage ATTACH PARTITION usage_default DEFAULT",
    # The default partition's indexes match these and are attached, not built again.
    "CREATE INDEX usage_time ON usage (time)",
    "CREATE INDEX usage_sim_card_time ON usage (sim_card_id, time)",
    # The partition of one UTC day, created if missing, with the rows the default partition
    # holds for it moved in first (a default partition refuses a new range it has rows for).
    """
    CREATE FUNCTION simusage_usage_day(day timestamptz) RETURNS void
    LANGUAGE plpgsql AS $function$
    DECLARE
        first timestamptz := date_trunc('day', day, 'UTC');
        after timestamptz := (date_trunc('day', day, 'UTC') AT TIME ZONE 'UTC' + interval '1 day')
                             AT TIME ZONE 'UTC';
        name text := 'usage_' || to_char(first AT TIME ZONE 'UTC', 'YYYYMMDD');
    BEGIN
        IF to_regclass(name) IS NOT NULL THEN
            RETURN;
        END IF;
        EXECUTE format('CREATE TABLE %I (LIKE usage INCLUDING DEFAULTS INCLUDING CONSTRAINTS)',
                       name);
        EXECUTE format('WITH moved AS (DELETE FROM usage_default WHERE time >= %L AND time < %L '
                       'RETURNING *) INSERT INTO %I SELECT * FROM moved', first, after, name);
        EXECUTE format('ALTER TABLE usage ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                       name, first, after);
    END
    $function$
    """,
    """
    CREATE FUNCTION simusage_usage_days(days timestamptz[]) RETURNS void
    LANGUAGE sql AS $function$
        SELECT simusage_usage_day(day) FROM (SELECT DISTINCT date_trunc('day', day, 'UTC') AS day
                                             FROM unnest(days) AS day) AS distinct_days
        WHERE to_regclass('usage_' || to_char(day AT TIME ZONE 'UTC', 'YYYYMMDD')) IS NULL
    $function$
    """,
    # Retention: whole day partitions below the horizon go, and the default partition's rows.
    """
    CREATE FUNCTION simusage_drop_usage_before(horizon timestamptz) RETURNS integer
    LANGUAGE plpgsql AS $function$
    DECLARE
        partition record;
        dropped integer := 0;
    BEGIN
        FOR partition IN
            SELECT child.relname FROM pg_inherits
            JOIN pg_class AS child ON child.oid = pg_inherits.inhrelid
            WHERE pg_inherits.inhparent = 'usage'::regclass AND child.relname ~ '^usage_[0-9]{8}$'
              AND (to_date(substr(child.relname, 7), 'YYYYMMDD')::timestamp + interval '1 day')
                  AT TIME ZONE 'UTC' <= horizon
        LOOP
            EXECUTE format('DROP TABLE %I', partition.relname);
            dropped := dropped + 1;
        END LOOP;
        DELETE FROM usage_default WHERE time < horizon;
        RETURN dropped;
    END
    $function$
    """,
]

DOWNGRADE = [
    "DROP FUNCTION IF EXISTS simusage_drop_usage_before(timestamptz)",
    "DROP FUNCTION IF EXISTS simusage_usage_days(timestamptz[])",
    "DROP FUNCTION IF EXISTS simusage_usage_day(timestamptz)",
    """
    CREATE TABLE usage_plain (
        time timestamptz NOT NULL,
        sim_card_id text NOT NULL,
        organization_id text,
        bytes_used bigint NOT NULL CHECK (bytes_used >= 0)
    )
    """,
    "INSERT INTO usage_plain SELECT * FROM usage",
    "DROP TABLE usage",
    "ALTER TABLE usage_plain RENAME TO usage",
    "CREATE INDEX usage_time ON usage (time)",
    "CREATE INDEX usage_sim_card_time ON usage (sim_card_id, time)",
]


def _postgres_mode() -> bool:
    return op.get_bind().execute(text(STORAGE_MODE)).scalar_one() == "postgres"


def upgrade() -> None:
    if not _postgres_mode():
        return
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    if not _postgres_mode():
        return
    for statement in DOWNGRADE:
        op.execute(statement)
