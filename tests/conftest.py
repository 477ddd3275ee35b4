"""Fixtures over the real services that `make test` starts (scripts/services.sh).

PostgreSQL: each test that asks gets a fresh database copied from a migrated template.
TimescaleDB: the one PGlite server (one connection at a time), reset to an empty schema.
Kafka: the real broker; each test gets topics of its own.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from simusage import migration
from simusage.settings import Settings, load_settings

POSTGRES_SERVER = os.environ.get(
    "SIMUSAGE_TEST_POSTGRES_URL", "postgresql://simusage:simusage@127.0.0.1:55432/postgres"
)
PGLITE_URL = os.environ.get(
    "SIMUSAGE_TEST_PGLITE_URL", "postgresql://postgres:postgres@127.0.0.1:55433/postgres?sslmode=disable"
)
KAFKA = os.environ.get("SIMUSAGE_TEST_KAFKA", "127.0.0.1:9092")
# Unique per pytest run, so that two runs side by side do not drop each other's template.
TEMPLATE = f"simusage_test_template_{uuid.uuid4().hex[:8]}"


def database_url(name: str) -> str:
    """The test server's URL for the database called name."""
    parts = urlsplit(POSTGRES_SERVER)
    return urlunsplit(parts._replace(path=f"/{name}"))


def settings_for(url: str, **overrides: object) -> Settings:
    """Settings pointing at url and the test broker, whatever the environment says."""
    values = {"DATABASE_URL": url, "KAFKA_BOOTSTRAP_SERVERS": KAFKA, "SIMUSAGE_AUTH": "off"}
    return load_settings(**(values | overrides))


def _drop_database(admin: psycopg.Connection, name: str) -> None:
    admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    """A database migrated to head in PostgreSQL mode, to copy for each test."""
    with psycopg.connect(POSTGRES_SERVER, autocommit=True) as admin:
        _drop_database(admin, TEMPLATE)
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(TEMPLATE)))
    migration.upgrade(settings_for(database_url(TEMPLATE), SIMUSAGE_STORAGE_MODE="postgres"))
    yield TEMPLATE
    with psycopg.connect(POSTGRES_SERVER, autocommit=True) as admin:
        _drop_database(admin, TEMPLATE)


@pytest.fixture
def empty_database() -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database, dropped after the test."""
    name = f"simusage_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_SERVER, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield database_url(name)
    with psycopg.connect(POSTGRES_SERVER, autocommit=True) as admin:
        _drop_database(admin, name)


@contextmanager
def _copy_of(template: str) -> Iterator[str]:
    name = f"simusage_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_SERVER, autocommit=True) as admin:
        admin.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template)
            )
        )
    yield database_url(name)
    with psycopg.connect(POSTGRES_SERVER, autocommit=True) as admin:
        _drop_database(admin, name)


@pytest.fixture
def postgres_database(postgres_template: str) -> Iterator[str]:
    """The URL of a fresh PostgreSQL-mode database at head, dropped after the test."""
    with _copy_of(postgres_template) as url:
        yield url


@pytest.fixture(scope="module")
def postgres_database_module(postgres_template: str) -> Iterator[str]:
    """A PostgreSQL-mode database at head shared by one test module, dropped after it."""
    with _copy_of(postgres_template) as url:
        yield url


# PGlite is one long-lived backend: the timescaledb library stays loaded, so the extension
# must survive a reset (re-creating it fails with "already loaded with another version").
# Drop every relation of ours instead, continuous aggregates first.
RESET_PGLITE = """
DO $reset$
DECLARE relation record;
BEGIN
    IF to_regclass('_timescaledb_catalog.continuous_agg') IS NOT NULL THEN
        -- The latest first: an aggregate built on another (the months on the days) goes before it.
        FOR relation IN
            SELECT user_view_name AS view_name FROM _timescaledb_catalog.continuous_agg
            WHERE user_view_schema = 'public' ORDER BY mat_hypertable_id DESC
        LOOP
            EXECUTE format('DROP MATERIALIZED VIEW IF EXISTS public.%I CASCADE', relation.view_name);
        END LOOP;
    END IF;
    FOR relation IN
        SELECT class.relname FROM pg_class AS class
        WHERE class.relnamespace = 'public'::regnamespace AND class.relkind IN ('r', 'p', 'v')
          AND NOT EXISTS (
              SELECT FROM pg_depend WHERE objid = class.oid AND deptype = 'e')
    LOOP
        EXECUTE format('DROP TABLE IF EXISTS public.%I CASCADE', relation.relname);
    END LOOP;
