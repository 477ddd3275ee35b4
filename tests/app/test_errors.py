"""Bad input gets a coded GraphQL error or a 4xx, never a 500 or a stack trace; limits hold."""

from __future__ import annotations

import logging

import psycopg
import pytest
from fastapi.testclient import TestClient

from app.pagination import SIM_CARD_CURSOR, encode_cursor
from app.queries import subject_pages
from app.queries import usage as usage_queries
from tests.app.conftest import error_codes, graphql
from tests.app.usage_data import load
from tests.conftest import settings_for
from app.main import create_app

CARD_USAGE = """
query CardUsage($from: DateTime!, $to: DateTime!, $granularity: Granularity!, $first: Int,
                $after: String, $last: Int, $before: String) {
  simCard(id: "1001") {
    usage(from: $from, to: $to, granularity: $granularity, first: $first, after: $after,
          last: $last, before: $before) { totalCount edges { cursor } }
  }
}
"""
GOOD = {"from": "2022-02-10T00:00Z", "to": "2022-02-11T00:00Z", "granularity": "HOURLY"}


@pytest.fixture
def api(client: TestClient, api_settings) -> TestClient:
    load(api_settings.database_url, {"1001": "alpha"}, [])
    return client


def test_good_arguments_pass(api: TestClient) -> None:
    body = graphql(api, CARD_USAGE, GOOD)
    assert "errors" not in body and body["data"]["simCard"]["usage"]["totalCount"] == 24


@pytest.mark.parametrize(("changes", "message"), [
    ({"to": "2022-02-10T00:00Z"}, "from must be earlier than to"),
    ({"from": "2022-02-12T00:00Z"}, "from must be earlier than to"),
    ({"from": "2022-02-10T00:30Z"}, "from must be a whole UTC hour"),
    ({"to": "2022-02-10T05:00:01Z"}, "to must be a whole UTC hour"),
    ({"from": "2022-02-10T00:00:00.5Z"}, "from must be a whole UTC hour"),
    ({"granularity": "DAILY", "to": "2022-02-11T01:00Z"}, "to must be a UTC midnight"),
    ({"from": "2022-02-11T01:00+01:00"}, "from must be earlier than to"),
    ({"from": "2022-02-10T00:00+05:30"}, "from must be a whole UTC hour"),
    ({"first": 1, "last": 1}, "not both"),
    ({"first": 1001}, "first must be at most 1000"),
    ({"last": 5000}, "last must be at most 1000"),
    ({"first": -1}, "first must not be negative"),
    ({"last": -3}, "last must not be negative"),
    ({"after": "bm90IGEgY3Vyc29y"}, "invalid cursor"),
    ({"before": "%%%"}, "invalid cursor"),
    ({"after": encode_cursor("sim-card", "1001")}, "belongs to a sim-card list"),
    ({"after": encode_cursor("usage-daily", 1644451200)}, "belongs to a usage-daily list"),
    # Variables that do not coerce: graphql-core refuses them before any resolver runs.
    ({"granularity": "WEEKLY"}, "Granularity"),
    ({"from": "2020-02-00T10:15:00Z"}, "not a real date"),
    ({"from": "tomorrow"}, "RFC 3339"),
    ({"from": 1644451200}, "RFC 3339"),
    ({"first": "ten"}, "Int"),
])
def test_each_bad_argument_is_bad_user_input(api: TestClient, changes: dict, message: str) -> None:
    body = graphql(api, CARD_USAGE, {**GOOD, **changes})
    assert error_codes(body) == ["BAD_USER_INPUT"], body
    assert message in body["errors"][0]["message"]
    assert "Traceback" not in str(body)


@pytest.mark.parametrize("arguments", [
    'from: "2022-02-10", to: "2022-02-11", granularity: WEEKLY',
    'from: "2022-02-30", to: "2022-03-01", granularity: DAILY',
    'from: 20220210, to: "2022-03-01", granularity: DAILY',
    'from: "2022-02-10", to: "2022-03-01", granularity: DAILY, first: "1"',
])
def test_bad_literals_are_bad_user_input(api: TestClient, arguments: str) -> None:
    body = graphql(api, f'{{ simCard(id: "1001") {{ usage({arguments}) {{ totalCount }} }} }}')
    assert error_codes(body) == ["BAD_USER_INPUT"], body


