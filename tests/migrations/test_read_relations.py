"""The four read relations agree with a GROUP BY over the raw usage rows."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import psycopg
import pytest

from tests.migrations.test_migrations import READ_RELATIONS

START = datetime(2020, 2, 9, 22, 0, tzinfo=timezone.utc)

# (minutes after START, SIM card, organization or None, bytes): across hours, a midnight, two
# organizations, a card outside the inventory, zero bytes, and two identical events.
EVENTS = [
    (0, "89440001", "a01b7", 100),
    (5, "89440001", "a01b7", 100),
    (5, "89440001", "a01b7", 100),
    (59, "89440002", "a01b7", 0),
    (60, "89440006", "x00g8", 4096),
    (119, "89440006", "x00g8", 1),
    (120, "89440015", None, 777),
    (121, "89440001", "a01b7", 3_000_000_000),
    (60 * 26, "89440011", "f00ff", 5),
]

INSERT_USAGE = "INSERT INTO usage (time, sim_card_id, organization_id, bytes_used) VALUES (%s, %s, %s, %s)"

EXPECTED = {
    "usage_sim_card_hourly": ("hour", "sim_card_id"),
    "usage_sim_card_daily": ("day", "sim_card_id"),
    "usage_organization_hourly": ("hour", "organization_id"),
    "usage_organization_daily": ("day", "organization_id"),
    "usage_sim_card_monthly": ("month", "sim_card_id"),
}

GROUP_BY_RAW = """
    SELECT date_trunc(%(unit)s, time, 'UTC') AS bucket, {key}, sum(bytes_used)::bigint, count(*)
    FROM usage WHERE {key} IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2
"""


def raw_rows() -> list[tuple]:
    """EVENTS as usage rows."""
    return [(START + timedelta(minutes=m), sim, organization, size) for m, sim, organization, size in EVENTS]


def aggregates_match_group_by(connection: psycopg.Connection) -> None:
    """Each read relation equals the GROUP BY of its grain over the raw rows."""
    for relation, (unit, key) in EXPECTED.items():
        expected = connection.execute(
            psycopg.sql.SQL(GROUP_BY_RAW).format(key=psycopg.sql.Identifier(key)), {"unit": unit}
        ).fetchall()
        actual = connection.execute(
            psycopg.sql.SQL("SELECT bucket, {}, bytes_used, event_count FROM {} ORDER BY 1, 2").format(
                psycopg.sql.Identifier(key), psycopg.sql.Identifier(relation)
            )
        ).fetchall()
        assert actual == expected, relation
        assert expected, relation


REFRESH = "CALL refresh_continuous_aggregate(%s, %s, %s)"


@pytest.mark.timescaledb
@pytest.mark.parametrize("materialized", [True, False], ids=["refreshed", "real-time"])
def test_continuous_aggregates_equal_group_by(timescaledb_database: str, materialized: bool) -> None:
    with psycopg.connect(timescaledb_database, autocommit=True) as connection:
        connection.cursor().executemany(INSERT_USAGE, raw_rows())
        if materialized:
            # Hourly before daily before monthly: each is built on the one before. A window
            # covers whole buckets (TimescaleDB refuses one smaller than a month for the months).
            month = START.replace(day=1, hour=0, minute=0)
            for relation in READ_RELATIONS:
                window = ((month, month + timedelta(days=62)) if relation.endswith("monthly")
                          else (START - timedelta(days=1), START + timedelta(days=3)))
                connection.execute(REFRESH, (relation, *window))
        aggregates_match_group_by(connection)