END
$reset$
"""


def reset_pglite() -> None:
    """Empty the PGlite database: it has one database, shared by every TimescaleDB test."""
    with psycopg.connect(PGLITE_URL, autocommit=True) as connection:
        connection.execute(RESET_PGLITE)


def _real_timescaledb() -> bool:
    """Whether the test PostgreSQL server has TimescaleDB installed and preloaded (the project's
    own server preloads it wherever the machine has it)."""
    try:
        with psycopg.connect(POSTGRES_SERVER, connect_timeout=2) as connection:
            preloaded = connection.execute("SHOW shared_preload_libraries").fetchone()[0]
            available = connection.execute(
                "SELECT count(*) FROM pg_available_extensions WHERE name = 'timescaledb'"
            ).fetchone()[0]
    except psycopg.Error:
        return False  # no server (make test-fast): PGlite's tests are deselected anyway
    return bool(available) and "timescaledb" in preloaded


# PGlite always; and the real server too where it can run TimescaleDB.
TIMESCALEDB_SERVERS = ["pglite", *(["postgres"] if _real_timescaledb() else [])]


@pytest.fixture(params=TIMESCALEDB_SERVERS)
def timescaledb_empty(request: pytest.FixtureRequest) -> Iterator[str]:
    """The URL of an empty TimescaleDB database: PGlite's (its public schema emptied), or a new
    database on the real server with the extension created."""
    if request.param == "pglite":
        reset_pglite()
        yield PGLITE_URL
        reset_pglite()
        return
    name = f"simusage_test_tsdb_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_SERVER, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    with psycopg.connect(database_url(name), autocommit=True) as connection:
        connection.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    yield database_url(name)
    with psycopg.connect(POSTGRES_SERVER, autocommit=True) as admin:
        _drop_database(admin, name)


@pytest.fixture
def timescaledb_database(timescaledb_empty: str) -> str:
    """The URL of the PGlite TimescaleDB server, migrated to head in TimescaleDB mode."""
    migration.upgrade(settings_for(timescaledb_empty, SIMUSAGE_STORAGE_MODE="timescaledb"))
    return timescaledb_empty


@pytest.fixture
def kafka_bootstrap() -> str:
    """host:port of the test Kafka broker."""
    return KAFKA


@pytest.fixture
def topic_name() -> str:
    """A topic name no other test uses (the ingest tests create it with partitions)."""
    return f"usage-test-{uuid.uuid4().hex[:10]}"


# Fixtures that reach a service that `make test` starts, and markers of tests that do.
SERVICE_FIXTURES = {"postgres_template", "empty_database", "timescaledb_empty", "kafka_bootstrap",
                    "topic_name", "topic", "database_without_timescaledb"}
SERVICE_MARKERS = {"kafka", "timescaledb", "browser", "slow"}


def pytest_configure(config: pytest.Config) -> None:
    """Declare the services marker."""
    config.addinivalue_line("markers", "services: needs PostgreSQL, Kafka, PGlite or a browser")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that needs a service, so that `make test-fast` can leave them out."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        markers = {marker.name for marker in item.iter_markers()}
        if fixtures & SERVICE_FIXTURES or markers & SERVICE_MARKERS:
            item.add_marker(pytest.mark.services)
