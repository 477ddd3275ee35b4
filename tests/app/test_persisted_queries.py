"""Automatic persisted queries as Apollo's createPersistedQueryLink speaks them, POST and GET."""

from __future__ import annotations

import hashlib
import json

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.persisted_queries import PersistedQueries
from tests.app.conftest import error_codes
from tests.conftest import settings_for

QUERY = "query Count { organizations { totalCount } }"
HASH = hashlib.sha256(QUERY.encode()).hexdigest()
PERSISTED = {"persistedQuery": {"version": 1, "sha256Hash": HASH}}


def test_hash_only_then_the_query_then_hash_only_again(client: TestClient) -> None:
    plain = client.post("/graphql", json={"query": QUERY}).json()
    first = client.post("/graphql", json={"extensions": PERSISTED}).json()
    assert first["errors"][0]["message"] == "PersistedQueryNotFound"
    assert error_codes(first) == ["PERSISTED_QUERY_NOT_FOUND"]
    retried = client.post("/graphql", json={"query": QUERY, "extensions": PERSISTED}).json()
    assert retried == plain
    again = client.post("/graphql", json={"extensions": PERSISTED, "operationName": "Count"})
    assert again.status_code == 200 and again.json() == plain
    over_get = client.get("/graphql", params={"extensions": json.dumps(PERSISTED)})
    assert over_get.json() == plain


@pytest.mark.parametrize(("extensions", "code"), [
    ({"persistedQuery": {"version": 2, "sha256Hash": HASH}}, "PERSISTED_QUERY_NOT_SUPPORTED"),
    ({"persistedQuery": {"version": 1, "sha256Hash": "xyz"}}, "BAD_USER_INPUT"),
    ({"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}}, "BAD_USER_INPUT"),
])
def test_bad_persisted_queries_are_refused(client: TestClient, extensions: dict, code: str) -> None:
    body = client.post("/graphql", json={"query": QUERY, "extensions": extensions}).json()
    assert error_codes(body) == [code] and "data" not in body


def test_the_store_is_bounded_in_documents_and_bytes() -> None:
    store = PersistedQueries(max_documents=3, max_bytes=100)
    documents = [f"{{ a{index}: __typename }}" for index in range(10)]
    for document in documents:
        digest = hashlib.sha256(document.encode()).hexdigest()
        assert store.resolve(document, {"persistedQuery": {"version": 1, "sha256Hash": digest}}) == (document, None)
    assert len(store._documents) == 3 and store._bytes <= 100
    oldest = hashlib.sha256(documents[0].encode()).hexdigest()
    assert store.resolve(None, {"persistedQuery": {"version": 1, "sha256Hash": oldest}})[0] is None
    huge = "{ __typename }" + " " * 200
    digest = hashlib.sha256(huge.encode()).hexdigest()
    store.resolve(huge, {"persistedQuery": {"version": 1, "sha256Hash": digest}})
    assert digest not in store._documents and store._bytes <= 100


def test_a_hash_only_get_needs_a_key_like_any_query(api_settings) -> None:
    settings = settings_for(api_settings.database_url, SIMUSAGE_AUTH="on")
    with TestClient(create_app(settings)) as client:
        response = client.get("/graphql", params={"extensions": json.dumps(PERSISTED)})
    assert response.status_code == 401
