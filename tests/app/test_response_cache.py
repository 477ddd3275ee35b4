"""The response cache: an answer from memory is always the answer the database gives now."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.main import create_app
from tests.app.conftest import Runner
from tests.app.test_live_usage import INVENTORY, Writer
from tests.app.usage_data import load
from tests.conftest import settings_for
from tests.ingest.helpers import value

DAY = datetime(2024, 3, 30, tzinfo=UTC)
QUERIES = [
    '{ organization(id: "org-a") { usage(from: "2024-03-30T00:00:00Z", to: "2024-04-01T00:00:00Z",'
    ' granularity: HOURLY, skipEmpty: true) { totalBytesUsed totalEventCount edges { node {'
    ' start bytesUsed eventCount } } } } }',
    '{ organization(id: "org-a") { usage(from: "2024-03-29T00:00:00Z", to: "2024-04-02T00:00:00+01:00",'
    ' granularity: DAILY, timeZone: "Europe/Lisbon") { edges { node { start bytesUsed } } } } }',
    '{ organization(id: "org-b") { usage(from: "2024-03-30T00:00:00Z", to: "2024-03-30T12:00:00Z",'
    ' granularity: HOURLY) { totalBytesUsed pageInfo { hasNextPage } edges { node { bytesUsed } } } } }',
    '{ simCard(id: "89440002") { usage(from: "2024-03-30T12:00:00Z", to: "2024-03-31T00:00:00Z",'
    ' granularity: HOURLY, skipEmpty: true) { totalCount edges { node { start bytesUsed } } } } }',
    '{ simCards(first: 50) { totalCount edges { node { id } } } }',
    '{ simCard(id: "89440009") { id } }',
    '{ organization(id: "org-a") { topSimCards(from: "2024-03-30T00:00:00Z",'
    ' to: "2024-04-01T00:00:00Z") { totalCount edges { node { simCard { id } bytesUsed } } } } }',
]
CARDS = [*INVENTORY, "89440009"]  # the last in no inventory: it appears by its usage alone

events = st.lists(st.tuples(st.sampled_from(CARDS), st.integers(0, 47), st.integers(1, 10**9)),
                  min_size=1, max_size=20)
steps = st.lists(st.one_of(st.tuples(st.just("query"), st.integers(0, len(QUERIES) - 1)),
                           st.tuples(st.just("batch"), events)), min_size=1, max_size=25)


@pytest.fixture
def cached_app(postgres_database: str) -> Iterator[tuple[FastAPI, TestClient]]:
    load(postgres_database, INVENTORY)
    app = create_app(settings_for(postgres_database, SIMUSAGE_STORAGE_MODE="postgres"))
    with TestClient(app) as client:
        feed = app.state.change_feed
        for _ in range(200):
            if feed.live:
                break
            time.sleep(0.02)
        assert feed.live
        yield app, client


def _delivered(app: FastAPI, before: int) -> None:
    """Wait until the feed has delivered at least one more message than before."""
    for _ in range(500):
        if app.state.change_feed.messages > before:
            return
        time.sleep(0.01)
    raise AssertionError("the change feed delivered nothing within 5 s")


def test_every_answer_cached_or_not_is_the_answer_now(
    cached_app: tuple[FastAPI, TestClient], postgres_database: str
) -> None:
    app, client = cached_app
    writer = Writer(postgres_database)
    reference = Runner(settings_for(postgres_database))
    hits = []

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(steps)
    def interleaved(script: list) -> None:
        for kind, argument in script:
            if kind == "batch":
                before = app.state.change_feed.messages
                writer.write([value(card, size, DAY + timedelta(hours=hour))
                              for card, hour, size in argument])
                _delivered(app, before)
                continue
            response = client.post("/graphql", json={"query": QUERIES[argument]})
            hits.append(response.headers["x-simusage-cache"] == "hit")
            assert response.headers["cache-control"] == "no-store"
            assert response.json() == {"data": reference.data(QUERIES[argument])}

    try:
        interleaved()
    finally:
        reference.close()
    assert any(hits) and not all(hits)  # the test saw both


def test_nothing_is_cached_without_a_live_feed(
    cached_app: tuple[FastAPI, TestClient], postgres_database: str
) -> None:
    app, client = cached_app
    query = {"query": QUERIES[0]}
    assert client.post("/graphql", json=query).headers["x-simusage-cache"] == "miss"
    assert client.post("/graphql", json=query).headers["x-simusage-cache"] == "hit"
    with psycopg.connect(postgres_database, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE application_name = 'simusage-api-change-feed'")
    for _ in range(200):  # the feed notices the loss on its next read
        if not app.state.change_feed.live:
            break
        time.sleep(0.01)
    assert client.post("/graphql", json=query).headers["x-simusage-cache"] == "miss"


def test_the_caller_scope_is_part_of_the_key(postgres_database: str) -> None:
    from tests.app.test_authentication import bearer, create_key

    load(postgres_database, INVENTORY)
    admin_key, org_b_key = create_key(postgres_database, None), create_key(postgres_database, "org-b")
    app = create_app(settings_for(postgres_database, SIMUSAGE_AUTH="on"))
    with TestClient(app) as client:
        for _ in range(200):
            if app.state.change_feed.live:
                break
            time.sleep(0.02)
        query = {"query": QUERIES[0]}
        for _ in range(2):
            admin = client.post("/graphql", json=query, headers=bearer(admin_key))
            assert admin.json()["data"]["organization"] is not None
        assert admin.headers["x-simusage-cache"] == "hit"
        scoped = client.post("/graphql", json=query, headers=bearer(org_b_key))
        assert scoped.headers["x-simusage-cache"] == "miss"
        assert scoped.json()["data"]["organization"] is None


def test_a_card_first_seen_in_a_batch_evicts_the_answers_that_looked_it_up(
    cached_app: tuple[FastAPI, TestClient], postgres_database: str
) -> None:
    app, client = cached_app
    query = {"query": QUERIES[5]}  # a card in no inventory: known only once it is used
    for expected in ("miss", "hit"):
        response = client.post("/graphql", json=query)
        assert (response.headers["x-simusage-cache"], response.json()) == (
            expected, {"data": {"simCard": None}})
    before = app.state.change_feed.messages
    Writer(postgres_database).write([value("89440009", 1, DAY)])
    _delivered(app, before)
    response = client.post("/graphql", json=query)
    assert (response.headers["x-simusage-cache"], response.json()) == (
        "miss", {"data": {"simCard": {"id": "89440009"}}})
