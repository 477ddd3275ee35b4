"""GET /export/usage.csv: the GraphQL series as CSV, streamed, under the same checks and keys."""

from __future__ import annotations

import csv
import io
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from starlette.requests import Request

from app.export import UsageExport
from app.main import create_app
from tests.app.conftest import Runner, graphql
from tests.app.test_authentication import bearer, create_key, settings_with_auth
from tests.app.usage_data import load
from tests.conftest import settings_for

INVENTORY = {"5001": "east", "5002": "east", "5003": "west"}
START = datetime(2023, 3, 1, tzinfo=UTC)
EVENTS = [(START + timedelta(minutes=37 * i), f"500{1 + i % 3}", 1000 + i) for i in range(4000)]
SERIES = """query ($org: ID!, $from: DateTime!, $to: DateTime!, $granularity: Granularity!,
                   $zone: String, $after: String) {
  organization(id: $org) { usage(from: $from, to: $to, granularity: $granularity, timeZone: $zone,
                                 first: 1000, after: $after) {
    pageInfo { hasNextPage endCursor } edges { node { start bytesUsed eventCount } } } } }"""


@pytest.fixture(scope="module")
def client(postgres_database_module: str) -> Iterator[TestClient]:
    load(postgres_database_module, INVENTORY, EVENTS)
    settings = settings_for(postgres_database_module, SIMUSAGE_STORAGE_MODE="postgres")
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def graphql_rows(client: TestClient, variables: dict) -> list[list[str]]:
    """The series through GraphQL, every page, as CSV rows would hold it."""
    rows, after = [], None
    while True:
        usage = graphql(client, SERIES, {**variables, "after": after})["data"]["organization"]["usage"]
        rows += [[e["node"]["start"], e["node"]["bytesUsed"], e["node"]["eventCount"]]
                 for e in usage["edges"]]
        if not usage["pageInfo"]["hasNextPage"]:
            return rows
        after = usage["pageInfo"]["endCursor"]


@pytest.mark.parametrize(("granularity", "zone", "end"), [
    ("HOURLY", None, "2023-05-01T00:00:00Z"), ("DAILY", "Europe/Lisbon", "2023-04-01"),
    ("MONTHLY", "America/Sao_Paulo", "2023-05-01"),
])
def test_the_csv_is_the_graphql_series(client: TestClient, granularity: str, zone: str | None,
                                       end: str) -> None:
    parameters = {"organization": "east", "from": "2023-03-01", "to": end, "granularity": granularity}
    if zone:
        parameters["timeZone"] = zone
    response = client.get("/export/usage.csv", params=parameters)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert 'filename="usage-east-' in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["start", "bytes_used", "event_count"]
    expected = graphql_rows(client, {"org": "east", "from": "2023-03-01", "to": end,
                                     "granularity": granularity, "zone": zone})
    assert rows[1:] == expected and len(expected) > (1000 if granularity == "HOURLY" else 0)


@pytest.mark.parametrize(("parameters", "status", "message"), [
    ({"from": "2023-03-01", "to": "2023-03-02", "granularity": "DAILY"}, 400, "exactly one of"),
    ({"organization": "east", "simCard": "5001", "from": "2023-03-01", "to": "2023-03-02",
      "granularity": "DAILY"}, 400, "exactly one of"),
    ({"organization": "east", "to": "2023-03-02", "granularity": "DAILY"}, 400, "from is required"),
    ({"organization": "east", "from": "yesterday", "to": "2023-03-02", "granularity": "DAILY"},
     400, "from: DateTime must be"),
    ({"organization": "east", "from": "2023-03-01", "to": "2023-03-02", "granularity": "WEEKLY"},
     400, "granularity must be one of"),
    ({"organization": "east", "from": "2023-03-01T00:30Z", "to": "2023-03-02", "granularity": "HOURLY"},
     400, "whole UTC hour"),
    ({"organization": "east", "from": "2023-03-01", "to": "2023-03-02", "granularity": "DAILY",
      "timeZone": "Asia/Kolkata"}, 400, "not a whole number of hours"),
    ({"organization": "east", "from": "1990-01-01", "to": "2023-03-02", "granularity": "HOURLY"},
     400, "at most 100,000 buckets"),
    ({"organization": "nobody", "from": "2023-03-01", "to": "2023-03-02", "granularity": "DAILY"},
     404, "no organization"),
    ({"simCard": "5009", "from": "2023-03-01", "to": "2023-03-02", "granularity": "DAILY"},
     404, "no sim card"),
    ({"simCard": "50\x0001", "from": "2023-03-01", "to": "2023-03-02", "granularity": "DAILY"},
     400, "control characters"),
])
def test_bad_exports_are_refused_with_a_message(client: TestClient, parameters: dict, status: int,
                                                message: str) -> None:
    response = client.get("/export/usage.csv", params=parameters)
    assert response.status_code == status, response.text
    assert message in response.text


