"""Re-attribution: after a change of ownership, make the stored usage agree with the history.

A queued job names cards and the time from which their raw rows may disagree with the history.
It advances in windows of time, one short transaction each (a fraction of a second, so the
workers' batches never wait long): the raw rows whose organization is not the owner at their
time are updated, and then either the five rollups get the moved totals (PostgreSQL mode) or
the window is queued for a refresh of the continuous aggregates (TimescaleDB mode), with the
job's progress in the same transaction. A crash loses at most the window in flight; running
again resumes from the last one committed.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg import sql

from ingest.aggregate_refresh import refresh_pending
from ingest.change_publisher import publish
from ingest.encoding import ROLLUP_KINDS
from ingest.writer import storage_mode
from simusage.change_feed import subject_payloads
from simusage.storage import SIM_CARD

STEP_SECONDS = 0.5  # the window adapts so that a step takes about this long
FIRST_WINDOW = timedelta(hours=6)
SMALLEST_WINDOW = timedelta(minutes=1)
LARGEST_WINDOW = timedelta(days=366)
# All re-attribution steps take this lock: two runners never compute moves of the same rows.
STEP_LOCK = 0x5349_4D52  # "SIMR"

JOBS = "SELECT id FROM reattribution ORDER BY id"
JOB = "SELECT sim_card_ids, next_start FROM reattribution WHERE id = %s FOR UPDATE"
# One index probe per card at either end: where the job's rows start and end.
SPAN = """
    SELECT min(first.time), max(last.time)
    FROM unnest(%(cards)s::text[]) AS cards (id)
    CROSS JOIN LATERAL (SELECT time FROM usage WHERE sim_card_id = cards.id AND time >= %(start)s
                        ORDER BY time LIMIT 1) AS first
    CROSS JOIN LATERAL (SELECT time FROM usage WHERE sim_card_id = cards.id
                        ORDER BY time DESC LIMIT 1) AS last
"""
LOCK_STEP = "SELECT pg_advisory_xact_lock(%s)"
# A history that cannot change under the step (changes wait; workers share the lock).
SHARE_VERSION = "SELECT version FROM ownership_version FOR SHARE"
OWNER_AT = """(SELECT owner.organization_id FROM ownership AS owner
     WHERE owner.sim_card_id = usage.sim_card_id AND owner.valid_from <= usage.time
       AND (owner.valid_to IS NULL OR usage.time < owner.valid_to))"""
IN_WINDOW = "usage.sim_card_id = ANY(%(cards)s) AND usage.time >= %(start)s AND usage.time < %(end)s"
# The moved totals per (card, hour, from, to), kept for the rollups until the commit.
CREATE_MOVES = """
    CREATE TEMPORARY TABLE IF NOT EXISTS reattribution_moves (
        sim_card_id text NOT NULL, hour timestamptz NOT NULL, previous text, owner text,
        bytes_used bigint NOT NULL, event_count bigint NOT NULL
    ) ON COMMIT DELETE ROWS
"""
INSERT_MOVES = f"""
    INSERT INTO reattribution_moves
    SELECT usage.sim_card_id, date_trunc('hour', usage.time, 'UTC') AS hour,
           usage.organization_id AS previous, {OWNER_AT} AS owner,
           sum(usage.bytes_used)::bigint AS bytes_used, count(*) AS event_count
    FROM usage
    WHERE {IN_WINDOW} AND usage.organization_id IS DISTINCT FROM {OWNER_AT}
    GROUP BY 1, 2, 3, 4
"""
UPDATE_ROWS = f"""
    UPDATE usage SET organization_id = {OWNER_AT}
    WHERE {IN_WINDOW} AND usage.organization_id IS DISTINCT FROM {OWNER_AT}
