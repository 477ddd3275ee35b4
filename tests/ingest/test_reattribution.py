"""Ownership over time on the real servers: random histories and events in random order end in
exactly the totals of the events attributed by the final history, in both storage modes."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.encoding import RowEncoder, prepare
from ingest.inventory import InventoryError, change_owners, load_owners
from ingest.reattribution import run_pending
from ingest.aggregate_refresh import refresh_pending
from ingest.writer import (
    copy_works, lock_ownership_version, prepare_connection, storage_mode, write_batch,
)
from simusage import migration
from tests.app.usage_data import rebuild_rollups
from tests.conftest import RESET_PGLITE, _copy_of, settings_for
from tests.ingest.helpers import batch_of, database_totals, expected_totals, raw_totals, value

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
START = datetime(2024, 5, 25, tzinfo=UTC)
CARDS = ["1", "2", "3"]
ORGANIZATIONS = ["org-a", "org-b", "org-c"]
SECONDS = int((NOW - START).total_seconds())

moments = st.integers(0, SECONDS - 1).map(lambda s: START + timedelta(seconds=s))
events = st.lists(st.tuples(st.sampled_from(CARDS), st.integers(0, 10**6), moments), min_size=1, max_size=40)
changes = st.tuples(
    st.dictionaries(st.sampled_from(CARDS), st.sampled_from(ORGANIZATIONS), min_size=1),
    st.one_of(st.none(), moments),  # --effective, or none (now / the whole past)
    st.booleans(),  # re-attribute at once, or only at the end
)
# Events and changes interleaved: each step is a batch of events or a change.
scenarios = st.lists(st.one_of(events.map(lambda e: ("events", e)), changes.map(lambda c: ("change", c))),
                     min_size=1, max_size=8)

# Raw rows whose organization is not their card's owner at their time, by the history.
MISATTRIBUTED = """
    SELECT count(*) FROM usage
    WHERE organization_id IS DISTINCT FROM (
        SELECT owner.organization_id FROM ownership AS owner
        WHERE owner.sim_card_id = usage.sim_card_id AND owner.valid_from <= usage.time
          AND (owner.valid_to IS NULL OR usage.time < owner.valid_to))
"""


class Ingest:
    """Batches written as the worker does: encoded by the history at the version it locks."""

    def __init__(self, connection: psycopg.Connection) -> None:
        self.connection, self.offset = connection, 0
        self.mode = storage_mode(connection)
        self.use_copy = copy_works(connection)
        prepare_connection(connection, self.mode if self.use_copy else "")

    def write(self, values: list[bytes]) -> None:
        batch = batch_of(values, start=self.offset)
        self.offset += len(values)
        with self.connection.transaction():
            lock_ownership_version(self.connection)
            owners = load_owners(self.connection)
            write = prepare(batch, batch.cards(), RowEncoder(owners), set(), mode=self.mode,
                            use_copy=self.use_copy)
            write_batch(self.connection, "t", write, mode=self.mode)


def play(connection: psycopg.Connection, scenario: list) -> list[bytes]:
    """Run the scenario; return every event value written."""
    ingest, written = Ingest(connection), []
    for kind, step in scenario:
        if kind == "events":
            values = [value(sim, used, moment) for sim, used, moment in step]
            ingest.write(values)
            written += values
            continue
        owners, effective, at_once = step
        # A change that would overlap a period is refused whole: the scenario goes on.
        with contextlib.suppress(InventoryError), connection.transaction():
            change_owners(connection, owners, effective, NOW)
        if at_once:
            run_pending(connection)
    run_pending(connection)
    if ingest.mode == "timescaledb":
        refresh_pending(connection)
    return written


def check(connection: psycopg.Connection, written: list[bytes]) -> None:
    owners = load_owners(connection)
    assert connection.execute(MISATTRIBUTED).fetchone() == (0,)
    assert connection.execute("SELECT count(*) FROM reattribution").fetchone() == (0,)
    assert database_totals(connection) == raw_totals(connection) == expected_totals(written, owners)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(scenario=scenarios)
def test_postgres_totals_follow_the_final_history(postgres_template: str, scenario: list) -> None:
    with _copy_of(postgres_template) as url:  # one fresh database per example
        with psycopg.connect(url, autocommit=True) as connection:
            check(connection, play(connection, scenario))


@pytest.mark.timescaledb
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(scenario=scenarios)
def test_timescaledb_totals_follow_the_final_history(timescaledb_empty: str, scenario: list) -> None:
    with psycopg.connect(timescaledb_empty, autocommit=True) as connection:
        connection.execute(RESET_PGLITE)  # one fresh database per example
    migration.upgrade(settings_for(timescaledb_empty, SIMUSAGE_STORAGE_MODE="timescaledb"))
    with psycopg.connect(timescaledb_empty, autocommit=True) as connection:
        check(connection, play(connection, scenario))


GENERATE_USAGE = """
    INSERT INTO usage (time, sim_card_id, organization_id, bytes_used)
    SELECT %(start)s::timestamptz + minute * interval '1 minute', card, 'org-a', minute %% 1000
    FROM generate_series(0, %(minutes)s - 1) AS minute, unnest(%(cards)s::text[]) AS card
"""


def test_a_killed_reattribution_resumes_exactly(postgres_database: str) -> None:
    cards = [str(100 + n) for n in range(4)]
    with psycopg.connect(postgres_database, autocommit=True) as connection:
        with connection.transaction():
            change_owners(connection, dict.fromkeys(cards, "org-a"), None, NOW)
        run_pending(connection)
        connection.execute(GENERATE_USAGE, {"start": START - timedelta(days=60), "minutes": 60 * 24 * 60,
                                            "cards": cards})
        rebuild_rollups(connection)
        with connection.transaction():
            change_owners(connection, dict.fromkeys(cards, "org-b"), START - timedelta(days=59, hours=1), NOW)
    environment = {**os.environ, "DATABASE_URL": postgres_database}
    command = [sys.executable, "-m", "simusage.cli", "inventory", "reattribute"]
    process = subprocess.Popen(command, env=environment, stderr=subprocess.PIPE, text=True)
    first = process.stderr.readline()
    assert first.startswith("re-attributing 4 SIM cards"), first
    process.send_signal(signal.SIGKILL)
    process.wait(30)
    with psycopg.connect(postgres_database, autocommit=True) as connection:
        left = connection.execute("SELECT next_start FROM reattribution").fetchall()
        assert len(left) == 1  # killed in the middle: the job is still queued, partly done
    finished = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr
    assert "re-attribution done: 1 job(s)" in finished.stderr
    with psycopg.connect(postgres_database, autocommit=True) as connection:
        assert connection.execute(MISATTRIBUTED).fetchone() == (0,)
        assert database_totals(connection) == raw_totals(connection)
        moved = connection.execute(
            "SELECT count(*) FROM usage WHERE organization_id = 'org-b'").fetchone()[0]
        assert moved == 4 * (60 * 24 * 60 - 23 * 60)  # from 59 days and 1 hour before START
