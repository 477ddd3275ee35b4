"""SIM card and organization lists keyset-paged by id; many cards' usage in a constant number of
statements; exact 64-bit totals."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from tests.app.conftest import Runner, statements_of, loaded_runner
from tests.app.usage_data import load
from tests.conftest import settings_for

INVENTORY = {f"{n:04}": f"org{n % 3}" for n in range(1, 61)}
START = datetime(2022, 2, 10, tzinfo=UTC)
# Cards seen in usage only (not in the inventory) sort among the others.
EVENTS = [(START + timedelta(hours=n % 48), f"{n:04}", 10 * n) for n in range(1, 80)]


@pytest.fixture(scope="module")
def runner(module_database: str) -> Iterator[Runner]:
    with loaded_runner(module_database, INVENTORY, EVENTS) as schema_runner:
        yield schema_runner


def walk(runner: Runner, field: str, size: int, arguments: str = "") -> tuple[list[str], set[int]]:
    ids: list[str] = []
    counts: set[int] = set()
    after = None
    while True:
        page_arguments = f'first: {size}{arguments}' + (f', after: "{after}"' if after else "")
        query = (f"{{ {field}({page_arguments}) {{ totalCount "
                 "pageInfo { hasNextPage hasPreviousPage endCursor } edges { cursor node { id } } } }")
        page = runner.data(query)[field]
        assert page["pageInfo"]["hasPreviousPage"] is False
        ids += [edge["node"]["id"] for edge in page["edges"]]
        counts.add(page["totalCount"])
        if not page["pageInfo"]["hasNextPage"]:
            return ids, counts
        assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]
        after = page["pageInfo"]["endCursor"]


@pytest.mark.parametrize("size", [1, 7, 79, 1000])
def test_all_cards_page_by_id(runner: Runner, size: int) -> None:
    ids, counts = walk(runner, "simCards", size)
    assert ids == [f"{n:04}" for n in range(1, 80)] and counts == {79}


@pytest.mark.parametrize("size", [1, 4, 100])
def test_an_organizations_cards_page_by_id(runner: Runner, size: int) -> None:
    ids, counts = walk(runner, "simCards", size, ', organizationId: "org1"')
    assert ids == [f"{n:04}" for n in range(1, 61) if n % 3 == 1] and counts == {20}


def test_organizations_page_by_id(runner: Runner) -> None:
    assert walk(runner, "organizations", 1) == (["org0", "org1", "org2"], {3})
    assert runner.data('{ organization(id: "org3") { id } }') == {"organization": None}


def test_many_cards_with_usage_cost_a_constant_number_of_statements(
    runner: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    usage = ('usage(from: "2022-02-10", to: "2022-02-12", granularity: HOURLY%s) { totalCount '
             'totalBytesUsed pageInfo { hasNextPage hasPreviousPage } edges { node { bytesUsed } } }')
    query = "{ organizations(first: 3) { edges { node { id simCards(first: %d) { totalCount edges { node { id " \
            "dense: %s sparse: %s organization { usage(from: \"2022-02-10\", to: \"2022-02-11\", " \
            "granularity: DAILY) { totalBytesUsed } } } } } } } } }"
    runs = statements_of(runner, monkeypatch, [
        query % (cards, usage % "", usage % ", skipEmpty: true") for cards in (1, 20)
    ])
    for (data, _), cards in zip(runs, (1, 20), strict=True):
        total = sum(len(o["node"]["simCards"]["edges"]) for o in data["organizations"]["edges"])
        assert total == 3 * cards
    counts = [len(statements) for _, statements in runs]
    # organizations, cards, card counts, dense pages, sparse pages, counts, totals (cards and
    # organizations): the same whatever the number of cards.
    assert counts[0] == counts[1] <= 10


def test_totals_beyond_31_and_53_bits_are_exact(postgres_database: str) -> None:
    big = 2**52 + 1
    events = [(START, "1001", 10**9 + 1)] * 3 + [(START + timedelta(hours=25), "1002", big)] * 2
    load(postgres_database, {"1001": "alpha", "1002": "alpha"}, events)
    schema_runner = Runner(settings_for(postgres_database))
    try:
        data = schema_runner.data("""{
          a: simCard(id: "1001") { usage(from: "2022-02-10", to: "2022-02-11", granularity: DAILY) {
            totalBytesUsed edges { node { bytesUsed } } } }
          o: organization(id: "alpha") { usage(from: "2022-02-10T00:00Z", to: "2022-02-11T02:00Z",
            granularity: HOURLY, skipEmpty: true) { totalBytesUsed edges { node { bytesUsed } } } }
        }""")
    finally:
        schema_runner.close()
    assert data["a"]["usage"] == {"totalBytesUsed": "3000000003",
                                  "edges": [{"node": {"bytesUsed": "3000000003"}}]}
    assert 3000000003 > 2**31
    expected = 3000000003 + 2 * big
    assert expected > 2**53 and float(expected) != expected  # a double would round it
    assert data["o"]["usage"]["totalBytesUsed"] == str(expected)
    assert [edge["node"]["bytesUsed"] for edge in data["o"]["usage"]["edges"]] == [
        "3000000003", str(2 * big)
    ]


def test_pages_stay_put_while_data_arrives(postgres_database: str) -> None:
    hour = timedelta(hours=1)
    every_third_hour = [(START + n * 3 * hour, card, 1) for n in range(8) for card in ("1001", "1002")]
    load(postgres_database, {"1001": "alpha", "1002": "alpha"}, every_third_hour)
    schema_runner = Runner(settings_for(postgres_database))
    query = """query Page($card: ID!, $after: String, $skip: Boolean!) { simCard(id: $card) {
      usage(from: "2022-02-10", to: "2022-02-11", granularity: HOURLY, skipEmpty: $skip, first: 3,
            after: $after) { edges { cursor node { start } } } } }"""

    def starts(edges: list[dict]) -> list[str]:
        return [edge["node"]["start"][11:16] for edge in edges]

    try:
        dense = schema_runner.data(query, {"card": "1001", "skip": False})["simCard"]["usage"]["edges"]
        sparse = schema_runner.data(query, {"card": "1002", "skip": True})["simCard"]["usage"]["edges"]
        assert starts(dense) == ["00:00", "01:00", "02:00"]
        assert starts(sparse) == ["00:00", "03:00", "06:00"]
        # New usage before the cursors, inside the first pages, and in empty hours after them.
        arrivals = [(START + n * hour, card, 5) for n in (1, 4, 5, 7) for card in ("1001", "1002")]
        load(postgres_database, {}, arrivals)
        dense = schema_runner.data(query, {"card": "1001", "skip": False, "after": dense[-1]["cursor"]})
        sparse = schema_runner.data(query, {"card": "1002", "skip": True, "after": sparse[-1]["cursor"]})
    finally:
        schema_runner.close()
    assert starts(dense["simCard"]["usage"]["edges"]) == ["03:00", "04:00", "05:00"]
    assert starts(sparse["simCard"]["usage"]["edges"]) == ["07:00", "09:00", "12:00"]