"""
# Each move subtracts from its previous owner's rows and adds to the new owner's, in the
# primary-key order in which the ingest worker locks them.
CARD_MOVES = sql.SQL("""
    INSERT INTO {table} AS total (bucket, sim_card_id, organization_id, bytes_used, event_count)
    SELECT date_trunc({unit}, hour, 'UTC'), sim_card_id, organization_id, sum(bytes_used)::bigint,
           sum(event_count)::bigint
    FROM (SELECT hour, sim_card_id, coalesce(previous, '') AS organization_id,
                 -bytes_used AS bytes_used, -event_count AS event_count FROM reattribution_moves
          UNION ALL
          SELECT hour, sim_card_id, coalesce(owner, ''), bytes_used, event_count
          FROM reattribution_moves) AS moves
    GROUP BY 1, 2, 3
    ORDER BY sim_card_id, 1, organization_id
    ON CONFLICT (sim_card_id, bucket, organization_id) DO UPDATE
    SET bytes_used = total.bytes_used + excluded.bytes_used,
        event_count = total.event_count + excluded.event_count
""")
ORGANIZATION_MOVES = sql.SQL("""
    INSERT INTO {table} AS total (bucket, organization_id, bytes_used, event_count)
    SELECT date_trunc({unit}, hour, 'UTC'), organization_id, sum(bytes_used)::bigint,
           sum(event_count)::bigint
    FROM (SELECT hour, previous AS organization_id, -bytes_used AS bytes_used,
                 -event_count AS event_count FROM reattribution_moves WHERE previous IS NOT NULL
          UNION ALL
          SELECT hour, owner, bytes_used, event_count FROM reattribution_moves
          WHERE owner IS NOT NULL) AS moves
    GROUP BY 1, 2
    ORDER BY organization_id, 1
    ON CONFLICT (organization_id, bucket) DO UPDATE
    SET bytes_used = total.bytes_used + excluded.bytes_used,
        event_count = total.event_count + excluded.event_count
""")
DELETE_EMPTY = sql.SQL(
    "DELETE FROM {table} WHERE event_count = 0 AND bucket >= date_trunc({unit}, %s::timestamptz, 'UTC') "
    "AND bucket < %s"
)
# The change feed's view of a step: which cards' and organizations' hours it moved.
MOVED_HOURS = """
    SELECT DISTINCT sim_card_id, previous, owner,
           (extract(epoch FROM hour) / 3600)::bigint AS hour
    FROM reattribution_moves
"""
QUEUE_REFRESH = "INSERT INTO aggregate_refresh_pending (range_start, range_end) VALUES (%s, %s)"
ADVANCE = "UPDATE reattribution SET next_start = %s WHERE id = %s"
FINISH = "DELETE FROM reattribution WHERE id = %s"

# In the worker's order of the rollups, so that the two lock rows in the same order.
MOVES = [
    (
        (CARD_MOVES if rollup.subject == SIM_CARD else ORGANIZATION_MOVES).format(
            table=sql.Identifier(rollup.table), unit=sql.Literal(rollup.unit)
        ).as_string(),
        DELETE_EMPTY.format(
            table=sql.Identifier(rollup.table), unit=sql.Literal(rollup.unit)
        ).as_string(),
    )
    for rollup in ROLLUP_KINDS
]


@dataclass
class Progress:
    """Where a job stands: its window, and how far it has come over [first, last]."""

    job: int
    cards: int
    first: datetime
    last: datetime
    done: datetime
    moved_events: int = 0

    def fraction(self) -> float:
        """The share of the job's span done, 0 to 1."""
        span = (self.last - self.first).total_seconds()
        return 1.0 if span <= 0 else min(1.0, (self.done - self.first).total_seconds() / span)


def _publish_moves(connection: psycopg.Connection) -> None:
    cards: dict[str, set[int]] = {}
    organizations: dict[str, set[int]] = {}
    for card, previous, owner, hour in connection.execute(MOVED_HOURS):
        cards.setdefault(card, set()).add(hour)
        for organization in (previous, owner):
            if organization:
                organizations.setdefault(organization, set()).add(hour)
    publish(connection, subject_payloads(cards, organizations, False))


