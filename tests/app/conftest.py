"""Fixtures of the API tests: the app over HTTP, and the schema run directly as any viewer."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings

from app.context import RequestContext
from app.database import Database
from app.main import create_app
from app.schema import Schema, build_schema
from app.viewer import ADMIN, Viewer
from simusage.settings import Settings
from tests.app.usage_data import load
from tests.conftest import settings_for


def graphql(client: TestClient, query: str, variables: dict | None = None, **headers: str) -> dict:
    """POST a GraphQL request; the HTTP status must be 200 whatever the GraphQL errors."""
    response = client.post("/graphql", json={"query": query, "variables": variables or {}},
                           headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def error_codes(body: dict) -> list[str]:
    """The extensions.code of each error of a response."""
    return [error["extensions"]["code"] for error in body.get("errors", [])]


class Runner:
    """Runs the schema in-process with a chosen viewer, over one event loop and one pool."""

    def __init__(self, settings: Settings, pool_size: int | None = None) -> None:
        self.loop = asyncio.new_event_loop()
        self.database = Database(settings, pool_size)
        self.schema: Schema = build_schema(max_cost=settings.api_max_cost)
        self.max_nodes = settings.api_max_nodes
        self.loop.run_until_complete(self.database.pool.open(wait=True))

    def execute(self, query: str, variables: dict | None = None, viewer: Viewer = ADMIN) -> Any:
        """The ExecutionResult of query as viewer."""
        context = RequestContext(viewer, self.database, self.max_nodes)
        return self.loop.run_until_complete(
            self.schema.execute(query, variable_values=variables, context_value=context)
        )

    def data(self, query: str, variables: dict | None = None, viewer: Viewer = ADMIN) -> dict:
        """The data of a query that must not fail."""
        result = self.execute(query, variables, viewer)
        assert result.errors is None, result.errors
        return result.data

    def close(self) -> None:
        """Close the pool and the loop."""
        self.loop.run_until_complete(self.database.close())
        self.loop.close()


def recorded_statements(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The list that every statement sent to the database from now on is appended to (they
    still run)."""
    statements: list[str] = []
    fetch_all = Database.fetch_all

    async def recording(self: Database, query: str, parameters: object) -> list[tuple]:
        statements.append(query)
        return await fetch_all(self, query, parameters)

    monkeypatch.setattr(Database, "fetch_all", recording)
    return statements


def statements_of(
    runner: Runner, monkeypatch: pytest.MonkeyPatch, queries: Iterable[str], viewer: Viewer = ADMIN
) -> list[tuple[dict, list[str]]]:
    """Each query's data and the statements it sent to the database (they still run)."""
    statements = recorded_statements(monkeypatch)
    runs = []
    for query in queries:
        statements.clear()
        runs.append((runner.data(query, viewer=viewer), list(statements)))
    return runs


@pytest.fixture
def api_settings(postgres_database: str) -> Settings:
    """Settings of an API over a fresh postgres-mode database, access control off."""
    return settings_for(postgres_database, SIMUSAGE_STORAGE_MODE="postgres")


@pytest.fixture
def client(api_settings: Settings) -> Iterator[TestClient]:
    """The whole app over HTTP (lifespan included)."""
    with TestClient(create_app(api_settings)) as test_client:
        yield test_client


@pytest.fixture
def runner(api_settings: Settings) -> Iterator[Runner]:
    """The schema run in-process over the test's database."""
    schema_runner = Runner(api_settings)
    yield schema_runner
    schema_runner.close()


@pytest.fixture(scope="module")
def module_database(postgres_database_module: str) -> str:
    """A postgres-mode database shared by one module's tests (hypothesis reuses it)."""
    return postgres_database_module


@contextmanager
def loaded_runner(database: str, inventory: Mapping[str, str], events: Iterable) -> Iterator[Runner]:
    """A Runner over database once the inventory and the events are loaded into it."""
    load(database, inventory, events)
    schema_runner = Runner(settings_for(database))
    try:
        yield schema_runner
    finally:
        schema_runner.close()


def check_on_timescaledb(database: str, strategy: Any, check: Callable[[Runner, Any], None],
                         max_examples: int) -> None:
    """check(runner, example) for hypothesis's examples of strategy, over one connection (PGlite
    serves one at a time), the data already loaded."""
    schema_runner = Runner(settings_for(database), pool_size=1)

    @settings(max_examples=max_examples, deadline=None)
    @given(strategy)
    def run(example: Any) -> None:
        check(schema_runner, example)

    try:
        run()
    finally:
        schema_runner.close()
