"""Migrations upgrade and downgrade cleanly, and both storage modes expose the same relations."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from migrations.timescaledb_probe import StorageModeError, timescaledb_problem
from simusage import migration
from tests.conftest import POSTGRES_SERVER, database_url, settings_for

READ_RELATIONS = (
    "usage_sim_card_hourly",
    "usage_sim_card_daily",
    "usage_organization_hourly",
    "usage_organization_daily",
    "usage_sim_card_monthly",  # built on the daily one: refreshed after it
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


def fillfactors(url: str, relations: tuple[str, ...] = READ_RELATIONS) -> set:
    with psycopg.connect(url) as connection:
        return {
            tuple(connection.execute(
                "SELECT reloptions FROM pg_class WHERE oid = %s::regclass", (relation,)
            ).fetchone()[0] or ())
            for relation in relations
        }


def test_postgres_rollups_leave_room_for_updates_in_place(empty_database: str) -> None:
    settings = settings_for(empty_database, SIMUSAGE_STORAGE_MODE="postgres")
    migration.upgrade(settings)
    assert fillfactors(empty_database) == {("fillfactor=70",)}
    migration.downgrade(settings, "0003")
    assert fillfactors(empty_database, READ_RELATIONS[:4]) == {()}  # the months came in 0007


@pytest.fixture
def database_without_timescaledb() -> Iterator[str]:
    """A database where TimescaleDB cannot be enabled, whatever this machine has installed: its
    owner is no superuser, and CREATE EXTENSION timescaledb needs one."""
    name = f"simusage_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_SERVER, autocommit=True) as admin:
        if not admin.execute("SELECT 1 FROM pg_roles WHERE rolname = 'simusage_plain'").fetchone():
            admin.execute("CREATE ROLE simusage_plain LOGIN NOSUPERUSER PASSWORD 'plain'")
        admin.execute(sql.SQL("CREATE DATABASE {} OWNER simusage_plain").format(sql.Identifier(name)))
    parts = urlsplit(database_url(name))
    yield urlunsplit(parts._replace(netloc=f"simusage_plain:plain@{parts.hostname}:{parts.port}"))
    with psycopg.connect(POSTGRES_SERVER, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def test_auto_mode_falls_back_to_postgres_with_one_warning(
    database_without_timescaledb: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    migration.upgrade(settings_for(database_without_timescaledb, SIMUSAGE_STORAGE_MODE="auto"))
    assert storage_mode(database_without_timescaledb) == "postgres"
    warnings = [record.getMessage() for record in caplog.records if record.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "shared_preload_libraries" in warnings[0], warnings


def test_timescaledb_mode_is_refused_where_it_cannot_be_enabled(
    database_without_timescaledb: str,
) -> None:
    with pytest.raises(StorageModeError, match="cannot be enabled: .*shared_preload_libraries"):
        migration.upgrade(settings_for(database_without_timescaledb, SIMUSAGE_STORAGE_MODE="timescaledb"))
    with psycopg.connect(database_without_timescaledb) as connection:
        assert connection.execute("SELECT to_regclass('simusage_storage')").fetchone() == (None,)


def test_the_probe_says_why_and_leaves_a_migrated_database_alone(
    database_without_timescaledb: str, postgres_database: str
) -> None:
    problem = timescaledb_problem(database_without_timescaledb)
    assert problem and ("not installed" in problem or "permission denied" in problem)
    assert timescaledb_problem(postgres_database) is None  # its mode was chosen already


@pytest.mark.timescaledb
def test_the_probe_enables_timescaledb_where_it_can(timescaledb_empty: str) -> None:
    assert timescaledb_problem(timescaledb_empty) is None
    with psycopg.connect(timescaledb_empty) as connection:
        assert connection.execute(
            "SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'").fetchone() == (1,)


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


DAYS = [  # (day, card, organization, bytes, events) in the per-card daily rollup before 0007
    ("2024-01-31", "1", "a", 10, 1), ("2024-02-01", "1", "a", 20, 2), ("2024-02-29", "1", "a", 30, 3),
    ("2024-02-10", "1", "b", 5, 1), ("2024-02-10", "2", "", 7, 1), ("2024-03-01", "2", "", 1, 1),
]


def test_the_months_are_summed_from_the_stored_days(empty_database: str) -> None:
    settings = settings_for(empty_database, SIMUSAGE_STORAGE_MODE="postgres")
    migration.upgrade(settings, "0006")
    with psycopg.connect(empty_database) as connection:
        connection.cursor().executemany(
            "INSERT INTO usage_sim_card_daily (bucket, sim_card_id, organization_id, bytes_used, "
            "event_count) VALUES (%s::date::timestamp AT TIME ZONE 'UTC', %s, %s, %s, %s)", DAYS)
    migration.upgrade(settings)
    with psycopg.connect(empty_database) as connection:
        months = connection.execute(
            "SELECT to_char(bucket AT TIME ZONE 'UTC', 'YYYY-MM'), sim_card_id, organization_id, "
            "bytes_used, event_count FROM usage_sim_card_monthly ORDER BY 1, 2, 3").fetchall()
    assert months == [("2024-01", "1", "a", 10, 1), ("2024-02", "1", "a", 50, 5),
                      ("2024-02", "1", "b", 5, 1), ("2024-02", "2", "", 7, 1),
                      ("2024-03", "2", "", 1, 1)]
    migration.downgrade(settings, "0006")
    assert "usage_sim_card_monthly" not in relations(empty_database)
