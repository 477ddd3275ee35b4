"""GraphQL over HTTP: media types, status codes and body shapes, under both media types."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.graphql_over_http import GRAPHQL_RESPONSE, response_media_type

CASES = {
    "success": ("{ __typename }", 200, 200, True),
    "validation error": ("{ nope }", 200, 400, False),
    "syntax error": ("{ simCard(id: ", 200, 400, False),
    "bad argument": ("{ simCards(first: -1) { totalCount } }", 200, 200, True),
}


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("accept", ["application/json", GRAPHQL_RESPONSE])
def test_status_media_type_and_body(client: TestClient, case: str, accept: str) -> None:
    query, json_status, graphql_status, has_data = CASES[case]
    response = client.post("/graphql", json={"query": query}, headers={"Accept": accept})
    assert response.status_code == (graphql_status if accept == GRAPHQL_RESPONSE else json_status)
    assert response.headers["content-type"].split(";")[0] == accept
    body = response.json()
    assert ("data" in body) is has_data  # a request error executed nothing: no data entry
    assert ("errors" in body) is (case != "success")


def test_a_client_that_asks_nothing_gets_application_json(client: TestClient) -> None:
    response = client.post("/graphql", json={"query": "{ nope }"}, headers={"Accept": "*/*"})
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"


def test_a_malformed_body_is_4xx_under_both(client: TestClient) -> None:
    for accept in ("application/json", GRAPHQL_RESPONSE):
        response = client.post("/graphql", content=b"{nope", headers={
            "Accept": accept, "Content-Type": "application/json"})
        assert 400 <= response.status_code < 500


@pytest.mark.parametrize(("accept", "expected"), [
    (None, "application/json"),
    ("application/graphql-response+json, application/json;q=0.9", GRAPHQL_RESPONSE),
    ("application/json;q=0.9, application/graphql-response+json", GRAPHQL_RESPONSE),
    ("application/graphql-response+json;q=0", "application/json"),
    ("text/html", "application/json"),
])
def test_negotiation(accept: str | None, expected: str) -> None:
    assert response_media_type(accept) == expected


@pytest.mark.parametrize(("content", "reason"), [
    (b"{nope", "JSON"),
    (b'[{"query": "{ __typename }"}, {"query": "{ __typename }"}]', "Batching"),
    (b'{"variables": {}}', "No GraphQL query"),
])
def test_refusals_before_graphql_are_graphql_error_bodies(client: TestClient, content: bytes,
                                                          reason: str) -> None:
    response = client.post("/graphql", content=content, headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and response.headers["content-type"] == "application/json"
    error = response.json()["errors"][0]
    assert reason in error["message"] and error["extensions"]["code"] == "BAD_REQUEST"
