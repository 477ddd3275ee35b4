"""One statement for a card's or an organization's usage page: the look-up and the page
together, with the same answers (and the same errors) as two statements."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from app import look_ahead
from app.queries import subject_pages
from app.queries.usage import page_statement
from app.viewer import ADMIN, Viewer
from tests.app.conftest import Runner, recorded_statements
from tests.app.usage_data import load
from tests.conftest import settings_for

START = datetime(2024, 3, 30, tzinfo=UTC)
# Card 0002 moves from org-a to org-b on START + 1 day: two owners' usage in one series.
INVENTORY = {"0001": "org-a", "0003": "org-b"}
OWNERSHIP = {"0002": [(datetime(1970, 1, 1, tzinfo=UTC), "org-a"),
                      (START + timedelta(days=1), "org-b")]}
EVENTS = [(START + timedelta(hours=n * 5), f"{n % 3 + 1:04}", 1000 + n) for n in range(40)]
ORG_A = Viewer(admin=False, organization_id="org-a")
ORG_B = Viewer(admin=False, organization_id="org-b")

ORGANIZATION = """query ($id: ID!, $from: DateTime!, $to: DateTime!, $g: Granularity!, $zone: String) {
  organization(id: $id) { id usage(from: $from, to: $to, granularity: $g, timeZone: $zone) {
    totalCount edges { cursor node { start bytesUsed eventCount } } } } }"""
CARD = ORGANIZATION.replace("organization(id: $id) { id", "simCard(id: $id) { id")
LITERAL = """{ simCard(id: "0002") { usage(from: "2024-03-30T00:00:00Z", to: "2024-04-02T00:00:00Z",
  granularity: DAILY, first: 2) { edges { node { start bytesUsed } } pageInfo { hasNextPage } } } }"""


@pytest.fixture(scope="module")
def runner(module_database: str) -> Iterator[Runner]:
    load(module_database, INVENTORY, EVENTS, OWNERSHIP)
    schema_runner = Runner(settings_for(module_database))
    yield schema_runner
    schema_runner.close()


def variables(identifier: str, granularity: str = "HOURLY", zone: str | None = None,
              days: int = 3) -> dict:
    # In a zone, local midnights: date-times without offset, read in the zone.
    start = START if zone is None else START.replace(tzinfo=None)
    return {"id": identifier, "from": start.isoformat(),
            "to": (start + timedelta(days=days)).isoformat(), "g": granularity, "zone": zone}


def run_both(runner: Runner, monkeypatch: pytest.MonkeyPatch, query: str, values: dict | None,
             viewer: Viewer) -> tuple[object, int, object, int]:
    """(result, statements) with the look-ahead, then without it."""
    counted = recorded_statements(monkeypatch)
    ahead = runner.execute(query, values, viewer)
    ahead_count = len(counted)
    counted.clear()
    with monkeypatch.context() as patch:
        patch.setattr(look_ahead, "usage_page_key", lambda *arguments: None)
        behind = runner.execute(query, values, viewer)
    return ahead, ahead_count, behind, len(counted)


def shape(result: object) -> tuple:
    errors = [(error.message, error.path) for error in result.errors or []]
    return result.data, errors


@pytest.mark.parametrize(("query", "values", "viewer"), [
    (ORGANIZATION, variables("org-a"), ADMIN),
    (ORGANIZATION, variables("org-b", "DAILY"), ORG_B),
    (ORGANIZATION, variables("org-a", "DAILY", "Europe/Lisbon"), ADMIN),  # local days
    (ORGANIZATION, {**variables("org-a", "MONTHLY"), "from": "2024-03-01", "to": "2024-05-01"},
     ADMIN),
    (CARD, variables("0002"), ADMIN),
    (CARD, variables("0002", "DAILY"), ORG_A),  # a former owner: its part only
    (CARD, variables("0002", "DAILY", "America/Sao_Paulo"), ORG_B),
    (LITERAL, None, ADMIN),
])
@pytest.mark.parametrize("read_nodes", [True, False])  # graphql-core's nodes, or strawberry's
def test_one_statement_and_the_same_answer(runner: Runner, monkeypatch: pytest.MonkeyPatch,
                                           query: str, values: dict | None, viewer: Viewer,
                                           read_nodes: bool) -> None:
    monkeypatch.setattr(look_ahead, "read_nodes", read_nodes)
    ahead, ahead_count, behind, behind_count = run_both(runner, monkeypatch, query, values, viewer)
    assert shape(ahead) == shape(behind) and ahead.errors is None
    assert ahead_count == behind_count - 1


@pytest.mark.parametrize(("query", "values", "viewer"), [
    (ORGANIZATION, variables("org-z"), ADMIN),  # no such organization
    (ORGANIZATION, variables("org-a"), ORG_B),  # another organization's: not even looked up
    (CARD, variables("9999"), ADMIN),  # no such card
    (CARD, variables("0001"), ORG_B),  # never org-b's
    (CARD, {**variables("0001"), "to": START.isoformat()}, ADMIN),  # from = to: the error
    (CARD, {**variables("0001"), "zone": "Asia/Kolkata"}, ADMIN),  # refused zone
    (ORGANIZATION, {**variables("org-a", "DAILY"), "from": "2024-03-30T01:00:00Z"}, ADMIN),
])
def test_nulls_and_errors_are_those_of_two_statements(
    runner: Runner, monkeypatch: pytest.MonkeyPatch, query: str, values: dict, viewer: Viewer,
) -> None:
    ahead, ahead_count, behind, behind_count = run_both(runner, monkeypatch, query, values, viewer)
    assert shape(ahead) == shape(behind)
    assert ahead_count <= behind_count


def test_the_page_is_read_once_in_one_statement(runner: Runner,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    query = ORGANIZATION.replace("totalCount ", "")
    ahead, ahead_count, behind, behind_count = run_both(
        runner, monkeypatch, query, variables("org-a"), ADMIN)
    assert (ahead_count, behind_count) == (1, 2)
    edges = ahead.data["organization"]["usage"]["edges"]
    assert sum(int(edge["node"]["bytesUsed"]) for edge in edges) == sum(
        size for time, card, size in EVENTS if time < START + timedelta(days=3)
        and card in ("0001", "0002") and (card == "0001" or time < START + timedelta(days=1)))


def test_a_skip_empty_page_keeps_two_statements(runner: Runner,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    query = ORGANIZATION.replace("timeZone: $zone)", "timeZone: $zone, skipEmpty: true)")
    ahead, ahead_count, behind, behind_count = run_both(
        runner, monkeypatch, query, variables("org-a"), ADMIN)
    assert shape(ahead) == shape(behind) and ahead_count == behind_count


def test_the_seam_is_checked() -> None:
    assert look_ahead.check_seam() and look_ahead.read_nodes


@pytest.mark.parametrize("series", [("sim_card", "HOURLY", "UTC"), ("sim_card", "DAILY", "UTC"),
                                    ("organization", "DAILY", "Europe/Lisbon"),
                                    ("organization", "MONTHLY", "UTC")])
def test_one_key_reads_what_an_array_of_keys_reads(runner: Runner, series: tuple) -> None:
    # One key is written ARRAY[key] (a generic plan); several are an array parameter.
    key = "0002" if series[0] == "sim_card" else "org-a"
    lower = int(START.timestamp()) - 86400 * 30
    upper = int(START.timestamp()) + 86400 * 40

    def fetch(keys: list[str]) -> dict:
        return runner.loop.run_until_complete(subject_pages.fetch_subjects_with_pages(
            runner.database, series, None, keys, lower, upper))

    alone, together = fetch([key]), fetch([key, "nobody"])
    # A dense page's buckets are placed on the grid by their start: their order is free.
    assert alone[key][0] == together[key][0] and alone[key][1]  # found, with buckets
    assert sorted(alone[key][1], key=repr) == sorted(together[key][1], key=repr)
    page, _ = page_statement(series, None, [key], lower, upper)
    single = subject_pages.existing_with_page(series[0], page, "%(keys)s" in page, True)
    assert "ANY(%s)" not in single and "ANY(%(keys)s)" not in single
