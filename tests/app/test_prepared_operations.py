"""Prepared operations answer exactly as strawberry's pipeline does: status, media type, body."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app import compiled_operations, direct_resolvers
from app.graphql_over_http import GRAPHQL_RESPONSE
from app.main import create_app
from app.metrics import COMPILED_FALLBACKS
from app.prepared_operations import PreparedOperations
from app.schema import build_schema
from tests.app.conftest import error_codes, recorded_statements
from tests.app.usage_data import load
from tests.conftest import settings_for

INVENTORY = {"89440001": "org-a", "89440002": "org-a", "89440003": "org-b"}
START = datetime(2024, 3, 30, tzinfo=UTC)
EVENTS = [(START + timedelta(minutes=37 * n), f"8944000{1 + n % 4}", 1000 + n) for n in range(120)]

USAGE = ("query Usage($id: ID!, $from: DateTime!, $to: DateTime!, $first: Int, $g: Granularity!) {"
         " simCard(id: $id) { id usage(from: $from, to: $to, granularity: $g, first: $first) {"
         " totalBytesUsed pageInfo { hasNextPage endCursor } edges { cursor node { start"
         " bytesUsed eventCount } } } } }")
BY_VARIABLE = ("query ($n: Int) { organizations(first: $n) { edges { node { simCards(first: $n) {"
               " edges { node { usage(from: \"2024-01-01T00:00:00Z\", to: \"2024-12-31T00:00:00Z\","
               " granularity: HOURLY, first: $n) { totalCount } } } } } } } }")
SHAPES = """query ($g: Granularity!) {
  a: simCard(id: "89440001") { ...Card }
  b: organization(id: "org-a") { __typename id ... on Organization { simCards(first: 2) {
    edges { node { id } } } } usage(from: "2024-03-30", to: "2024-04-02", granularity: $g,
    skipEmpty: true, first: 5) { totalCount totalEventCount edges { node { start } } } }
  c: simCard(id: "89449999") { id }
}
fragment Card on SimCard { id __typename nodeId usage(from: "2024-03-30T00:00:00Z",
  to: "2024-04-01T00:00:00Z", granularity: $g) { totalCount pageInfo { hasNextPage
  hasPreviousPage startCursor endCursor } edges { cursor node { start bytesUsed } }
  again: edges { node { eventCount } } } }"""
# (query, variables, operationName): answers, refusals and errors of every kind.
REQUESTS = [
    (USAGE, {"id": "89440001", "from": "2024-03-30T00:00:00Z", "to": "2024-03-31T00:00:00Z",
             "g": "HOURLY"}, "Usage"),
    (USAGE, {"id": "89440004", "from": "2024-03-30T00:00:00Z", "to": "2024-04-01T00:00:00Z",
             "g": "DAILY", "first": 1}, None),
    (USAGE, {"id": "89440002", "from": "not a time", "to": "2024-03-31T00:00:00Z", "g": "HOURLY"},
     None),
    (USAGE, {"id": "89440002", "from": "2024-03-31T00:00:00Z", "to": "2024-03-30T00:00:00Z",
             "g": "HOURLY"}, None),
    (USAGE, {"id": "89440002"}, None),  # variables missing
    (USAGE, {"id": "89440001", "from": "2024-03-30T00:00:00Z", "to": "2024-03-31T00:00:00Z",
             "g": "HOURLY", "first": -3}, "Usage"),
    (USAGE, None, "Other"),  # names no operation of the document
    ('{ organization(id: "org-a") { usage(from: "2024-03-30T00:00:00Z", to: "2024-04-02T00:00:00Z",'
     ' granularity: DAILY, timeZone: "Europe/Lisbon") { totalEventCount edges { node { start } } } } }',
     None, None),
    ('{ organization(id: "nobody") { id } simCards(first: 2) { totalCount edges { node { id } } } }',
     None, None),
    ('{ organizations(first: 1000) { edges { node { simCards(first: 1000) { edges { node {'
     ' usage(from: "2024-01-01T00:00:00Z", to: "2024-12-31T00:00:00Z", granularity: HOURLY,'
     ' first: 1000) { totalCount } } } } } } } }', None, None),  # over the cost budget
    (BY_VARIABLE, {"n": 1000}, None),  # over the budget by its variables
    (BY_VARIABLE, {"n": 2}, None),  # the same text within it
    ("query A { __typename } query B { simCard(id: \"89440001\") { id } }", None, "B"),
    ("query A { __typename } query B { __typename }", None, None),  # which one?
    ("{ nope }", None, None),
    ("{ simCard(id: ", None, None),
    ('subscription { usageUpdates(organizationId: "org-a", granularity: HOURLY) { start } }',
     None, None),
    ('{ simCard(id: "") { id } }', None, None),
    # Shapes of the compiled plans: fragments, aliases, __typename, resolvers inside lists.
    (SHAPES, {"g": "DAILY"}, None),
    (SHAPES, {"g": "HOURLY"}, None),
    (SHAPES, {"g": "MONTHLY"}, None),  # from/to not month-aligned: errors in a nested field
    ('{ organizations(first: 5) { totalCount edges { cursor node { id usage(from: "2024-03-30",'
     ' to: "2024-04-01", granularity: DAILY) { totalBytesUsed edges { node { bytesUsed } } } } } } }',
     None, None),
    ('{ simCards(first: 3, organizationId: "org-a") { edges { node { nodeId organization { id }'
     ' ownership { edges { node { from to organization { id } } } } } } } }', None, None),
    ('{ organization(id: "org-a") { topSimCards(from: "2024-03-30T00:00:00Z", to: "2024-04-01'
     'T00:00:00Z", first: 2) { totalCount pageInfo { hasNextPage endCursor } edges { node {'
     ' bytesUsed simCard { id } } } } } }', None, None),
    ('query ($on: Boolean!) { simCard(id: "89440001") { id @include(if: $on) } }', {"on": False},
     None),  # a directive: graphql-core's executor
    ('{ node(id: "U2ltQ2FyZDo4OTQ0MDAwMQ==") { nodeId ... on SimCard { id } } }', None, None),
    ('{ simCard(id: "89440001") { usage(from: "2024-03-30T00:00:00Z", to: "2024-03-31T00:00:00Z",'
     ' granularity: HOURLY, first: 2000) { totalCount } } }', None, None),  # a page too large
]


@pytest.fixture(scope="module")
def app_and_client(postgres_database_module: str) -> Iterator[tuple[FastAPI, TestClient]]:
    load(postgres_database_module, INVENTORY, EVENTS)
    app = create_app(settings_for(postgres_database_module, SIMUSAGE_STORAGE_MODE="postgres",
                                  SIMUSAGE_API_CACHE_BYTES="0"))
    with TestClient(app) as client:
        yield app, client


def prepared_of(app: FastAPI) -> PreparedOperations:
    """The prepared operations of the app's GraphQL endpoint."""
    route = next(route for route in app.routes if getattr(route, "path", None) == "/graphql")
    return route.endpoint.schema.prepared


