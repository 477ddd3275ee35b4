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

INVENTORY_FILE = Path(__file__).resolve().parents[2] / "data" / "inventory.json"
OWNERS = {e["sim-card-id"]: e["org-id"] for e in json.loads(INVENTORY_FILE.read_text())}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
RELATIONS = {
    "usage_sim_card_hourly": ("sim_card_id", "hour"),
    "usage_organization_hourly": ("organization_id", "hour"),
    "usage_sim_card_daily": ("sim_card_id", "day"),
    "usage_organization_daily": ("organization_id", "day"),
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
    return moment.replace(hour=0) if unit == "day" else moment


def expected_totals(values, owners: dict[str, str] = OWNERS) -> dict[str, dict]:
    """relation -> {(key, bucket start): (bytes, events)} of the valid values, by the calendar."""
    totals = {name: defaultdict(lambda: [0, 0]) for name in RELATIONS}
    for raw in values:
        event = parse_event(raw)
        if not isinstance(event, Event):
            continue
        for name, (key_column, unit) in RELATIONS.items():
            key = event.sim_card_id if key_column == "sim_card_id" else owners.get(event.sim_card_id)
            if key is None:
                continue
            slot = totals[name][key, bucket(event.time, unit)]
            slot[0] += event.bytes_used
            slot[1] += 1
    return {name: {k: tuple(v) for k, v in t.items()} for name, t in totals.items()}


def database_totals(connection: psycopg.Connection) -> dict[str, dict]:
    """relation -> {(key, bucket): (bytes, events)} as the read relations hold them."""
    totals = {}
    for name, (key_column, _) in RELATIONS.items():
        rows = connection.execute(
            f"SELECT {key_column}, bucket, bytes_used, event_count FROM {name}"  # noqa: S608
        ).fetchall()
        totals[name] = {(key, moment.astimezone(UTC)): (used, events) for key, moment, used, events in rows}
    return totals


GROUP_BY = """
    SELECT {key}, date_trunc('{unit}', time, 'UTC'), sum(bytes_used)::bigint, count(*)
    FROM usage WHERE {key} IS NOT NULL GROUP BY 1, 2
"""


def raw_totals(connection: psycopg.Connection) -> dict[str, dict]:
    """The same totals by GROUP BY over the raw usage rows."""
    totals = {}
    for name, (key_column, unit) in RELATIONS.items():
        rows = connection.execute(GROUP_BY.format(key=key_column, unit=unit)).fetchall()
        totals[name] = {(key, moment.astimezone(UTC)): (used, events) for key, moment, used, events in rows}
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
