"""The SIM card inventory and its history: which organization owns each card, from when.

A change (an import, a move) is one transaction: it locks the ownership version (waiting for
the workers' batches in flight), writes the cards' new periods and current owners, bumps the
version so that every worker attributes its next batch by the new history, and queues the
re-attribution of the usage already stored (ingest/reattribution.py runs it afterwards).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from ingest.change_publisher import publish_everything
from ingest.events import EARLIEST, LATEST
from ingest.ownership import Owners, Period, change_periods
from simusage.storage import SIM_CARD_ID

# An effective time this far ahead of the clock is taken as a clock skew, not a plan.
FUTURE_SKEW = timedelta(minutes=5)
MAX_ORGANIZATION_ID = 200  # characters, as the API accepts in an id
MAX_FILE_BYTES = 64 * 1024 * 1024  # about a million cards


class InventoryError(Exception):
    """The inventory change cannot be made; nothing was written."""


def checked_organization_id(value: object, where: str, name: str = "'org-id'") -> str:
    """An organization id as the API can name it, or InventoryError."""
    if not isinstance(value, str) or not value.strip():
        raise InventoryError(f"{where}: {name} must be a non-empty string")
    if len(value) > MAX_ORGANIZATION_ID or not value.isprintable() or value != value.strip():
        raise InventoryError(
            f"{where}: {name} must be at most {MAX_ORGANIZATION_ID} printable characters, "
            "without surrounding spaces"
        )
    return value


def checked_sim_card_id(value: object, where: str, name: str = "'sim-card-id'") -> str:
    """A SIM card id (1 to 32 digits), or InventoryError."""
    if not isinstance(value, str) or not SIM_CARD_ID.fullmatch(value):
        raise InventoryError(f"{where}: {name} must be a string of 1 to 32 digits")
    return value


def parse_inventory(document: object) -> dict[str, str]:
    """SIM card id -> organization id from a parsed inventory document, or InventoryError."""
    if not isinstance(document, list):
        raise InventoryError("the inventory must be a JSON list of objects")
    owners: dict[str, str] = {}
    for position, entry in enumerate(document):
        where = f"entry {position}"
        if not isinstance(entry, dict):
            raise InventoryError(f"{where}: expected an object, got {type(entry).__name__}")
        sim_card_id = checked_sim_card_id(entry.get("sim-card-id"), where)
        organization_id = checked_organization_id(entry.get("org-id"), where)
        if owners.get(sim_card_id, organization_id) != organization_id:
            raise InventoryError(
                f"{where}: SIM card {sim_card_id} is given to both "
                f"{owners[sim_card_id]} and {organization_id}"
            )
        owners[sim_card_id] = organization_id
    return owners


def read_inventory_file(path: Path) -> dict[str, str]:
    """Parse an inventory JSON file, or raise InventoryError saying what is wrong."""
    try:
        with path.open("rb") as file:
            content = file.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        raise InventoryError(f"cannot read {path}: {error.strerror}") from None
    if len(content) > MAX_FILE_BYTES:
        raise InventoryError(f"{path} is larger than {MAX_FILE_BYTES // 2**20} MiB")
    try:
        document = json.loads(content.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise InventoryError(f"{path} is not valid JSON: {error}") from None
    return parse_inventory(document)


def parse_effective(text: str, now: datetime) -> datetime:
    """An --effective time: ISO 8601 with a UTC offset, not before 1970 nor in the future."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InventoryError(
            f"--effective {text!r} is not an ISO 8601 time, e.g. 2024-03-01T00:00:00Z"
        ) from None
    if moment.tzinfo is None:
        raise InventoryError(f"--effective {text!r} needs a UTC offset, e.g. 2024-03-01T00:00:00Z")
    if moment > now + FUTURE_SKEW:
        raise InventoryError(f"--effective {text!r} is in the future: changes take effect when made")
    if not EARLIEST <= moment < LATEST:
        raise InventoryError(f"--effective {text!r} is before 1970")
    return moment.astimezone(UTC)


def _us(moment: datetime | None) -> int | None:
    return None if moment is None else (moment - EARLIEST) // timedelta(microseconds=1)


def _moment(us: int | None) -> datetime | None:
    return None if us is None else EARLIEST + timedelta(microseconds=us)


@dataclass(frozen=True)
class Change:
    """What a change did: cards named, cards whose history changed, the re-attribution queued."""

    cards: int
    changed: int
    reattribution_id: int | None


