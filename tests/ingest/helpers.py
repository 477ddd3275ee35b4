"""Shared by the ingest tests: batches from values, expected totals, totals in the database."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from ingest.batch import Batch
from ingest.chunk_parser import FastParser
from ingest.events import HOUR_US, Event, parse_event
from ingest.ownership import Owners, Period

INVENTORY_FILE = Path(__file__).resolve().parents[2] / "data" / "inventory.json"
OWNERS = {e["sim-card-id"]: e["org-id"] for e in json.loads(INVENTORY_FILE.read_text())}


def constant_owners(owners: dict[str, str], version: int = 0) -> Owners:
    """A history in which each card has always had its one owner."""
    return Owners([Period(sim, organization, 0) for sim, organization in owners.items()], version)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
RELATIONS = {
    "usage_sim_card_hourly": ("sim_card_id", "hour"),
    "usage_organization_hourly": ("organization_id", "hour"),
    "usage_sim_card_daily": ("sim_card_id", "day"),
    "usage_organization_daily": ("organization_id", "day"),
    "usage_sim_card_monthly": ("sim_card_id", "month"),
}


@dataclass
class Chunk:
    """A chunk as the consumer makes them, from plain values."""

    topic: str
    partition: int
    start_offset: int
    next_offset: int
    values: list = field(default_factory=list)

    def record(self, index: int):
        return self.start_offset + index, None, self.values[index], []


def batch_of(values: list[bytes], topic: str = "t", partition: int = 0, start: int = 0) -> Batch:
    batch = Batch()
    batch.add(Chunk(topic, partition, start, start + len(values), list(values)), FastParser())
    return batch


def value(sim: str, bytes_used: int, moment: datetime | str) -> bytes:
    date = moment if isinstance(moment, str) else moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return json.dumps({"sim-card-id": sim, "bytes-used": bytes_used, "date": date}).encode()


def bucket(moment: datetime, unit: str) -> datetime:
    moment = moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    if unit == "month":
        return moment.replace(day=1, hour=0)
    return moment.replace(hour=0) if unit == "day" else moment


def owner_function(owners):
    """owner_at(sim, time_us) of a plain SIM -> organization mapping or of an Owners history."""
    if isinstance(owners, Owners):
        return owners.at
    return lambda sim, _time_us: owners.get(sim)


def expected_totals(values, owners=OWNERS) -> dict[str, dict]:
    """relation -> {(key, bucket start): (bytes, events)} of the valid values, by the calendar;
    a card's key is (card, owner at the event's time), an organization's its id."""
    owner_at = owner_function(owners)
    totals = {name: defaultdict(lambda: [0, 0]) for name in RELATIONS}
    for raw in values:
        event = parse_event(raw)
        if not isinstance(event, Event):
            continue
        owner = owner_at(event.sim_card_id, event.time_us)
        for name, (key_column, unit) in RELATIONS.items():
            key = (event.sim_card_id, owner) if key_column == "sim_card_id" else owner
            if key is None:
                continue
            slot = totals[name][key, bucket(event.time, unit)]
            slot[0] += event.bytes_used
            slot[1] += 1
    return {name: {k: tuple(v) for k, v in t.items()} for name, t in totals.items()}


# A card's rows carry their organization: '' (rollups) or NULL (continuous aggregates) for none.
CARD_ROWS = "SELECT sim_card_id, nullif(organization_id, ''), bucket, bytes_used, event_count FROM {name}"
ORGANIZATION_ROWS = "SELECT organization_id, bucket, bytes_used, event_count FROM {name}"


def _keyed(rows, card: bool) -> dict:
    if card:
        return {((sim, org), moment.astimezone(UTC)): (used, events) for sim, org, moment, used, events in rows}
    return {(key, moment.astimezone(UTC)): (used, events) for key, moment, used, events in rows}


def database_totals(connection: psycopg.Connection) -> dict[str, dict]:
    """relation -> {(key, bucket): (bytes, events)} as the read relations hold them."""
    totals = {}
    for name, (key_column, _) in RELATIONS.items():
        card = key_column == "sim_card_id"
        rows = connection.execute((CARD_ROWS if card else ORGANIZATION_ROWS).format(name=name)).fetchall()
        totals[name] = _keyed(rows, card)
    return totals


CARD_GROUP_BY = """
    SELECT sim_card_id, organization_id, date_trunc('{unit}', time, 'UTC'), sum(bytes_used)::bigint,
           count(*)
    FROM usage GROUP BY 1, 2, 3
"""
ORGANIZATION_GROUP_BY = """
    SELECT organization_id, date_trunc('{unit}', time, 'UTC'), sum(bytes_used)::bigint, count(*)
    FROM usage WHERE organization_id IS NOT NULL GROUP BY 1, 2
"""


def raw_totals(connection: psycopg.Connection) -> dict[str, dict]:
    """The same totals by GROUP BY over the raw usage rows."""
    totals = {}
    for name, (key_column, unit) in RELATIONS.items():
        card = key_column == "sim_card_id"
        statement = (CARD_GROUP_BY if card else ORGANIZATION_GROUP_BY).format(unit=unit)
        totals[name] = _keyed(connection.execute(statement).fetchall(), card)
    return totals


def usage_rows(connection: psycopg.Connection) -> list[tuple]:
    return sorted(
        (moment.astimezone(UTC), sim, org, used)
        for moment, sim, org, used in connection.execute(
            "SELECT time, sim_card_id, organization_id, bytes_used FROM usage"
        )
    )


def hours_ago(hours: float) -> datetime:
    return datetime.now(UTC) - timedelta(hours=hours)


def sum_hourly(times: list[int], sims: list[str], counts: list[int]) -> dict[tuple[str, int], list[int]]:
    """(sim, hour) -> [bytes, events] of the columns: the oracle for the parser's running sums."""
    hourly: dict[tuple[str, int], list[int]] = defaultdict(lambda: [0, 0])
    for time_us, sim, bytes_used in zip(times, sims, counts):
        total = hourly[(sim, time_us // HOUR_US)]
        total[0] += bytes_used
        total[1] += 1
    return dict(hourly)