def answers(client: TestClient, query: str, variables: dict | None, name: str | None,
            accept: str, strawberry_path: bool) -> tuple:
    body = {"query": query, "variables": variables, "operationName": name}
    if strawberry_path:  # any extensions entry takes strawberry's pipeline
        body["extensions"] = {}
    response = client.post("/graphql", json=body, headers={"Accept": accept})
    answer = response.json()
    # Sibling fields fail concurrently: the spec leaves the order of their errors open.
    answer.get("errors", []).sort(key=lambda error: (str(error.get("path")), error["message"]))
    return response.status_code, response.headers["content-type"], answer


@pytest.mark.parametrize("accept", ["application/json", GRAPHQL_RESPONSE])
@pytest.mark.parametrize("request_index", range(len(REQUESTS)))
def test_both_paths_answer_alike(app_and_client: tuple[FastAPI, TestClient], request_index: int,
                                 accept: str) -> None:
    app, client = app_and_client
    query, variables, name = REQUESTS[request_index]
    prepared = answers(client, query, variables, name, accept, strawberry_path=False)
    assert prepared == answers(client, query, variables, name, accept, strawberry_path=True)


def test_valid_queries_take_the_prepared_path(app_and_client: tuple[FastAPI, TestClient]) -> None:
    app, client = app_and_client
    operations = prepared_of(app)
    bodies = [answers(client, query, variables, name, "application/json", False)[2]
              for query, variables, name in REQUESTS]
    assert error_codes(bodies[10]) == ["QUERY_TOO_COSTLY"] and "errors" not in bodies[11]
    taken = {key[0] for key, value in operations.entries.items() if value is not None}
    # The usage document is prepared whatever its variables; invalid texts are not.
    assert {USAGE, BY_VARIABLE, REQUESTS[7][0], REQUESTS[12][0]} <= taken
    assert not taken & {"{ nope }", "{ simCard(id: ", REQUESTS[13][0], REQUESTS[16][0]}
    # A page size from a variable is estimated for each request; a literal one once.
    assert operations.get(BY_VARIABLE, None).cost is None
    assert operations.get(REQUESTS[9][0], None).cost > 25_000


def test_what_is_not_prepared() -> None:
    operations = build_schema().prepared
    assert operations.get("{ nope }", None) is None  # invalid
    assert operations.get("{ __typename", None) is None  # does not parse
    assert operations.get("query A { __typename } query B { __typename }", None) is None
    assert operations.get("query A { __typename }", "B") is None
    assert operations.get("subscription { usageUpdates(organizationId: \"o\", granularity: "
                          "HOURLY) { start } }", None) is None
    assert operations.get("query A { __typename } query B { __typename }", "B") is not None
    assert operations.get("{ __typename }", None).label == operations.limits.label(None)