LOCK_VERSION = "SELECT version FROM ownership_version FOR UPDATE"
BUMP_VERSION = "UPDATE ownership_version SET version = version + 1"
PERIODS_OF = """
    SELECT sim_card_id, organization_id, valid_from, valid_to FROM ownership
    WHERE sim_card_id = ANY(%s) ORDER BY sim_card_id, valid_from
"""
DELETE_PERIODS = "DELETE FROM ownership WHERE sim_card_id = ANY(%s)"
INSERT_PERIODS = """
    INSERT INTO ownership (sim_card_id, organization_id, valid_from, valid_to)
    SELECT * FROM unnest(%s::text[], %s::text[], %s::timestamptz[], %s::timestamptz[])
"""
UPSERT_INVENTORY = """
    INSERT INTO inventory (sim_card_id, organization_id)
    SELECT * FROM unnest(%s::text[], %s::text[])
    ON CONFLICT (sim_card_id) DO UPDATE
        SET organization_id = excluded.organization_id, updated_at = now()
        WHERE inventory.organization_id <> excluded.organization_id
"""
QUEUE_REATTRIBUTION = """
    INSERT INTO reattribution (sim_card_ids, next_start) VALUES (%s, %s) RETURNING id
"""


def _periods_of(connection: psycopg.Connection, sim_card_ids: list[str]) -> dict[str, list[Period]]:
    periods: dict[str, list[Period]] = {sim: [] for sim in sim_card_ids}
    for sim, organization_id, valid_from, valid_to in connection.execute(PERIODS_OF, (sim_card_ids,)):
        periods[sim].append(Period(sim, organization_id, _us(valid_from), _us(valid_to)))
    return periods


def change_owners(
    connection: psycopg.Connection, owners: dict[str, str], effective: datetime | None,
    now: datetime,
) -> Change:
    """Give each card to its organization from effective on (None: from now for a card that
    has an owner, its whole past for a new one), in the caller's transaction; all or nothing."""
    connection.execute(LOCK_VERSION)  # first: changes one at a time, after batches in flight
    sim_card_ids = sorted(owners)
    current = _periods_of(connection, sim_card_ids)
    effective_us, now_us = _us(effective), _us(now)
    changed: dict[str, list[Period]] = {}
    starts: list[int] = []
    for sim in sim_card_ids:
        periods = current[sim]
        given = effective_us if effective_us is not None or not periods else now_us
        result = change_periods(sim, periods, owners[sim], given)
        if isinstance(result, str):
            raise InventoryError(f"SIM card {sim} to {owners[sim]}: {result}")
        if result != periods:
            changed[sim] = result
            starts.append(result[-1].valid_from_us)
    if not changed:
        return Change(len(owners), 0, None)
    rows = [period for periods in changed.values() for period in periods]
    connection.execute(DELETE_PERIODS, (sorted(changed),))
    connection.execute(INSERT_PERIODS, (
        [p.sim_card_id for p in rows], [p.organization_id for p in rows],
        [_moment(p.valid_from_us) for p in rows], [_moment(p.valid_to_us) for p in rows],
    ))
    moved = sorted(changed)
    connection.execute(UPSERT_INVENTORY, (moved, [owners[sim] for sim in moved]))
    connection.execute(BUMP_VERSION)
    publish_everything(connection)  # who owns what, and so who may see what, changed
    job = connection.execute(QUEUE_REATTRIBUTION, (moved, _moment(min(starts)))).fetchone()[0]
    return Change(len(owners), len(changed), job)


def import_inventory_file(
    settings, path: Path, effective: str | None = None, now: datetime | None = None
) -> Change:
    """Import an inventory file in one transaction (the re-attribution is queued, not run)."""
    now = now or datetime.now(UTC)
    moment = parse_effective(effective, now) if effective is not None else None
    owners = read_inventory_file(path)
    with psycopg.connect(settings.database_url) as connection:
        return change_owners(connection, owners, moment, now)


def move_card(settings, sim_card_id: str, organization_id: str, effective: str) -> Change:
    """Give one card to an organization from effective on (the re-attribution is queued)."""
    now = datetime.now(UTC)
    owners = {
        checked_sim_card_id(sim_card_id, "move", "CARD"): checked_organization_id(organization_id, "move", "ORG")
    }
    with psycopg.connect(settings.database_url) as connection:
        return change_owners(connection, owners, parse_effective(effective, now), now)


def card_periods(settings, sim_card_id: str) -> list[Period]:
    """The card's periods, oldest first."""
    checked_sim_card_id(sim_card_id, "show", "CARD")
    with psycopg.connect(settings.database_url) as connection:
        return _periods_of(connection, [sim_card_id])[sim_card_id]


def describe_period(period: Period) -> str:
    """One line of `inventory show`: from, to (or 'now'), organization."""
    end = _moment(period.valid_to_us)
    return (f"{_moment(period.valid_from_us).isoformat()}  "
            f"{end.isoformat() if end else 'now':25}  {period.organization_id}")


OWNERS = """
    SELECT version.version, ownership.sim_card_id, ownership.organization_id,
           ownership.valid_from, ownership.valid_to
    FROM ownership_version AS version LEFT JOIN ownership ON true
"""


def load_owners(connection: psycopg.Connection) -> Owners:
    """The whole history and its version, read by one statement (one snapshot)."""
    version, periods = 0, []
    for version, sim, organization_id, valid_from, valid_to in connection.execute(OWNERS):
        if sim is not None:
            periods.append(Period(sim, organization_id, _us(valid_from), _us(valid_to)))
    return Owners(periods, version)

