"""Each contract query through the real app: admin sees all, a key sees only its organization."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import pytest
from fastapi.testclient import TestClient

from app.authentication import generate_key
from app.main import create_app
from tests.app.test_authentication import bearer, create_key, settings_with_auth
from tests.app.usage_data import load
from tests.conftest import settings_for

A, X = "a01b7", "x00g8"
INVENTORY = {"89440001": A, "89440002": A, "89440003": X}
OUTSIDE = "89440015"  # has usage, missing from the inventory
NOWHERE = "99999999"  # neither
# (sim card, time, bytes) on 2022-02-10, hours 00 to 02; the organization is the inventory's.
EVENTS = [
    ("89440001", "2022-02-10T00:10:00+00:00", 100),
    ("89440001", "2022-02-10T01:20:00+00:00", 200),
    ("89440002", "2022-02-10T00:30:00+00:00", 400),
    ("89440003", "2022-02-10T02:00:00+00:00", 1000),
    (OUTSIDE, "2022-02-10T01:00:00+00:00", 5000),
]
CARD_BYTES = {"89440001": "300", "89440002": "400", "89440003": "1000", OUTSIDE: "5000"}
ORGANIZATION_BYTES = {A: "700", X: "1000"}

USAGE = """usage(from: "2022-02-10", to: "2022-02-11", granularity: HOURLY, skipEmpty: true) {
  totalBytesUsed edges { node { start bytesUsed eventCount } } }"""
SIM_CARD = f"query ($id: ID!) {{ simCard(id: $id) {{ id organization {{ id }} {USAGE} }} }}"
ORGANIZATION = f"""query ($id: ID!) {{ organization(id: $id) {{ id {USAGE}
  simCards {{ totalCount edges {{ node {{ id organization {{ id }} {USAGE} }} }} }} }} }}"""
SIM_CARDS = f"""query ($organizationId: ID, $first: Int, $after: String) {{
  simCards(organizationId: $organizationId, first: $first, after: $after) {{
    totalCount pageInfo {{ hasNextPage endCursor }}
    edges {{ node {{ id organization {{ id }} {USAGE} }} }} }} }}"""
ORGANIZATIONS = f"""{{ organizations {{ totalCount
  edges {{ node {{ id {USAGE} simCards {{ totalCount edges {{ node {{ id }} }} }} }} }} }} }}"""
CONTRACT_QUERIES = {
    "simCard": (SIM_CARD, {"id": "89440001"}),
    "organization": (ORGANIZATION, {"id": A}),
    "simCards": (SIM_CARDS, {}),
    "organizations": (ORGANIZATIONS, {}),
}


@dataclass
class Api:
    client: TestClient
    keys: dict[str, str]  # "admin", A, X, and "revoked", "malformed", "unknown"

    def post(self, who: str | None, query: str, variables: dict | None = None):
        headers = bearer(self.keys[who]) if who else {}
        return self.client.post("/graphql", json={"query": query, "variables": variables or {}},
                                headers=headers)

    def data(self, who: str | None, query: str, variables: dict | None = None) -> dict:
        response = self.post(who, query, variables)
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body
        return body["data"]


def load_data(url: str) -> None:
    load(url, INVENTORY, [(datetime.fromisoformat(time), card, size) for card, time, size in EVENTS])


@pytest.fixture(scope="module")
def api(module_database: str) -> Iterator[Api]:
    """One app over one database for the module: these tests only read."""
    load_data(module_database)
    keys = {"admin": create_key(module_database, None), A: create_key(module_database, A),
            X: create_key(module_database, X),
            "revoked": create_key(module_database, A, revoked=True),
            "malformed": "simusage_not_a_key", "unknown": generate_key()[1]}
    with TestClient(create_app(settings_with_auth(module_database))) as client:
        yield Api(client, keys)


def ids(connection: dict) -> list[str]:
    return [edge["node"]["id"] for edge in connection["edges"]]


def card(sim_card_id: str) -> dict:
    """The full simCard answer for a visible card."""
    owner = INVENTORY.get(sim_card_id)
    return {"id": sim_card_id, "organization": {"id": owner} if owner else None,
            "usage": {"totalBytesUsed": CARD_BYTES[sim_card_id], "edges": [
                {"node": {"start": time[:14] + "00:00Z", "bytesUsed": str(bytes_used),
                          "eventCount": "1"}}
                for card_id, time, bytes_used in EVENTS if card_id == sim_card_id]}}


@pytest.mark.parametrize("name", CONTRACT_QUERIES)
@pytest.mark.parametrize("who", [None, "revoked", "malformed", "unknown"])
def test_every_query_without_a_valid_key_is_401_and_no_data(api: Api, name: str, who) -> None:
    query, variables = CONTRACT_QUERIES[name]
    response = api.post(who, query, variables)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "data" not in response.json()


def test_sim_card_admin_sees_every_card_and_its_usage(api: Api) -> None:
    for sim_card_id in [*INVENTORY, OUTSIDE]:
        assert api.data("admin", SIM_CARD, {"id": sim_card_id})["simCard"] == card(sim_card_id)
    assert api.data("admin", SIM_CARD, {"id": NOWHERE}) == {"simCard": None}


@pytest.mark.parametrize("who", [A, X])
def test_sim_card_a_key_sees_its_cards_and_nothing_else(api: Api, who: str) -> None:
    nothing = api.post(who, SIM_CARD, {"id": NOWHERE})
    assert nothing.json() == {"data": {"simCard": None}}
    for sim_card_id in [*INVENTORY, OUTSIDE]:
        response = api.post(who, SIM_CARD, {"id": sim_card_id})
        if INVENTORY.get(sim_card_id) == who:
            assert response.json() == {"data": {"simCard": card(sim_card_id)}}
        else:  # another organization's card, or one outside the inventory: as if absent
            assert (response.status_code, response.content) == (200, nothing.content), sim_card_id


def test_organization_admin_sees_every_organization(api: Api) -> None:
    for organization_id in (A, X):
        answer = api.data("admin", ORGANIZATION, {"id": organization_id})["organization"]
        assert answer["usage"]["totalBytesUsed"] == ORGANIZATION_BYTES[organization_id]
        cards = [c for c, owner in INVENTORY.items() if owner == organization_id]
        assert answer["simCards"]["totalCount"] == len(cards)
        assert answer["simCards"]["edges"] == [{"node": card(c)} for c in cards]
    assert api.data("admin", ORGANIZATION, {"id": "zzzzz"}) == {"organization": None}


@pytest.mark.parametrize("who", [A, X])
def test_organization_a_key_sees_only_its_own(api: Api, who: str) -> None:
    own = api.data(who, ORGANIZATION, {"id": who})
    assert own == api.data("admin", ORGANIZATION, {"id": who})
    nothing = api.post(who, ORGANIZATION, {"id": "zzzzz"})
    assert nothing.json() == {"data": {"organization": None}}
    other = X if who == A else A
    assert api.post(who, ORGANIZATION, {"id": other}).content == nothing.content


def test_sim_cards_admin_lists_every_card_including_outside_the_inventory(api: Api) -> None:
    answer = api.data("admin", SIM_CARDS)["simCards"]
    assert ids(answer) == sorted([*INVENTORY, OUTSIDE])
    assert answer["totalCount"] == 4
    assert [edge["node"] for edge in answer["edges"]] == [card(c) for c in ids(answer)]
    by_organization = api.data("admin", SIM_CARDS, {"organizationId": X})["simCards"]
    assert ids(by_organization) == ["89440003"]


@pytest.mark.parametrize("who", [A, X])
def test_sim_cards_a_key_lists_only_its_cards(api: Api, who: str) -> None:
    own = sorted(c for c, owner in INVENTORY.items() if owner == who)
    answer = api.data(who, SIM_CARDS)["simCards"]
    assert (ids(answer), answer["totalCount"]) == (own, len(own))
    assert [edge["node"] for edge in answer["edges"]] == [card(c) for c in own]
    assert ids(api.data(who, SIM_CARDS, {"organizationId": who})["simCards"]) == own
    other = X if who == A else A
    unknown = api.post(who, SIM_CARDS, {"organizationId": "zzzzz"})
    assert unknown.json()["data"]["simCards"]["totalCount"] == 0
    assert api.post(who, SIM_CARDS, {"organizationId": other}).content == unknown.content


def test_sim_cards_pages_of_a_key_stay_inside_its_organization(api: Api) -> None:
    seen, after = [], None
    while True:
        page = api.data(A, SIM_CARDS, {"first": 1, "after": after})["simCards"]
        seen += ids(page)
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == ["89440001", "89440002"]


def test_organizations_admin_lists_all_a_key_lists_its_own(api: Api) -> None:
    everything = api.data("admin", ORGANIZATIONS)["organizations"]
    assert (ids(everything), everything["totalCount"]) == ([A, X], 2)
    for node in (edge["node"] for edge in everything["edges"]):
        assert node["usage"]["totalBytesUsed"] == ORGANIZATION_BYTES[node["id"]]
    for who in (A, X):
        answer = api.data(who, ORGANIZATIONS)["organizations"]
        assert (ids(answer), answer["totalCount"]) == ([who], 1)
        assert answer["edges"] == [e for e in everything["edges"] if e["node"]["id"] == who]


def test_access_control_off_serves_everything_without_a_key(postgres_database: str) -> None:
    load_data(postgres_database)
    with TestClient(create_app(settings_for(postgres_database))) as client:
        response = client.post("/graphql", json={"query": SIM_CARD, "variables": {"id": OUTSIDE}})
    assert response.json() == {"data": {"simCard": card(OUTSIDE)}}


def test_graphiql_page_needs_no_key_and_lets_the_user_enter_headers(api: Api) -> None:
    page = api.client.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200 and '<script src="/static/graphiql/start.js">' in page.text
    assert "isHeadersEditorEnabled: true" in api.client.get("/static/graphiql/start.js").text


def test_a_refusal_carries_cors_headers_a_browser_frontend_can_read(postgres_database) -> None:
    origin = "https://dashboard.example"
    settings = settings_with_auth(postgres_database).model_copy(update={"cors_origins": origin})
    with TestClient(create_app(settings)) as client:
        response = client.post("/graphql", json={"query": ORGANIZATIONS}, headers={"Origin": origin})
    assert response.status_code == 401
    assert response.headers["access-control-allow-origin"] == origin
