"""Storage mode, inventory, raw usage (a hypertable under TimescaleDB), Kafka offsets.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

import logging

from alembic import context, op
from sqlalchemy import text

from migrations.timescaledb_probe import HOW_TO_ENABLE, StorageModeError

logger = logging.getLogger(__name__)

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


CREATE_TABLES = [
    # One row: the storage mode chosen at the first migration, read by the worker and the API.
    """
    CREATE TABLE simusage_storage (
        mode text NOT NULL CHECK (mode IN ('timescaledb', 'postgres')),
        singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton)
    )
    """,
    """
    CREATE TABLE inventory (
        sim_card_id text PRIMARY KEY CHECK (sim_card_id ~ '^[0-9]{1,32}$'),
        organization_id text NOT NULL CHECK (organization_id <> ''),
        updated_at timestamptz NOT NULL DEFAULT now()
    )
    """,
    "CREATE INDEX inventory_organization_id ON inventory (organization_id, sim_card_id)",
    # Every SIM card that ever had usage, so that a card outside the inventory can be found
    # and listed without scanning the usage rows.
    """
    CREATE TABLE sim_card_seen (
        sim_card_id text PRIMARY KEY,
        first_seen timestamptz NOT NULL DEFAULT now()
    )
    """,
    # No id: two identical events are two real usages. Exactly-once comes from the offsets.
    """
    CREATE TABLE usage (
        time timestamptz NOT NULL,
        sim_card_id text NOT NULL,
        organization_id text,
        bytes_used bigint NOT NULL CHECK (bytes_used >= 0)
    )
    """,
    # The next offset to consume per partition, written in the transaction of the rows it covers.
    """
    CREATE TABLE kafka_offset (
        topic text NOT NULL,
        partition integer NOT NULL,
        next_offset bigint NOT NULL CHECK (next_offset >= 0),
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (topic, partition)
    )
    """,
]

# A day per chunk: a daily bucket is then one chunk, late data touches few chunks, and a
# fleet of 10,000 cards reporting every minute (14 M rows, about 1.5 GB a day with the time
# index) keeps a chunk well inside a quarter of a 24 GB server's memory.
CREATE_HYPERTABLE = (
    "SELECT create_hypertable('usage', by_range('time', INTERVAL '1 day'))"
)
# Plain PostgreSQL has no chunk exclusion: an index on time serves range scans and deletes.
CREATE_TIME_INDEX = "CREATE INDEX usage_time ON usage (time)"

DROP_TABLES = [
    "DROP TABLE IF EXISTS kafka_offset",
    "DROP TABLE IF EXISTS usage",
    "DROP TABLE IF EXISTS sim_card_seen",
    "DROP TABLE IF EXISTS inventory",
    "DROP TABLE IF EXISTS simusage_storage",
]


def _requested_mode() -> str:
    settings = context.config.attributes.get("settings")
    return settings.storage_mode if settings else "auto"


def _choose_mode() -> str:
    requested = _requested_mode()
    if requested == "postgres":
        return "postgres"
    # Asked by env.py in a connection of its own (migrations/timescaledb_probe.py), which
    # also created the extension where it could.
    problem = context.config.attributes.get("timescaledb_problem")
    if problem is None:
        return "timescaledb"
    if requested == "timescaledb":
        raise StorageModeError(
            f"SIMUSAGE_STORAGE_MODE=timescaledb, but TimescaleDB cannot be enabled: {problem}; "
            + HOW_TO_ENABLE
        )
    logger.warning("TimescaleDB cannot be enabled (%s): storage mode postgres; %s",
                   problem, HOW_TO_ENABLE)
    return "postgres"


def upgrade() -> None:
    mode = _choose_mode()
    for statement in CREATE_TABLES:
        op.execute(statement)
    op.execute(
        text("INSERT INTO simusage_storage (mode) VALUES (:mode)").bindparams(mode=mode)
    )
    op.execute(CREATE_HYPERTABLE if mode == "timescaledb" else CREATE_TIME_INDEX)


def downgrade() -> None:
    for statement in DROP_TABLES:
        op.execute(statement)
    # The extension stays: other databases' objects or a later upgrade may use it.
