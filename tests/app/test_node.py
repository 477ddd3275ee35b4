"""Relay's object identification: nodeId unique across types, node(id:) under access control."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.errors import UserInputError
from app.types.node import decode_node_id, encode_node_id
from app.viewer import ADMIN, Viewer
from tests.app.conftest import Runner, loaded_runner

# An organization whose id is all digits, like a card's: the same id names two objects.
INVENTORY = {"89440001": "89440001", "89440002": "f00ff"}
OWNER = Viewer(admin=False, organization_id="89440001")
OTHER = Viewer(admin=False, organization_id="f00ff")

IDS = """{
  simCard(id: "89440001") { id nodeId }
  organization(id: "89440001") { id nodeId }
}"""
NODE = """query ($id: ID!) {
  node(id: $id) {
    __typename nodeId
    ... on SimCard { id organization { id } }
    ... on Organization { id simCards { totalCount } }
  }
}"""


@pytest.fixture(scope="module")
def runner(module_database: str) -> Iterator[Runner]:
    with loaded_runner(module_database, INVENTORY, []) as schema_runner:
        yield schema_runner


def test_node_ids_are_unique_where_ids_collide(runner: Runner) -> None:
    ids = runner.data(IDS)
    assert ids["simCard"]["id"] == ids["organization"]["id"] == "89440001"
    assert ids["simCard"]["nodeId"] != ids["organization"]["nodeId"]
    card = runner.data(NODE, {"id": ids["simCard"]["nodeId"]})["node"]
    assert card == {"__typename": "SimCard", "nodeId": ids["simCard"]["nodeId"], "id": "89440001",
                    "organization": {"id": "89440001"}}
    organization = runner.data(NODE, {"id": ids["organization"]["nodeId"]})["node"]
    assert organization == {"__typename": "Organization", "nodeId": ids["organization"]["nodeId"],
                            "id": "89440001", "simCards": {"totalCount": 1}}


def test_node_is_scoped_exactly_as_the_typed_fields(runner: Runner) -> None:
    ids = runner.data(IDS)
    for node_id in (ids["simCard"]["nodeId"], ids["organization"]["nodeId"]):
        assert runner.data(NODE, {"id": node_id}, OWNER)["node"]["nodeId"] == node_id
        # Another organization's key: null, as for a node that does not exist.
        assert runner.data(NODE, {"id": node_id}, OTHER) == {"node": None}
    missing = [encode_node_id("SimCard", "89449999"), encode_node_id("Organization", "nobody")]
    for node_id in missing:
        assert runner.data(NODE, {"id": node_id}, ADMIN) == {"node": None}


@pytest.mark.parametrize("node_id", [
    "", "not base64!", "A" * 401, encode_node_id("Usage", "1"), encode_node_id("SimCard", ""),
    "U2ltQ2FyZA", encode_node_id("SimCard", "8944\x00"), "__--__",
])
def test_a_node_id_this_api_did_not_make_is_the_clients_error(runner: Runner, node_id: str) -> None:
    result = runner.execute(NODE, {"id": node_id})
    assert result.errors is not None and result.errors[0].extensions["code"] == "BAD_USER_INPUT"
    assert result.data == {"node": None}


@given(st.sampled_from(["SimCard", "Organization"]), st.text(min_size=1, max_size=200))
def test_node_ids_round_trip(type_name: str, key: str) -> None:
    assert decode_node_id(encode_node_id(type_name, key)) == (type_name, key)
    with pytest.raises(UserInputError):
        decode_node_id(encode_node_id(type_name, key) + "!")