@pytest.mark.parametrize(("query", "message"), [
    ('{ simCards(first: 1001) { totalCount } }', "first must be at most 1000"),
    ('{ organizations(first: -1) { totalCount } }', "first must not be negative"),
    ('{ simCards(after: "x!") { totalCount } }', "invalid cursor"),
    (f'{{ simCards(after: "{encode_cursor("organization", "alpha")}") {{ totalCount }} }}',
     "belongs to a organization list"),
])
def test_bad_list_arguments(api: TestClient, query: str, message: str) -> None:
    body = graphql(api, query)
    assert error_codes(body) == ["BAD_USER_INPUT"] and message in body["errors"][0]["message"]


def test_a_too_deep_query_is_refused(api: TestClient) -> None:
    # organizations > edges > node > simCards > edges > node > organization > ... : depth 16.
    hop = "simCards { edges { node { organization { %s } } } }"
    deep = "{ organizations { edges { node { %s } } } }" % (hop % (hop % (hop % "id")))
    body = graphql(api, deep)
    assert body.get("data") is None
    assert error_codes(body) == ["GRAPHQL_VALIDATION_FAILED"]
    assert "exceeds maximum operation depth" in body["errors"][0]["message"]


def test_too_many_aliases_are_refused(api: TestClient) -> None:
    query = "{ " + " ".join(f'a{n}: simCard(id: "1001") {{ id }}' for n in range(31)) + " }"
    body = graphql(api, query)
    assert error_codes(body) == ["GRAPHQL_VALIDATION_FAILED"] and "aliases" in body["errors"][0]["message"]


def test_too_many_tokens_are_refused(api: TestClient) -> None:
    query = "{ " + " ".join("__typename" for _ in range(2100)) + " }"
    body = graphql(api, query)
    assert error_codes(body) == ["GRAPHQL_PARSE_FAILED"] and "tokens" in body["errors"][0]["message"]


def test_a_syntax_error_and_an_unknown_field(api: TestClient) -> None:
    assert error_codes(graphql(api, "{ simCard(id: ")) == ["GRAPHQL_PARSE_FAILED"]
    assert error_codes(graphql(api, "{ simCardz { id } }")) == ["GRAPHQL_VALIDATION_FAILED"]


def test_a_request_for_too_many_nodes_is_refused(api_settings) -> None:
    settings = settings_for(api_settings.database_url, SIMUSAGE_API_MAX_NODES="1000")
    load(settings.database_url, {"1001": "alpha"}, [])
    wide = '{ ' + ' '.join(
        f'u{n}: simCard(id: "1001") {{ usage(from: "2022-01-01", to: "2022-03-01", '
        f'granularity: HOURLY, first: 600) {{ edges {{ cursor }} }} }}' for n in range(2)
    ) + ' }'
    with TestClient(create_app(settings)) as client:
        body = graphql(client, wide)
    assert "TOO_MANY_NODES" in error_codes(body)


@pytest.mark.parametrize(("content", "content_type"), [
    (b"not json", "application/json"),
    (b"42", "application/json"),
    (b'"query"', "application/json"),
    (b'{"query": 42}', "application/json"),
    (b'{"query": "{ __typename }", "variables": [1]}', "application/json"),
    (b'[{"query": "{ __typename }"}]', "application/json"),
    (b"", "application/json"),
    (b'{"query": "{ __typename }"}', "text/plain"),
    (b'{"query": "{ a } { b }"}', "application/json"),
])
def test_malformed_requests_are_4xx(api: TestClient, content: bytes, content_type: str) -> None:
    response = api.post("/graphql", content=content, headers={"Content-Type": content_type})
    assert 400 <= response.status_code < 500 or error_codes(response.json()), response.text
    assert "Traceback" not in response.text


