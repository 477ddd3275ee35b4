"""Access scoping in the resolvers (issue 6): a key of one organization sees only that one."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from app.queries.catalog import SimCardRow
from app.viewer import ADMIN, NoScopeError, Viewer
from tests.app.conftest import Runner, loaded_runner

INVENTORY = {"1001": "alpha", "1002": "alpha", "2001": "beta"}
START = datetime(2022, 2, 10, tzinfo=UTC)
EVENTS = [(START + timedelta(minutes=n), card, 100) for n, card in enumerate(["1001", "2001", "3001"] * 4)]

ALPHA = Viewer(admin=False, organization_id="alpha")
BETA = Viewer(admin=False, organization_id="beta")
GAMMA = Viewer(admin=False, organization_id="gamma")  # a key of an organization with no cards
NOBODY = Viewer(admin=False, organization_id=None)

USAGE = 'usage(from: "2022-02-10", to: "2022-02-11", granularity: DAILY) { totalBytesUsed }'


@pytest.fixture(scope="module")
def runner(module_database: str) -> Iterator[Runner]:
    with loaded_runner(module_database, INVENTORY, EVENTS) as schema_runner:
        yield schema_runner


def card(runner: Runner, card_id: str, viewer: Viewer) -> dict | None:
    query = f'{{ simCard(id: "{card_id}") {{ id organization {{ id }} {USAGE} }} }}'
    return runner.data(query, viewer=viewer)["simCard"]


def organization(runner: Runner, organization_id: str, viewer: Viewer) -> dict | None:
    query = f'{{ organization(id: "{organization_id}") {{ id simCards {{ totalCount }} {USAGE} }} }}'
    return runner.data(query, viewer=viewer)["organization"]


def listed(runner: Runner, viewer: Viewer, arguments: str = "") -> tuple[list[str], int]:
    query = f"{{ simCards{arguments} {{ totalCount edges {{ node {{ id }} }} }} }}"
    cards = runner.data(query, viewer=viewer)["simCards"]
    return [edge["node"]["id"] for edge in cards["edges"]], cards["totalCount"]


def organizations(runner: Runner, viewer: Viewer, arguments: str = "") -> tuple[list[str], int]:
    query = f"{{ organizations{arguments} {{ totalCount edges {{ cursor node {{ id }} }} }} }}"
    answer = runner.data(query, viewer=viewer)["organizations"]
    return [edge["node"]["id"] for edge in answer["edges"]], answer["totalCount"]


def test_admin_sees_everything(runner: Runner) -> None:
    assert card(runner, "1001", ADMIN)["usage"]["totalBytesUsed"] == "400"
    assert card(runner, "3001", ADMIN) == {
        "id": "3001", "organization": None, "usage": {"totalBytesUsed": "400"}
    }
    assert organization(runner, "beta", ADMIN)["usage"]["totalBytesUsed"] == "400"
    assert listed(runner, ADMIN) == (["1001", "1002", "2001", "3001"], 4)
    assert organizations(runner, ADMIN) == (["alpha", "beta"], 2)


def test_a_key_sees_its_own_organization(runner: Runner) -> None:
    assert card(runner, "1001", ALPHA) == {
        "id": "1001", "organization": {"id": "alpha"}, "usage": {"totalBytesUsed": "400"}
    }
    assert organization(runner, "alpha", ALPHA) == {
        "id": "alpha", "simCards": {"totalCount": 2}, "usage": {"totalBytesUsed": "400"}
    }
    assert listed(runner, ALPHA) == (["1001", "1002"], 2)
    assert listed(runner, ALPHA, '(organizationId: "alpha")') == (["1001", "1002"], 2)
    assert organizations(runner, ALPHA) == (["alpha"], 1)


def test_another_organization_looks_like_nothing(runner: Runner) -> None:
    # Same answers for a card of another organization as for a card that does not exist.
    assert card(runner, "2001", ALPHA) is None
    assert card(runner, "9999", ALPHA) is None
    assert organization(runner, "beta", ALPHA) is None
    assert organization(runner, "nonexistent", ALPHA) is None
    assert listed(runner, ALPHA, '(organizationId: "beta")') == ([], 0)
    assert listed(runner, ALPHA, '(organizationId: "nonexistent")') == ([], 0)


def test_cards_outside_the_inventory_are_admin_only(runner: Runner) -> None:
    assert card(runner, "3001", ALPHA) is None
    assert card(runner, "3001", BETA) is None
    assert "3001" not in listed(runner, ALPHA)[0]


def test_a_key_without_cards_or_without_organization_sees_nothing(runner: Runner) -> None:
    for viewer in (GAMMA, NOBODY):
        assert card(runner, "1001", viewer) is None
        assert organization(runner, "alpha", viewer) is None
        assert listed(runner, viewer) == ([], 0)
        assert organizations(runner, viewer) == ([], 0)
    assert organization(runner, "gamma", GAMMA) is None


def test_a_scoped_organization_list_pages_by_cursor(runner: Runner) -> None:
    query = "{ organizations { edges { cursor } } }"
    cursor = runner.data(query, viewer=BETA)["organizations"]["edges"][0]["cursor"]
    assert organizations(runner, BETA, f'(after: "{cursor}")') == ([], 1)
    admin_cursor = runner.data(query, viewer=ADMIN)["organizations"]["edges"][0]["cursor"]  # alpha
    assert organizations(runner, BETA, f'(after: "{admin_cursor}")') == (["beta"], 1)


def test_a_card_is_visible_to_its_owners_over_time_only() -> None:
    card = SimCardRow("5001", "beta", frozenset({"alpha", "beta"}))
    assert ALPHA.may_see_card(card) and BETA.may_see_card(card) and ADMIN.may_see_card(card)
    assert not GAMMA.may_see_card(card) and not NOBODY.may_see_card(card)
    assert not ALPHA.may_see_card(SimCardRow("3001", None))  # outside the inventory: admin only
    assert (ADMIN.card_scope(), ALPHA.card_scope()) == (None, "alpha")
    with pytest.raises(NoScopeError):
        NOBODY.card_scope()  # None would read every organization's usage
