"""The cost estimate: page sizes multiplied down each path, fragments measured once."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from graphql import build_schema as build_graphql_schema
from graphql import parse
from hypothesis import given, settings
from hypothesis import strategies as st

from app import database
from app.main import create_app
from app.query_cost import estimated_cost
from app.schema import build_schema
from tests.app.conftest import error_codes, graphql
from tests.app.usage_data import load
from tests.conftest import settings_for

SCHEMA = build_graphql_schema(build_schema().as_str())
USAGE = 'usage(from: "2022-01-01", to: "2022-02-01", granularity: HOURLY, first: {n})'


def cost(query: str, variables: dict | None = None, operation: str | None = None) -> int:
    return estimated_cost(SCHEMA, parse(query), operation, variables)


def nested(organizations: int, cards: int, buckets: int) -> str:
    return (f"{{ organizations(first: {organizations}) {{ edges {{ node {{ "
            f"simCards(first: {cards}) {{ edges {{ node {{ {USAGE.format(n=buckets)} "
            "{ totalBytesUsed edges { node { start bytesUsed } } } } } } } } } }")


def test_one_connection_costs_its_statement_and_its_page() -> None:
    assert cost(f'{{ simCard(id: "1") {{ {USAGE.format(n=10)} {{ edges {{ node {{ start }} }} }} }} }}') == 11
    # Without edges, only the statement: totals and counts are one row.
    assert cost(f'{{ simCard(id: "1") {{ {USAGE.format(n=10)} {{ totalCount totalBytesUsed }} }} }}') == 1
    assert cost("{ simCards { edges { cursor } } }") == 101  # the default page is 100
    assert cost("{ __typename }") == 0


def test_page_sizes_multiply_down_each_path() -> None:
    assert cost(nested(10, 10, 10)) == 1 + 10 * (1 + 1 + 10 * (1 + 1 + 10))
    assert cost(nested(1000, 1000, 1000)) > 10**9


def test_variables_and_their_defaults_are_read() -> None:
    query = "query Q($n: Int = 7) { simCards(first: $n) { edges { cursor } } }"
    assert cost(query) == 8
    assert cost(query, {"n": 500}) == 501
    assert cost("query Q($n: Int) { simCards(last: $n) { edges { cursor } } }", {"n": None}) == 101


def test_a_page_size_the_schema_defaults_is_the_one_counted() -> None:
    ownership = '{{ simCard(id: "1") {{ ownership{} {{ edges {{ node {{ from }} }} }} }} }}'
    assert cost(ownership.format("")) == 101  # `first: Int = 100` in the schema
    assert cost(ownership.format("(first: 5)")) == 6
    sdl = "type Query { items(first: Int = 7): ItemConnection! } type ItemConnection { edges: [Int!]! }"
    assert estimated_cost(build_graphql_schema(sdl), parse("{ items { edges } }"), None, None) == 8


def test_fragments_inline_fragments_and_aliases_cost_what_they_expand_to() -> None:
    written_out = "{ a: simCards(first: 5) { edges { cursor } } b: simCards(first: 5) { edges { cursor } } }"
    with_fragments = ("{ ...F ... on Query { b: simCards(first: 5) { ...E } } } "
                      "fragment F on Query { a: simCards(first: 5) { ...E } } "
                      "fragment E on SimCardConnection { edges { cursor } }")
    assert cost(written_out) == cost(with_fragments) == 12


def test_the_named_operation_is_the_one_estimated() -> None:
    query = "query Small { simCards(first: 1) { edges { cursor } } } query Big { simCards(first: 900) { edges { cursor } } }"
    assert (cost(query, operation="Small"), cost(query, operation="Big")) == (2, 901)


def test_a_doubling_fragment_document_is_estimated_in_linear_time() -> None:
    levels = 60
    fragments = " ".join(
        f"fragment F{level} on Query {{ ...F{level + 1} ...F{level + 1} }}" for level in range(levels)
    )
    query = f"{{ ...F0 }} {fragments} fragment F{levels} on Query {{ simCards(first: 1) {{ edges {{ cursor }} }} }}"
    started = time.perf_counter()
    assert cost(query) == 2 * 2**levels
    assert time.perf_counter() - started < 0.05


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 1000), min_size=1, max_size=3))
def test_the_estimate_is_the_product_down_the_path(pages: list[int]) -> None:
    connections = ["organizations", "simCards", USAGE.split("(")[0]]
    query, expected, multiplier = "{", 0, 1
    for depth, page in enumerate(pages):
        name = connections[depth]
        arguments = USAGE.format(n=page)[len("usage"):] if name == "usage" else f"(first: {page})"
        query += f" {name}{arguments} {{ edges {{ node {{"
        expected += multiplier * (1 + page)
        multiplier *= page
    query += " __typename" + " } } }" * len(pages) + " }"
    assert cost(query) == expected


@pytest.fixture
def api_without_database(monkeypatch: pytest.MonkeyPatch) -> TestClient:
    # Nothing listens there: a query that reached a resolver would answer SERVICE_UNAVAILABLE.
    monkeypatch.setattr(database, "POOL_WAIT_SECONDS", 0.5)
    settings = settings_for("postgresql://nobody:wrong@127.0.0.1:1/none", SIMUSAGE_API_MAX_COST="5000")
    with TestClient(create_app(settings)) as client:
        yield client


def test_a_query_over_the_budget_is_refused_before_any_statement(api_without_database) -> None:
    body = graphql(api_without_database, nested(100, 100, 100))
    assert error_codes(body) == ["QUERY_TOO_COSTLY"] and "data" not in body
    assert body["errors"][0]["extensions"]["cost"] == cost(nested(100, 100, 100))
    assert "5000" in body["errors"][0]["message"]
    within = graphql(api_without_database, nested(2, 2, 2))
    assert error_codes(within) == ["SERVICE_UNAVAILABLE"]  # under budget: it did run


def test_over_the_node_limit_with_totals_is_the_graphql_error(api_settings) -> None:
    settings = settings_for(api_settings.database_url, SIMUSAGE_API_MAX_NODES="1000",
                            SIMUSAGE_API_MAX_COST="10000000")
    load(settings.database_url, {"1001": "alpha"}, [])
    wide = "{ " + " ".join(
        f'u{n}: simCard(id: "1001") {{ {USAGE.format(n=600)} {{ totalBytesUsed totalCount '
        "edges { node { bytesUsed } } } }" for n in range(4)
    ) + " }"
    with TestClient(create_app(settings)) as client:
        response = client.post("/graphql", json={"query": wide})
    assert response.status_code == 200, response.text
    assert "TOO_MANY_NODES" in error_codes(response.json())