def _peak_of_export(runner: Runner, query: str) -> tuple[int, int]:
    """(lines, peak bytes allocated) of one export consumed chunk by chunk, in-process."""
    export = UsageExport(runner.database, 100_000, auth_off=True)
    request = Request({"type": "http", "method": "GET", "path": "/export/usage.csv",
                       "query_string": query.encode(), "headers": [], "state": {}})

    async def consume() -> int:
        response = await export.respond(request)
        assert response.status_code == 200
        return sum([chunk.count("\n") async for chunk in response.body_iterator])

    tracemalloc.start()
    try:
        lines = runner.loop.run_until_complete(consume())
        return lines, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_large_export_streams_in_flat_memory(postgres_database_module: str, client: TestClient) -> None:
    """Ten years of hours (87,600 rows) against one month: the peak stays about the same."""
    runner = Runner(settings_for(postgres_database_module))
    try:
        month = _peak_of_export(runner, "organization=east&from=2023-03-01&to=2023-04-01&granularity=HOURLY")
        years = _peak_of_export(runner, "organization=east&from=2023-03-01&to=2033-03-01&granularity=HOURLY")
    finally:
        runner.close()
    print(f"export peak memory: one month ({month[0]:,} lines) {month[1]:,} B, "
          f"ten years ({years[0]:,} lines) {years[1]:,} B")
    assert month[0] == 745 and years[0] == 87_672 + 1  # the header and every hour
    assert years[1] < 2 * month[1] + 1_000_000


def test_an_export_needs_a_key_and_sees_what_the_key_may(postgres_database_module: str) -> None:
    east, west = (create_key(postgres_database_module, name) for name in ("east", "west"))
    settings = settings_with_auth(postgres_database_module)
    parameters = {"organization": "east", "from": "2023-03-01", "to": "2023-03-03",
                  "granularity": "DAILY"}
    with TestClient(create_app(settings)) as client:
        assert client.get("/export/usage.csv", params=parameters).status_code == 401
        assert client.get("/export/usage.csv", params=parameters,
                          headers=bearer("sim_nope_nope")).status_code == 401
        own = client.get("/export/usage.csv", params=parameters, headers=bearer(east))
        assert own.status_code == 200 and len(own.text.splitlines()) == 3
        # Another organization's key: exactly as for an organization that does not exist.
        foreign = client.get("/export/usage.csv", params=parameters, headers=bearer(west))
        missing = client.get("/export/usage.csv", params={**parameters, "organization": "nobody"},
                             headers=bearer(west))
        assert (foreign.status_code, missing.status_code) == (404, 404)
        of_card = {name: value for name, value in parameters.items() if name != "organization"}
        card = client.get("/export/usage.csv", headers=bearer(west),
                          params={**of_card, "simCard": "5001"})
        assert card.status_code == 404


def test_an_organization_id_in_any_script_names_a_safe_file(client: TestClient,
                                                           postgres_database_module: str) -> None:
    load(postgres_database_module, {"5101": '東京 "north";x'})
    response = client.get("/export/usage.csv", params={
        "organization": '東京 "north";x', "from": "2023-03-01", "to": "2023-03-02",
        "granularity": "DAILY"})
    assert response.status_code == 200, response.text
    assert response.headers["content-disposition"] == 'attachment; filename="usage-____north__x-daily.csv"'
