"""The app over HTTP: GraphiQL offline, health and readiness, metrics, CORS, sessions, access."""

from __future__ import annotations

import asyncio
import re

import psycopg
from fastapi.testclient import TestClient

from app.database import Database
from app.main import create_app
from simusage.migration import head_revision
from simusage.settings import load_settings
from tests.app.conftest import graphql
from tests.conftest import settings_for

EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", re.IGNORECASE)


def test_graphiql_is_served_without_any_external_host(client: TestClient) -> None:
    page = client.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "GraphiQL" in page.text
    assert not EXTERNAL.search(page.text), EXTERNAL.search(page.text)
    assert "unpkg" not in page.text and "cdn" not in page.text.lower()
    links = re.findall(r"""(?:src|href)="([^"]+)\"""", page.text)
    assets = [link for link in links if link != "/"]  # "/": the link to the dashboard
    assert len(assets) == 8 and len(links) == 9
    for asset in [*assets, "/"]:
        assert asset == "/" or asset.startswith("/static/graphiql/")
        response = client.get(asset)
        assert response.status_code == 200 and len(response.content) > 50, asset


def test_introspection_and_get_queries(client: TestClient) -> None:
    body = graphql(client, "{ __schema { queryType { name } } }")
    assert body == {"data": {"__schema": {"queryType": {"name": "Query"}}}}
    response = client.get("/graphql", params={"query": "{ organizations { totalCount } }"})
    assert response.json() == {"data": {"organizations": {"totalCount": 0}}}


def test_health_and_readiness(client: TestClient, api_settings) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready", "revision": head_revision()}
    with psycopg.connect(api_settings.database_url, autocommit=True) as connection:
        connection.execute("UPDATE alembic_version SET version_num = '0001'")
    response = client.get("/readyz")
    assert response.status_code == 503 and "simusage migrate" in response.json()["reason"]


def test_not_ready_without_a_database() -> None:
    settings = settings_for("postgresql://nobody:wrong@127.0.0.1:1/none")
    with TestClient(create_app(settings)) as client:
        assert client.get("/healthz").status_code == 200
        response = client.get("/readyz")
        assert response.status_code == 503 and "unreachable" in response.json()["reason"]


def test_metrics_count_operations_and_errors(api_settings) -> None:
    settings = settings_for(api_settings.database_url, SIMUSAGE_METRICS_OPERATIONS="Demo, Other2")
    with TestClient(create_app(settings)) as client:
        graphql(client, "query Demo { organizations { totalCount } }")
        graphql(client, '{ simCards(first: -1) { totalCount } }')
        text = client.get("/metrics").text
    assert 'simusage_graphql_requests_total{operation="Demo"}' in text
    assert 'simusage_graphql_request_duration_seconds_bucket{le="0.005",operation="Demo"}' in text
    assert re.search(r'simusage_graphql_errors_total\{code="BAD_USER_INPUT"\} [1-9]', text)


def test_metrics_labels_are_not_chosen_by_clients(client: TestClient) -> None:
    names = [f"Customer{index}OfAcme" for index in range(1000)]
    for name in names:
        graphql(client, f"query {name} {{ __typename }}")
    text = client.get("/metrics").text
    labels = set(re.findall(r'simusage_graphql_requests_total\{operation="([^"]*)"\}', text))
    assert "Customer7OfAcme" not in text
    assert "other" in labels and len(labels) <= 5, labels


def test_cors_allows_only_the_configured_origins(api_settings) -> None:
    settings = settings_for(api_settings.database_url, SIMUSAGE_CORS_ORIGINS="https://app.example")
    preflight = {"Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization,content-type"}
    with TestClient(create_app(settings)) as client:
        allowed = client.options("/graphql", headers={"Origin": "https://app.example", **preflight})
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == "https://app.example"
        refused = client.options("/graphql", headers={"Origin": "https://evil.example", **preflight})
        assert "access-control-allow-origin" not in refused.headers
    with TestClient(create_app(api_settings)) as client:  # none by default
        response = client.post("/graphql", json={"query": "{ __typename }"},
                               headers={"Origin": "https://app.example"})
        assert "access-control-allow-origin" not in response.headers


def test_every_connection_is_read_only_utc_and_under_the_statement_timeout(api_settings) -> None:
    settings = settings_for(api_settings.database_url, SIMUSAGE_STATEMENT_TIMEOUT_MS="1234")

    async def session() -> list:
        database = Database(settings)
        await database.pool.open(wait=True)
        try:
            async with database.connection() as connection:
                values = []
                for name in ("statement_timeout", "TimeZone", "default_transaction_read_only"):
                    values.append((await (await connection.execute(f"SHOW {name}")).fetchone())[0])
                try:
                    await connection.execute("CREATE TABLE forbidden (x int)")
                except psycopg.errors.ReadOnlySqlTransaction:
                    values.append("read-only")
                return values
        finally:
            await database.close()

    assert asyncio.run(session()) == ["1234ms", "UTC", "on", "read-only"]


def test_without_a_viewer_access_control_refuses(api_settings) -> None:
    settings = load_settings(DATABASE_URL=api_settings.database_url, SIMUSAGE_AUTH="on")
    with TestClient(create_app(settings)) as client:
        response = client.post("/graphql", json={"query": "{ organizations { totalCount } }"})
        assert response.status_code == 401
        assert "totalCount" not in response.text
