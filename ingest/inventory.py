"""The SIM card inventory: which organization owns each card, imported from JSON."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg

from simusage.settings import Settings
from simusage.storage import SIM_CARD_ID



class InventoryError(Exception):
    """The inventory file cannot be imported; nothing was written."""


def parse_inventory(document: object) -> dict[str, str]:
    """SIM card id -> organization id from a parsed inventory document, or InventoryError."""
    if not isinstance(document, list):
        raise InventoryError("the inventory must be a JSON list of objects")
    owners: dict[str, str] = {}
    for position, entry in enumerate(document):
        where = f"entry {position}"
        if not isinstance(entry, dict):
            raise InventoryError(f"{where}: expected an object, got {type(entry).__name__}")
        sim_card_id, organization_id = entry.get("sim-card-id"), entry.get("org-id")
        if not isinstance(sim_card_id, str) or not SIM_CARD_ID.fullmatch(sim_card_id):
            raise InventoryError(f"{where}: 'sim-card-id' must be a string of 1 to 32 digits")
        if not isinstance(organization_id, str) or not organization_id.strip():
            raise InventoryError(f"{where}: 'org-id' must be a non-empty string")
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
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise InventoryError(f"cannot read {path}: {error.strerror}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InventoryError(f"{path} is not valid JSON: {error}") from None
    return parse_inventory(document)


UPSERT_INVENTORY = """
    INSERT INTO inventory (sim_card_id, organization_id)
    SELECT * FROM unnest(%s::text[], %s::text[])
    ON CONFLICT (sim_card_id) DO UPDATE
        SET organization_id = excluded.organization_id, updated_at = now()
        WHERE inventory.organization_id <> excluded.organization_id
"""


def upsert_inventory(connection: psycopg.Connection, owners: dict[str, str]) -> None:
    """Insert or update the owners in the caller's transaction."""
    sim_card_ids = sorted(owners)
    connection.execute(UPSERT_INVENTORY, (sim_card_ids, [owners[i] for i in sim_card_ids]))


def import_inventory_file(settings: Settings, path: Path) -> int:
    """Import an inventory file in one transaction; return the number of SIM cards in it."""
    owners = read_inventory_file(path)
    with psycopg.connect(settings.database_url) as connection:
        upsert_inventory(connection, owners)
    return len(owners)


OWNERS = "SELECT sim_card_id, organization_id FROM inventory"


def load_owners(connection: psycopg.Connection) -> dict[str, str]:
    """The whole inventory, SIM card id -> organization id (the ingest worker's cache)."""
    return dict(connection.execute(OWNERS).fetchall())