def _step(connection: psycopg.Connection, postgres: bool, cards: list[str], start: datetime,
          end: datetime) -> int:
    """Re-attribute [start, end) of the cards; return the events moved."""
    connection.execute(LOCK_STEP, (STEP_LOCK,))
    connection.execute(SHARE_VERSION)
    window = {"cards": cards, "start": start, "end": end}
    connection.execute(CREATE_MOVES)
    connection.execute(INSERT_MOVES, window)
    moved = connection.execute(UPDATE_ROWS, window).rowcount
    if moved and postgres:
        for upsert, delete_empty in MOVES:
            connection.execute(upsert)
            connection.execute(delete_empty, (start, end))
        _publish_moves(connection)
    elif moved:
        hour = timedelta(hours=1)
        first = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        last = (end - timedelta(microseconds=1)).astimezone(UTC).replace(
            minute=0, second=0, microsecond=0) + hour
        connection.execute(QUEUE_REFRESH, (first, last))
    return moved


def run_job(connection: psycopg.Connection, job: int, postgres: bool,
            report: Callable[[Progress], None] = lambda progress: None) -> Progress | None:
    """Run one job to its end in windows, each its own transaction; None if it is gone.
    postgres: the storage mode is PostgreSQL (else TimescaleDB)."""
    with connection.transaction():
        found = connection.execute(JOB, (job,)).fetchone()
        if found is None:
            return None
        cards, next_start = found
        first, last = connection.execute(SPAN, {"cards": cards, "start": next_start}).fetchone()
        if first is None:
            connection.execute(FINISH, (job,))
            return Progress(job, len(cards), next_start, next_start, next_start)
    progress = Progress(job, len(cards), first, last, first)
    end_of_rows = last + timedelta(microseconds=1)
    window = FIRST_WINDOW
    while progress.done < end_of_rows:
        started = time.monotonic()
        end = min(progress.done + window, end_of_rows)
        with connection.transaction():
            progress.moved_events += _step(connection, postgres, cards, progress.done, end)
            if end >= end_of_rows:
                connection.execute(FINISH, (job,))
            else:
                connection.execute(ADVANCE, (end, job))
        progress.done = end
        report(progress)
        elapsed = max(time.monotonic() - started, 1e-3)
        scale = min(4.0, max(0.25, STEP_SECONDS / elapsed))
        window = min(LARGEST_WINDOW, max(SMALLEST_WINDOW, window * scale))
    return progress


def run_pending(connection: psycopg.Connection,
                report: Callable[[Progress], None] = lambda progress: None) -> list[Progress]:
    """Run every queued job, oldest first, then refresh the continuous aggregates they touched
    (TimescaleDB mode). The connection must be in autocommit mode."""
    done = []
    postgres = storage_mode(connection) == "postgres"
    for (job,) in connection.execute(JOBS).fetchall():
        progress = run_job(connection, job, postgres, report)
        if progress is not None:
            done.append(progress)
    if not postgres:
        refresh_pending(connection)
    return done


def run_reattribution(settings, out=None) -> int:
    """`simusage inventory reattribute`: run every queued job, with progress about once a
    second; 0 when none is left."""
    out = out or sys.stderr
    shown = [0.0]

    def report(progress: Progress) -> None:
        now = time.monotonic()
        if now - shown[0] >= 1.0 or progress.fraction() >= 1.0:
            shown[0] = now
            print(f"re-attributing {progress.cards} SIM cards: {progress.fraction():6.1%} "
                  f"(up to {progress.done:%Y-%m-%d %H:%M}), {progress.moved_events} events moved",
                  file=out, flush=True)

    with psycopg.connect(settings.database_url, autocommit=True) as connection:
        done = run_pending(connection, report)
    moved = sum(progress.moved_events for progress in done)
    print(f"re-attribution done: {len(done)} job(s), {moved} events attributed again", file=out)
    return 0
