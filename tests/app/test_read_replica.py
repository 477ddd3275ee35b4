"""The API reading from a real hot standby (scripts/postgres.sh start standby) while batches are
written on the primary: every answer, cached or not, is the primary's once the feed has it."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql
from fastapi.testclient import TestClient

from app.main import create_app
from tests.app.conftest import Runner
from tests.app.test_live_usage import INVENTORY, START, Writer
from tests.app.test_response_cache import QUERIES
from tests.app.usage_data import load
from tests.conftest import settings_for
from tests.ingest.helpers import value

ROOT = Path(__file__).resolve().parents[2]
STANDBY_PORT = 55434


# A replica that applies each commit this late: answers read from it right after a change
# notification would be stale, unless the feed waits for it as it must.
APPLY_DELAY = "ALTER SYSTEM SET recovery_min_apply_delay = {}"


@pytest.fixture(scope="session")
def standby() -> Iterator[None]:
    """A lagging hot standby of the test PostgreSQL server, started by the project's script."""
    # restart: a fresh copy of the primary, whatever an earlier run left.
    started = subprocess.run([str(ROOT / "scripts" / "services.sh"), "restart", "standby"],
                             capture_output=True, text=True, timeout=600)
    assert started.returncode == 0, started.stderr[-2000:]
    admin = f"postgresql://postgres@127.0.0.1:{STANDBY_PORT}/postgres"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(sql.SQL(APPLY_DELAY).format(sql.Literal("300ms")))
        connection.execute("SELECT pg_reload_conf()")
    yield
    # Stopped, not reset: left running, it replays every later test's databases (CPU the rest
    # of the suite and the benchmarks need); each start is a fresh copy anyway.
    subprocess.run([str(ROOT / "scripts" / "services.sh"), "stop", "standby"],
                   capture_output=True, text=True, timeout=120, check=False)


def _on_standby(url: str) -> str:
    return urlunsplit(urlsplit(url)._replace(netloc=f"simusage:simusage@127.0.0.1:{STANDBY_PORT}"))


def _replicated(url: str) -> None:
    """Wait until the standby has the database (created on the primary by the fixture)."""
    for _ in range(300):
        try:
            with psycopg.connect(url, connect_timeout=2) as connection:
                if connection.execute("SELECT pg_is_in_recovery()").fetchone()[0]:
                    return
        except psycopg.OperationalError:
            time.sleep(0.1)
    raise AssertionError(f"the standby never had {url}")


def test_answers_from_the_replica_are_the_primarys_once_the_feed_has_them(
    standby: None, postgres_database: str
) -> None:
    load(postgres_database, INVENTORY)
    replica = _on_standby(postgres_database)
    _replicated(replica)
    writer = Writer(postgres_database)
    reference = Runner(settings_for(postgres_database))  # the primary, uncached
    app = create_app(settings_for(postgres_database, SIMUSAGE_STORAGE_MODE="postgres",
                                  SIMUSAGE_READ_DATABASE_URL=replica))
    served = []
    try:
        with TestClient(app) as client:
            feed = app.state.change_feed
            for _ in range(300):
                if feed.live and not feed.settling:
                    break
                time.sleep(0.02)
            ready = client.get("/readyz").json()
            assert ready["replica"]["standby"] is True and ready["replica"]["lag_seconds"] >= 0
            for round_number in range(12):
                before = feed.messages
                writer.write([value(card, 1000 * round_number + 7, START + timedelta(hours=hour))
                              for card in INVENTORY for hour in (round_number % 5, 20)])
                for _ in range(500):  # the feed has it once the replica replayed it
                    if feed.messages > before + 1 and not feed.settling:
                        break
                    time.sleep(0.01)
                for query in (QUERIES[0], QUERIES[1], QUERIES[3]):
                    for _ in range(2):  # the second one from the cache, unless a change came
                        response = client.post("/graphql", json={"query": query})
                        served.append(response.headers["x-simusage-cache"])
                        assert response.json() == {"data": reference.data(query)}
    finally:
        reference.close()
    assert "hit" in served and "miss" in served
