"""The inventory import: all or nothing, with an error that says what is wrong."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from ingest.inventory import InventoryError, import_inventory_file, parse_inventory
from tests.conftest import settings_for

# The reference inventory, as committed beside the code (a copy of shared/data/inventory.json).
REFERENCE = Path(__file__).resolve().parents[2] / "data" / "inventory.json"


def owners(url: str) -> dict[str, str]:
    """The inventory table as SIM card id -> organization id."""
    with psycopg.connect(url) as connection:
        return dict(connection.execute("SELECT sim_card_id, organization_id FROM inventory"))


def test_reference_inventory_imports(postgres_database: str) -> None:
    count = import_inventory_file(settings_for(postgres_database), REFERENCE)
    expected = {entry["sim-card-id"]: entry["org-id"] for entry in json.loads(REFERENCE.read_text())}
    assert count == 15
    assert owners(postgres_database) == expected
    assert "89440015" not in expected


def test_import_is_an_idempotent_upsert(postgres_database: str, tmp_path: Path) -> None:
    settings = settings_for(postgres_database)
    import_inventory_file(settings, REFERENCE)
    import_inventory_file(settings, REFERENCE)
    moved = tmp_path / "moved.json"
    moved.write_text(json.dumps([{"sim-card-id": "89440001", "org-id": "x00g8"}]))
    import_inventory_file(settings, moved)
    table = owners(postgres_database)
    assert len(table) == 15
    assert table["89440001"] == "x00g8"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "not valid JSON"),
        ('{"sim-card-id": "1", "org-id": "a"}', "JSON list"),
        ('[{"sim-card-id": "1", "org-id": "a"}, 5]', "entry 1: expected an object"),
        ('[{"sim-card-id": "12a", "org-id": "a"}]', "string of 1 to 32 digits"),
        ('[{"sim-card-id": 1, "org-id": "a"}]', "string of 1 to 32 digits"),
        ('[{"sim-card-id": "1", "org-id": ""}]', "non-empty"),
        ('[{"sim-card-id": "1"}]', "'org-id'"),
        ('[{"sim-card-id": "1", "org-id": "a"}, {"sim-card-id": "1", "org-id": "b"}]', "both a and b"),
    ],
)
def test_malformed_file_changes_nothing(
    postgres_database: str, tmp_path: Path, content: str, message: str
) -> None:
    # A good first entry must not be half-imported when a later one is bad.
    path = tmp_path / "inventory.json"
    path.write_text(content)
    with pytest.raises(InventoryError, match=message):
        import_inventory_file(settings_for(postgres_database), path)
    assert owners(postgres_database) == {}


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InventoryError, match="cannot read"):
        import_inventory_file(settings_for("postgresql://unused/db"), tmp_path / "absent.json")


def test_parse_keeps_every_pair() -> None:
    document = [{"sim-card-id": str(8944000 + n), "org-id": f"org{n % 3}"} for n in range(50)]
    assert parse_inventory(document) == {e["sim-card-id"]: e["org-id"] for e in document}
