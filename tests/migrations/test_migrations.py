"""Migrations upgrade and downgrade cleanly, and both storage modes expose the same relations."""

from __future__ import annotations

import psycopg
import pytest

from simusage import migration
from tests.conftest import settings_for

READ_RELATIONS = (
    "usage_sim_card_hourly",
    "usage_sim_card_daily",
    "usage_organization_hourly",
    "usage_organization_daily",
)

RELATION_COLUMNS = """
    SELECT attribute.attname, format_type(attribute.atttypid, attribute.atttypmod)
    FROM pg_attribute AS attribute
    WHERE attribute.attrelid = %s::regclass AND attribute.attnum > 0 AND NOT attribute.attisdropped
    ORDER BY attribute.attnum
"""
PUBLIC_RELATIONS = """
    SELECT relname FROM pg_class
    WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'v', 'm', 'p')
    ORDER BY relname
"""


def columns(url: str) -> dict[str, list[tuple[str, str]]]:
    """Each read relation's columns and types, in order."""
    with psycopg.connect(url) as connection:
        return {
            relation: connection.execute(RELATION_COLUMNS, (relation,)).fetchall()
            for relation in READ_RELATIONS
        }


def relations(url: str) -> list[str]:
    """The tables and views in the public schema."""
    with psycopg.connect(url) as connection:
        return [row[0] for row in connection.execute(PUBLIC_RELATIONS)]


def storage_mode(url: str) -> str:
    """The storage mode the first migration recorded."""
    with psycopg.connect(url) as connection:
        return connection.execute("SELECT mode FROM simusage_storage").fetchone()[0]


def round_trip(url: str, mode: str) -> None:
    """Upgrade, downgrade to nothing, upgrade again: each step leaves what it should."""
    settings = settings_for(url, SIMUSAGE_STORAGE_MODE=mode)
    migration.upgrade(settings)
    assert set(READ_RELATIONS) <= set(relations(url))
    assert storage_mode(url) == mode
    migration.downgrade(settings, "base")
    assert relations(url) == ["alembic_version"]
    migration.upgrade(settings)
    assert set(READ_RELATIONS) | {"usage", "inventory", "kafka_offset"} <= set(relations(url))


def test_postgres_mode_upgrades_and_downgrades(empty_database: str) -> None:
    round_trip(empty_database, "postgres")


def fillfactors(url: str) -> set:
    with psycopg.connect(url) as connection:
        return {
            tuple(connection.execute(
                "SELECT reloptions FROM pg_class WHERE oid = %s::regclass", (relation,)
            ).fetchone()[0] or ())
            for relation in READ_RELATIONS
        }


def test_postgres_rollups_leave_room_for_updates_in_place(empty_database: str) -> None:
    settings = settings_for(empty_database, SIMUSAGE_STORAGE_MODE="postgres")
    migration.upgrade(settings)
    assert fillfactors(empty_database) == {("fillfactor=70",)}
    migration.downgrade(settings, "0003")
    assert fillfactors(empty_database) == {()}


def test_auto_mode_falls_back_to_postgres_without_the_extension(empty_database: str) -> None:
    migration.upgrade(settings_for(empty_database, SIMUSAGE_STORAGE_MODE="auto"))
    assert storage_mode(empty_database) == "postgres"


def test_timescaledb_mode_is_refused_without_the_extension(empty_database: str) -> None:
    with pytest.raises(RuntimeError, match="no timescaledb extension"):
        migration.upgrade(settings_for(empty_database, SIMUSAGE_STORAGE_MODE="timescaledb"))


@pytest.mark.timescaledb
def test_timescaledb_mode_upgrades_and_downgrades(timescaledb_empty: str) -> None:
    round_trip(timescaledb_empty, "timescaledb")


@pytest.mark.timescaledb
def test_auto_mode_picks_timescaledb_where_it_exists(timescaledb_empty: str) -> None:
    migration.upgrade(settings_for(timescaledb_empty, SIMUSAGE_STORAGE_MODE="auto"))
    assert storage_mode(timescaledb_empty) == "timescaledb"


@pytest.mark.timescaledb
def test_both_modes_have_the_same_read_relations(
    postgres_database: str, timescaledb_database: str
) -> None:
    in_postgres = columns(postgres_database)
    assert in_postgres == columns(timescaledb_database)
    for relation, relation_columns in in_postgres.items():
        types = dict(relation_columns)
        assert types["bucket"] == "timestamp with time zone", relation
        assert types["bytes_used"] == types["event_count"] == "bigint", relation


def test_migrations_have_one_head() -> None:
    assert migration.head_revision()
