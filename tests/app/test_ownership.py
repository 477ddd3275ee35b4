"""SimCard.ownership (issue 19): a card's owners over time, most recent first, keyset-paged."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from app.pagination import SIM_CARD_CURSOR, encode_cursor
from app.viewer import ADMIN, Viewer
from tests.app.conftest import Runner, statements_of, error_codes
from tests.app.usage_data import BEGINNING, load
from tests.conftest import settings_for

# 7001 went from alpha to beta and back; the second move is not on a whole second.
FIRST_MOVE = datetime(2022, 2, 10, 12, 30, tzinfo=UTC)
SECOND_MOVE = datetime(2022, 3, 1, 8, 15, 20, 250000, tzinfo=UTC)
HISTORIES = {"7001": [(BEGINNING, "alpha"), (FIRST_MOVE, "beta"), (SECOND_MOVE, "alpha")]}
INVENTORY = {f"80{n:02}": "alpha" for n in range(1, 13)} | {"9001": "gamma"}

ALPHA = Viewer(admin=False, organization_id="alpha")
BETA = Viewer(admin=False, organization_id="beta")
GAMMA = Viewer(admin=False, organization_id="gamma")

OWNERSHIP = """
query Ownership($card: ID!, $first: Int, $after: String) {
  simCard(id: $card) {
    ownership(first: $first, after: $after) {
      totalCount
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      edges { cursor node { organization { id } from to } }
    }
  }
}
"""
ALPHA_NOW = {"organization": {"id": "alpha"}, "from": "2022-03-01T08:15:20.250000Z", "to": None}
BETA_THEN = {"organization": {"id": "beta"}, "from": "2022-02-10T12:30:00Z",
             "to": "2022-03-01T08:15:20.250000Z"}
ALPHA_FIRST = {"organization": {"id": "alpha"}, "from": "1970-01-01T00:00:00Z", "to": "2022-02-10T12:30:00Z"}


@pytest.fixture(scope="module")
def runner(module_database: str) -> Iterator[Runner]:
    load(module_database, INVENTORY, [(FIRST_MOVE, "7001", 5)], ownership=HISTORIES)
    schema_runner = Runner(settings_for(module_database))
    yield schema_runner
    schema_runner.close()


def ownership(runner: Runner, viewer: Viewer = ADMIN, card: str = "7001", **arguments) -> dict | None:
    card_data = runner.data(OWNERSHIP, {"card": card, **arguments}, viewer=viewer)["simCard"]
    return card_data and card_data["ownership"]


def walk(runner: Runner, viewer: Viewer, size: int) -> tuple[list[dict], set[int]]:
    """Every period, page by page, and the totalCount of each page."""
    nodes, counts, after = [], set(), None
    while True:
        page = ownership(runner, viewer, first=size, after=after)
        assert page["pageInfo"]["hasPreviousPage"] is False
        assert len(page["edges"]) <= size
        nodes += [edge["node"] for edge in page["edges"]]
        counts.add(page["totalCount"])
        if not page["pageInfo"]["hasNextPage"]:
            return nodes, counts
        assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]
        after = page["pageInfo"]["endCursor"]


def test_an_admin_sees_every_owner_most_recent_first(runner: Runner) -> None:
    page = ownership(runner)
    assert [edge["node"] for edge in page["edges"]] == [ALPHA_NOW, BETA_THEN, ALPHA_FIRST]
    assert page["totalCount"] == 3
    assert page["pageInfo"]["hasNextPage"] is False
    assert page["pageInfo"]["startCursor"] == page["edges"][0]["cursor"]


@pytest.mark.parametrize("size", [1, 2, 3])
def test_pages_follow_each_other_by_cursor(runner: Runner, size: int) -> None:
    assert walk(runner, ADMIN, size) == ([ALPHA_NOW, BETA_THEN, ALPHA_FIRST], {3})


def test_a_key_sees_only_its_own_periods(runner: Runner) -> None:
    assert walk(runner, ALPHA, 1) == ([ALPHA_NOW, ALPHA_FIRST], {2})
    assert walk(runner, BETA, 1) == ([BETA_THEN], {1})
    assert ownership(runner, GAMMA) is None  # never an owner: no card at all
    assert walk(runner, ALPHA, 5) == ([ALPHA_NOW, ALPHA_FIRST], {2})


def test_a_card_owned_since_the_beginning_has_one_open_period(runner: Runner) -> None:
    page = ownership(runner, ALPHA, card="8001")
    assert [edge["node"] for edge in page["edges"]] == [
        {"organization": {"id": "alpha"}, "from": "1970-01-01T00:00:00Z", "to": None}
    ]
    assert page["totalCount"] == 1


def test_a_card_outside_the_inventory_has_no_owner(runner: Runner, module_database: str) -> None:
    load(module_database, events=[(FIRST_MOVE, "9999", 1)])
    page = ownership(runner, card="9999")
    assert page == {"totalCount": 0, "edges": [], "pageInfo": {
        "hasNextPage": False, "hasPreviousPage": False, "startCursor": None, "endCursor": None}}


def test_an_empty_page_still_says_what_follows(runner: Runner) -> None:
    page = ownership(runner, first=0)
    assert page["edges"] == [] and page["pageInfo"]["hasNextPage"] is True
    assert page["totalCount"] == 3


@pytest.mark.parametrize("arguments", [
    {"first": 1001},
    {"first": -1},
    {"after": encode_cursor(SIM_CARD_CURSOR, "7001")},  # a cursor of another list
    {"after": encode_cursor("ownership", "999999999999999999")},  # beyond the years of a datetime
    {"after": "not a cursor"},
])
def test_bad_arguments_are_the_clients_error(runner: Runner, arguments: dict) -> None:
    result = runner.execute(OWNERSHIP, {"card": "7001", **arguments})
    assert error_codes({"errors": [error.formatted for error in result.errors]}) == ["BAD_USER_INPUT"]


def test_periods_are_charged_as_nodes(runner: Runner) -> None:
    limit, runner.max_nodes = runner.max_nodes, 2
    try:
        result = runner.execute(OWNERSHIP, {"card": "7001"})
    finally:
        runner.max_nodes = limit
    assert "TOO_MANY_NODES" in [error.extensions["code"] for error in result.errors]
    assert runner.data(OWNERSHIP, {"card": "7001", "first": 2})["simCard"]["ownership"]["totalCount"] == 3


def test_many_cards_periods_cost_a_constant_number_of_statements(
    runner: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    query = ("{ simCards(first: %d) { edges { node { id ownership(first: 1) { totalCount "
             "pageInfo { hasNextPage } edges { node { from organization { id } } } } } } } }")
    runs = statements_of(runner, monkeypatch, [query % 1, query % 10], viewer=ALPHA)
    assert [len(data["simCards"]["edges"]) for data, _ in runs] == [1, 10]
    # The cards, their periods, their counts of periods: whatever the number of cards.
    assert [len(statements) for _, statements in runs] == [3, 3]