def test_the_prepared_texts_are_bounded() -> None:
    operations = build_schema().prepared
    for number in range(operations.size + 50):
        operations.get(f"query Q{number} {{ __typename }}", None)
    assert len(operations.entries) == operations.size
    assert ("query Q0 { __typename }", None) not in operations.entries


cards = st.sampled_from([*INVENTORY, "89440004", "89440099"])
moments = st.datetimes(min_value=datetime(2024, 3, 28), max_value=datetime(2024, 4, 3),
                       timezones=st.just(UTC))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(card=cards, start=moments, hours=st.integers(-5, 100), first=st.none() | st.integers(0, 30),
       granularity=st.sampled_from(["HOURLY", "DAILY"]))
def test_paths_agree_on_any_page(app_and_client: tuple[FastAPI, TestClient], card: str,
                                 start: datetime, hours: int, first: int | None,
                                 granularity: str) -> None:
    _, client = app_and_client
    variables = {"id": card, "from": start.isoformat(),
                 "to": (start + timedelta(hours=hours)).isoformat(), "g": granularity,
                 "first": first}
    assert answers(client, USAGE, variables, None, GRAPHQL_RESPONSE, False) == \
        answers(client, USAGE, variables, None, GRAPHQL_RESPONSE, True)


def test_compiled_plans_and_what_graphql_core_runs() -> None:
    operations = build_schema().prepared
    for query in (USAGE, SHAPES, REQUESTS[21][0], REQUESTS[22][0], REQUESTS[23][0]):
        assert operations.get(query, None).compiled is not None, query
    for query in (REQUESTS[24][0], REQUESTS[25][0]):  # a directive, an interface
        assert operations.get(query, None).compiled is None, query


@pytest.mark.parametrize("request_index", [18, 21, 22])
def test_both_paths_send_the_same_statements(app_and_client: tuple[FastAPI, TestClient],
                                             monkeypatch: pytest.MonkeyPatch,
                                             request_index: int) -> None:
    _, client = app_and_client
    statements = recorded_statements(monkeypatch)
    query, variables, name = REQUESTS[request_index]
    counts = []
    for strawberry_path in (False, True):
        statements.clear()
        answers(client, query, variables, name, "application/json", strawberry_path)
        counts.append(len(statements))
    assert counts[0] == counts[1]  # batched alike


def test_a_compiled_run_falls_back_only_on_errors(app_and_client: tuple[FastAPI, TestClient]) -> None:
    _, client = app_and_client
    before = COMPILED_FALLBACKS._value.get()
    for index in (0, 1, 18, 19, 21, 22, 23):  # answers without errors: the plans answered
        body = answers(client, *REQUESTS[index], "application/json", False)[2]
        assert "errors" not in body, body
    assert COMPILED_FALLBACKS._value.get() == before
    body = answers(client, *REQUESTS[20], "application/json", False)[2]
    assert error_codes(body) == ["BAD_USER_INPUT"] * 2
    assert COMPILED_FALLBACKS._value.get() == before + 1


def test_strawberry_wrapped_resolvers_answer_as_the_direct_calls(
        postgres_database_module: str, app_and_client: tuple[FastAPI, TestClient],
        monkeypatch: pytest.MonkeyPatch) -> None:
    _, direct = app_and_client
    monkeypatch.setattr(compiled_operations, "direct_resolver", lambda *arguments: None)
    app = create_app(settings_for(postgres_database_module, SIMUSAGE_STORAGE_MODE="postgres",
                                  SIMUSAGE_API_CACHE_BYTES="0"))
    with TestClient(app) as wrapped:
        for query, variables, name in REQUESTS:
            assert answers(wrapped, query, variables, name, GRAPHQL_RESPONSE, False) == \
                answers(direct, query, variables, name, GRAPHQL_RESPONSE, False), query
    plan = prepared_of(app).get(USAGE, None).compiled.root.fields[0]
    assert plan.direct is None and prepared_of(app_and_client[0]).get(
        USAGE, None).compiled.root.fields[0].direct is not None


def test_the_direct_resolvers_seam_is_checked(monkeypatch: pytest.MonkeyPatch,
                                              caplog: pytest.LogCaptureFixture) -> None:
    schema = build_schema()
    assert direct_resolvers.check_seam(schema, "Query", "organization")
    monkeypatch.setattr(direct_resolvers, "CONVERT_PARAMETERS", ("value", "arguments"))
    assert not direct_resolvers.check_seam(schema, "Query", "organization")
    assert "direct resolver calls are off" in caplog.text
    assert build_schema().prepared.get(USAGE, None).compiled.root.fields[0].direct is None
    monkeypatch.undo()
    assert direct_resolvers.check_seam(schema, "Query", "organization")