def test_a_body_over_the_limit_is_413(api: TestClient) -> None:
    response = api.post("/graphql", content=b" " * 70000, headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    chunks = (b" " * 10000 for _ in range(8))
    response = api.post("/graphql", content=chunks, headers={"Content-Type": "application/json"})
    assert response.status_code == 413


def test_a_server_fault_is_masked(api: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(*arguments: object) -> None:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(usage_queries, "fetch_pages", broken)
    monkeypatch.setattr(subject_pages, "fetch_subjects_with_pages", broken)  # the look-ahead's
    body = graphql(api, CARD_USAGE, GOOD)
    assert error_codes(body) == ["INTERNAL_SERVER_ERROR"]
    assert body["errors"][0]["message"] == "internal error"
    assert "secret" not in str(body) and "Traceback" not in str(body)


def test_a_statement_timeout_has_its_code(api: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    async def slow(*arguments: object) -> None:
        raise psycopg.errors.QueryCanceled("canceling statement due to statement timeout")

    monkeypatch.setattr(usage_queries, "fetch_pages", slow)
    monkeypatch.setattr(subject_pages, "fetch_subjects_with_pages", slow)
    assert error_codes(graphql(api, CARD_USAGE, GOOD)) == ["QUERY_TIMEOUT"]


@pytest.mark.parametrize("query, variables", [
    ("query($id: ID!) { simCard(id: $id) { id } }", {"id": "1001\x00"}),
    ("query($id: ID!) { organization(id: $id) { id } }", {"id": "al\x00pha"}),
    ("query($id: ID!) { simCards(organizationId: $id) { edges { node { id } } } }", {"id": "\x00"}),
    ("query($id: ID!) { simCard(id: $id) { id } }", {"id": "1" * 10_000}),
    ("query($after: String) { simCards(after: $after) { edges { node { id } } } }",
     {"after": encode_cursor(SIM_CARD_CURSOR, "1001\x00")}),
])
def test_nul_and_huge_ids_and_cursors_are_bad_input(api: TestClient, query: str, variables: dict) -> None:
    body = graphql(api, query, variables)
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert "\x00" not in body["errors"][0]["message"]


def test_a_nul_id_does_not_fail_the_other_lookups_of_its_request(api: TestClient) -> None:
    body = graphql(api, 'query($id: ID!) { bad: simCard(id: $id) { id } good: simCard(id: "1001") { id } }',
                   {"id": "1\x00"})
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert body["data"]["good"] == {"id": "1001"}


def test_several_operations_need_an_operation_name(api: TestClient) -> None:
    document = "query A { __typename } query B { organizations { totalCount } }"
    body = graphql(api, document)
    assert error_codes(body) == ["BAD_USER_INPUT"] and "data" not in body  # a request error
    assert "operationName" in body["errors"][0]["message"]
    named = api.post("/graphql", json={"query": document, "operationName": "B"}).json()
    assert named == {"data": {"organizations": {"totalCount": 1}}}  # the fixture's one


def test_an_unknown_operation_name_is_a_json_error_that_does_not_echo_it(api: TestClient) -> None:
    name = "<script>alert(1)</script>"
    response = api.post("/graphql", json={"query": "query A { __typename }", "operationName": name})
    assert response.headers["content-type"].startswith("application/json")
    assert error_codes(response.json()) == ["BAD_USER_INPUT"]
    assert "script" not in response.text


@pytest.mark.parametrize("value", ["2022-02-30T00:00Z", "2022-13-01", "2022-02-10T25:00:00Z"])
def test_date_errors_carry_no_python_exception_text(api: TestClient, value: str) -> None:
    body = graphql(api, CARD_USAGE, {**GOOD, "from": value})
    assert error_codes(body) == ["BAD_USER_INPUT"]
    message = body["errors"][0]["message"]
    assert "not a real date and time" in message
    for python_text in ("out of range for month", "must be in", "Error", "Traceback"):
        assert python_text not in message


def test_a_client_leaving_mid_body_logs_one_warning(api_settings, caplog) -> None:
    import asyncio

    messages = iter([{"type": "http.request", "body": b'{"query": "{ __typ', "more_body": True},
                     {"type": "http.disconnect"}])

    async def receive() -> dict:
        return next(messages)

    async def send(message: dict) -> None:
        pass

    scope = {"type": "http", "method": "POST", "path": "/graphql", "raw_path": b"/graphql",
             "root_path": "", "query_string": b"", "scheme": "http", "http_version": "1.1",
             "headers": [(b"content-type", b"application/json")], "client": ("192.0.2.7", 5),
             "server": ("127.0.0.1", 8000)}
    asyncio.run(create_app(api_settings)(scope, receive, send))
    lines = [record for record in caplog.records if record.levelno >= logging.WARNING
             and "access control is OFF" not in record.getMessage()]
    assert [(record.levelname, record.exc_info) for record in lines] == [("WARNING", None)]
    assert "192.0.2.7 disconnected" in lines[0].getMessage()
