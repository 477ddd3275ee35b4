"""The inventory import: all or nothing, with an error that says what is wrong."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from ingest.inventory import (
    InventoryError, card_periods, describe_period, import_inventory_file, move_card, parse_inventory,
)
from tests.conftest import settings_for

# The reference inventory, as committed beside the code (a copy of shared/data/inventory.json).
REFERENCE = Path(__file__).resolve().parents[2] / "data" / "inventory.json"


def owners(url: str) -> dict[str, str]:
    """The inventory table as SIM card id -> organization id."""
    with psycopg.connect(url) as connection:
        return dict(connection.execute("SELECT sim_card_id, organization_id FROM inventory"))


def test_reference_inventory_imports(postgres_database: str) -> None:
    change = import_inventory_file(settings_for(postgres_database), REFERENCE)
    expected = {entry["sim-card-id"]: entry["org-id"] for entry in json.loads(REFERENCE.read_text())}
    assert (change.cards, change.changed) == (15, 15)
    assert owners(postgres_database) == expected
    assert "89440015" not in expected


def test_import_is_an_idempotent_upsert(postgres_database: str, tmp_path: Path) -> None:
    settings = settings_for(postgres_database)
    import_inventory_file(settings, REFERENCE)
    assert import_inventory_file(settings, REFERENCE).changed == 0
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
        ('[{"sim-card-id": "1", "org-id": " a"}]', "without surrounding spaces"),
        ('[{"sim-card-id": "1", "org-id": "a\\u0000"}]', "printable"),
        ('[{"sim-card-id": "1", "org-id": "%s"}]' % ("x" * 201), "at most 200"),
        ("[" * 100_000, "not valid JSON"),
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


NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


def history(url: str, sim: str) -> list[tuple]:
    return [(p.organization_id, p.valid_from_us, p.valid_to_us) for p in card_periods(settings_for(url), sim)]


def write_file(tmp_path: Path, pairs: dict[str, str]) -> Path:
    path = tmp_path / f"inventory-{len(list(tmp_path.iterdir()))}.json"
    path.write_text(json.dumps([{"sim-card-id": s, "org-id": o} for s, o in pairs.items()]))
    return path


def us(moment: datetime) -> int:
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def test_periods_follow_the_changes(postgres_database: str, tmp_path: Path) -> None:
    settings = settings_for(postgres_database)
    # New without --effective: its whole past. New with --effective: from then on.
    import_inventory_file(settings, write_file(tmp_path, {"1": "a"}), now=NOW)
    import_inventory_file(settings, write_file(tmp_path, {"2": "a"}), "2024-05-01T00:00:00Z", now=NOW)
    assert history(postgres_database, "1") == [("a", 0, None)]
    assert history(postgres_database, "2") == [("a", us(datetime(2024, 5, 1, tzinfo=UTC)), None)]
    # A card that has an owner moves at --effective, or now.
    march = datetime(2024, 3, 1, 10, 30, tzinfo=UTC)
    import_inventory_file(settings, write_file(tmp_path, {"1": "b"}), march.isoformat(), now=NOW)
    import_inventory_file(settings, write_file(tmp_path, {"1": "c"}), now=NOW)
    assert history(postgres_database, "1") == [("a", 0, us(march)), ("b", us(march), us(NOW)), ("c", us(NOW), None)]
    assert owners(postgres_database) == {"1": "c", "2": "a"}
    with psycopg.connect(postgres_database) as connection:
        assert connection.execute("SELECT version FROM ownership_version").fetchone() == (4,)
        jobs = connection.execute("SELECT sim_card_ids, next_start FROM reattribution ORDER BY id").fetchall()
    assert [cards for cards, _ in jobs] == [["1"], ["2"], ["1"], ["1"]]
    assert jobs[2][1] == march


@pytest.mark.parametrize(
    ("effective", "message"),
    [
        ("2024-02-01T00:00:00Z", "periods would overlap"),  # before the current period began
        ("2024-06-01T13:00:00Z", "in the future"),
        ("2024-06-01T10:00:00", "needs a UTC offset"),
        ("yesterday", "not an ISO 8601 time"),
        ("1969-12-31T23:00:00Z", "before 1970"),
    ],
)
def test_a_bad_change_is_refused_as_a_whole(
    postgres_database: str, tmp_path: Path, effective: str, message: str
) -> None:
    settings = settings_for(postgres_database)
    import_inventory_file(settings, write_file(tmp_path, {"1": "a", "2": "a"}), "2024-03-01T00:00:00Z", now=NOW)
    before = (owners(postgres_database), history(postgres_database, "1"), history(postgres_database, "2"))
    # Card 3 is new and fine; card 1's change is not: nothing at all changes.
    with pytest.raises(InventoryError, match=message):
        import_inventory_file(settings, write_file(tmp_path, {"3": "c", "1": "b"}), effective, now=NOW)
    assert (owners(postgres_database), history(postgres_database, "1"), history(postgres_database, "2")) == before
    assert history(postgres_database, "3") == []


def test_move_names_the_card_and_show_prints_its_periods(postgres_database: str, tmp_path: Path) -> None:
    settings = settings_for(postgres_database)
    import_inventory_file(settings, write_file(tmp_path, {"7": "a"}))
    with pytest.raises(InventoryError, match="move: CARD must be"):
        move_card(settings, "7x", "b", "2024-01-01T00:00:00Z")
    move_card(settings, "7", "b", "2024-01-01T00:00:00+01:00")
    lines = [describe_period(p) for p in reversed(card_periods(settings, "7"))]
    assert lines[0].startswith("2023-12-31T23:00:00+00:00") and lines[0].endswith("b")
    assert "now" in lines[0] and lines[1].startswith("1970-01-01T00:00:00+00:00")
