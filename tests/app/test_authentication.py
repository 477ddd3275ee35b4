"""The authentication middleware on a tiny app over a real database: who gets in, as whom."""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import Iterator
from contextlib import asynccontextmanager
from types import SimpleNamespace

import psycopg
import pytest
from fastapi import FastAPI, Request, WebSocket
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY, generate_latest
from psycopg_pool import AsyncConnectionPool
from starlette.responses import Response
from starlette.websockets import WebSocketDisconnect

from app import authentication
from app.authentication import (
    NOBODY,
    AuthenticationFailed,
    AuthenticationMiddleware,
    Authenticator,
    generate_key,
    install_authentication,
    key_digest,
)
from app.queries import api_keys
from app.viewer import Viewer
from tests.conftest import settings_for

QUERY = {"query": "{ organizations { totalCount } }"}


def create_key(url: str, organization_id: str | None, revoked: bool = False) -> str:
    """A new key in the database at url (admin when organization_id is None)."""
    key_id, key = generate_key()
    with psycopg.connect(url) as connection:
        api_keys.insert_key(connection, key_id, "test", organization_id, key_digest(key))
        if revoked:
            api_keys.revoke_key(connection, key_id)
    return key


def revoke(url: str, key: str) -> None:
    with psycopg.connect(url) as connection:
        api_keys.revoke_key(connection, key.split("_")[1])


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def failures(reason: str) -> float:
    """The failure counter's current value for reason."""
    labels = {"reason": reason}
    return REGISTRY.get_sample_value("simusage_api_authentication_failures_total", labels) or 0.0


def settings_with_auth(url: str, auth: str = "on"):
    """Test settings for url with access control on or off (settings_for turns it off)."""
    return settings_for(url).model_copy(update={"auth": auth})


def tiny_app(url: str, auth: str = "on", cache_seconds: float | None = None,
             **limits: float) -> FastAPI:
    """A FastAPI app whose /graphql answers with the viewer the middleware set."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        async with AsyncConnectionPool(url, min_size=1, max_size=2, open=False) as pool:
            app.state.pool = pool
            yield

    app = FastAPI(lifespan=lifespan)
    connect = lambda: app.state.pool.connection()  # noqa: E731 - the pool opens with the app
    if cache_seconds is None:
        # No rate limits unless asked: this module's tests send many failures from one client.
        rates = {"api_rate_limit": 0, "api_address_rate_limit": 0, **limits}
        install_authentication(app, settings_with_auth(url, auth).model_copy(update=rates), connect)
    else:
        app.add_middleware(AuthenticationMiddleware,
                           authenticator=Authenticator(connect, cache_seconds=cache_seconds))

    @app.api_route("/graphql", methods=["GET", "POST"])
    async def graphql(request: Request) -> dict:
        viewer = request.state.viewer
        return {"admin": viewer.admin, "organization": viewer.organization_id}

    @app.websocket("/graphql")
    async def graphql_socket(websocket: WebSocket) -> None:
        await websocket.accept()
        if websocket.state.viewer is None:  # no header: the key comes in the first message
            authorization = (await websocket.receive_json()).get("authorization")
            if await websocket.state.authenticate(authorization) is not None:
                await websocket.close(4403)
                return
        await websocket.send_json({"organization": websocket.state.viewer.organization_id})
        await websocket.close()

    @app.get("/healthz")
    async def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(), media_type="text/plain")

    return app


@pytest.fixture(scope="module")
def client(module_database: str) -> Iterator[TestClient]:
    """The tiny app over one database for the module: each test makes keys of its own."""
    with TestClient(tiny_app(module_database)) as test_client:
        yield test_client


def refused(response, reason_message: str) -> None:
    """A 401 with a Bearer challenge, a JSON error and no data."""
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith('Bearer realm="simusage"')
    body = response.json()
    assert set(body) == {"errors"}
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert reason_message in body["errors"][0]["message"]


def test_organization_key_gets_its_viewer(client: TestClient, module_database: str) -> None:
    key = create_key(module_database, "f00ff")
    response = client.post("/graphql", json=QUERY, headers=bearer(key))
    assert response.json() == {"admin": False, "organization": "f00ff"}


def test_admin_key_gets_the_admin_viewer(client: TestClient, module_database: str) -> None:
    key = create_key(module_database, None)
    response = client.post("/graphql", json=QUERY, headers=bearer(key))
    assert response.json() == {"admin": True, "organization": None}


def test_bearer_scheme_is_case_insensitive(client: TestClient, module_database: str) -> None:
    key = create_key(module_database, "a01b7")
    response = client.post("/graphql", json=QUERY, headers={"Authorization": f"bearer  {key}"})
    assert response.json()["organization"] == "a01b7"


def test_missing_key_is_refused_and_counted(client: TestClient) -> None:
    before = failures("missing")
    for response in (client.post("/graphql", json=QUERY),
                     client.get("/graphql", params=QUERY),
                     client.get("/graphql", params={"query": ""}),
                     client.put("/graphql", json=QUERY)):
        refused(response, "an API key is required")
        assert "error=" not in response.headers["www-authenticate"]
    assert failures("missing") == before + 4


@pytest.mark.parametrize("header", [
    "Basic dXNlcjpwYXNz",
    "Bearer",
    "Bearer ",
    "Bearer simusage_nope",
    "Bearer simusage_0123456789ABCDEF_" + "0" * 48,  # upper case: not a key we make
    "Bearer simusage_0123456789abcdef_" + "0" * 47,  # one secret digit short
    "Token simusage_0123456789abcdef_" + "0" * 48,
])
def test_malformed_header_is_refused_and_counted(client: TestClient, header: str) -> None:
    before = failures("malformed")
    response = client.post("/graphql", json=QUERY, headers={"Authorization": header})
    refused(response, "malformed Authorization header")
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert failures("malformed") == before + 1


def test_two_authorization_headers_are_malformed(client: TestClient, module_database) -> None:
    key = create_key(module_database, "f00ff")
    headers = [("Authorization", f"Bearer {key}"), ("Authorization", f"Bearer {key}")]
    refused(client.post("/graphql", json=QUERY, headers=headers), "malformed")


def test_unknown_id_and_wrong_secret_are_the_same_failure(
    client: TestClient, module_database: str
) -> None:
    key = create_key(module_database, "f00ff")
    wrong_secret = key[:-1] + ("0" if key[-1] != "0" else "1")
    _, unknown_id = generate_key()
    before = failures("unknown")
    answers = [client.post("/graphql", json=QUERY, headers=bearer(k))
               for k in (wrong_secret, unknown_id)]
    for response in answers:
        refused(response, "invalid API key")
    assert answers[0].json() == answers[1].json()
    assert failures("unknown") == before + 2


def test_revoked_key_is_refused_and_counted(client: TestClient, module_database: str) -> None:
    key = create_key(module_database, "f00ff", revoked=True)
    before = failures("revoked")
    refused(client.post("/graphql", json=QUERY, headers=bearer(key)), "revoked")
    assert failures("revoked") == before + 1
    # Only the holder of the secret learns that the key was revoked.
    wrong_secret = key[:-1] + ("0" if key[-1] != "0" else "1")
    refused(client.post("/graphql", json=QUERY, headers=bearer(wrong_secret)), "invalid API key")


def test_revocation_takes_effect_within_the_cache_time(module_database: str) -> None:
    key = create_key(module_database, "f00ff")
    with TestClient(tiny_app(module_database, cache_seconds=0.3)) as client:
        assert client.post("/graphql", json=QUERY, headers=bearer(key)).status_code == 200
        revoke(module_database, key)
        # Still trusted from the cache: no database lookup for this request.
        assert client.post("/graphql", json=QUERY, headers=bearer(key)).status_code == 200
        time.sleep(0.35)
        refused(client.post("/graphql", json=QUERY, headers=bearer(key)), "revoked")


def test_failures_are_logged_sampled_and_without_the_key(
    client: TestClient, module_database: str, caplog: pytest.LogCaptureFixture
) -> None:
    key = create_key(module_database, "f00ff", revoked=True)
    secret = key.rsplit("_", 1)[1]
    _, unknown = generate_key()
    caplog.set_level(logging.WARNING, logger="app.authentication")
    time.sleep(1.1)  # past the interval of any line logged before
    for header in (f"Bearer {key}", f"Bearer {unknown}", f"Basic {secret}", f"Bearer {secret}"):
        client.post("/graphql", json=QUERY, headers={"Authorization": header})
    time.sleep(1.1)
    client.post("/graphql", json=QUERY, headers={"Authorization": f"Bearer {unknown}"})
    lines = [record.getMessage() for record in caplog.records if "refused" in record.getMessage()]
    # One line a second at most, and the next one says how many were left out.
    assert len(lines) == 2, lines
    assert "revoked key (id " + key.split("_")[1] in lines[0]
    assert "unknown key" in lines[1] and "and 3 more like it not logged" in lines[1]
    for leaked in (key, secret, unknown, unknown.rsplit("_", 1)[1]):
        assert leaked not in caplog.text


def test_graphiql_page_health_and_metrics_need_no_key(client: TestClient) -> None:
    page = client.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert page.json() == {"admin": NOBODY.admin, "organization": NOBODY.organization_id}
    assert client.get("/healthz").status_code == 200
    metrics = client.get("/metrics")
    assert metrics.status_code == 200
    assert 'simusage_api_authentication_failures_total{reason="revoked"}' in metrics.text
    assert client.options("/graphql").status_code != 401  # CORS preflights carry no key


def test_a_root_path_does_not_open_a_way_around(module_database: str) -> None:
    with TestClient(tiny_app(module_database), root_path="/behind/proxy") as client:
        refused(client.post("/graphql", json=QUERY), "an API key is required")
        refused(client.post("/behind/proxy/graphql", json=QUERY), "an API key is required")


def test_websocket_needs_a_key(client: TestClient, module_database: str) -> None:
    with pytest.raises(WebSocketDisconnect) as closed:
        with client.websocket_connect("/graphql", headers=bearer("simusage_nope")) as socket:
            socket.receive_json()
    assert closed.value.code == 1008
    key = create_key(module_database, "x00g8")
    with client.websocket_connect("/graphql", headers=bearer(key)) as socket:
        assert socket.receive_json() == {"organization": "x00g8"}
    # Without a header (browsers cannot set one), the key comes in a message, checked alike.
    for authorization in (None, "Bearer simusage_nope", f"Bearer {key}x"):
        with pytest.raises(WebSocketDisconnect) as closed:
            with client.websocket_connect("/graphql") as socket:
                socket.send_json({"authorization": authorization})
                socket.receive_json()
        assert closed.value.code == 4403
    with client.websocket_connect("/graphql") as socket:
        socket.send_json({"authorization": f"Bearer {key}"})
        assert socket.receive_json() == {"organization": "x00g8"}


def test_access_control_off_makes_everyone_admin(module_database: str) -> None:
    with TestClient(tiny_app(module_database, auth="off")) as client:
        for headers in ({}, {"Authorization": "Bearer garbage"}):
            response = client.post("/graphql", json=QUERY, headers=headers)
            assert response.json() == {"admin": True, "organization": None}


def test_unreachable_database_is_503_not_401(module_database: str) -> None:
    missing = module_database.rsplit("/", 1)[0] + "/simusage_no_such_database"

    @asynccontextmanager
    async def connect():
        async with await psycopg.AsyncConnection.connect(missing) as connection:
            yield connection

    app = FastAPI()
    app.add_middleware(AuthenticationMiddleware, authenticator=Authenticator(connect))
    app.add_api_route("/graphql", lambda: {}, methods=["POST"])
    with TestClient(app) as client:
        response = client.post("/graphql", json=QUERY, headers=bearer(generate_key()[1]))
    assert response.status_code == 503
    assert "unavailable" in response.json()["errors"][0]["message"]


def test_verification_compares_full_digests_in_constant_time(
    module_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where a wrong key differs (first or last secret digit) cannot change the work done.

    Timing medians at the microsecond scale are noise under a loaded CI runner, so this
    checks the structure instead: every check, whatever the mistake, ends in one
    hmac.compare_digest over two full 32-byte SHA-256 digests, whose running time depends
    only on their length; the key itself is never compared.
    """
    key = create_key(module_database, "f00ff")
    prefix, secret = key.rsplit("_", 1)
    flip = {"0": "1"}.get
    first_wrong = f"{prefix}_{flip(secret[0], '0')}{secret[1:]}"
    last_wrong = f"{prefix}_{secret[:-1]}{flip(secret[-1], '0')}"
    comparisons: list[tuple[bytes, bytes]] = []
    assert authentication.compare_digest is hmac.compare_digest

    def spy(presented: bytes, stored: bytes) -> bool:
        comparisons.append((presented, stored))
        return hmac.compare_digest(presented, stored)

    monkeypatch.setattr(authentication, "compare_digest", spy)

    async def check(candidate: str) -> Viewer | str:
        async with AsyncConnectionPool(module_database, min_size=1, open=False) as pool:
            authenticator = Authenticator(pool.connection)
            try:
                return await authenticator.authenticate(f"Bearer {candidate}")
            except AuthenticationFailed as failure:
                return failure.reason

    assert asyncio.run(check(first_wrong)) == "unknown"
    assert asyncio.run(check(last_wrong)) == "unknown"
    assert asyncio.run(check(key)) == Viewer(False, "f00ff")
    stored = key_digest(key)
    assert [len(a) == len(b) == 32 and b == stored for a, b in comparisons] == [True] * 3


def counted_lookups(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The key ids looked up in the database from now on (the real lookup still runs)."""
    lookups: list[str] = []
    real_find_key = authentication.find_key

    async def counted(connection, key_id):
        lookups.append(key_id)
        return await real_find_key(connection, key_id)

    monkeypatch.setattr(authentication, "find_key", counted)
    return lookups


def test_a_key_over_its_rate_gets_429_then_recovers(module_database: str) -> None:
    key = create_key(module_database, "f00ff")
    with TestClient(tiny_app(module_database, api_rate_limit=5)) as limited:
        answers = [limited.post("/graphql", json=QUERY, headers=bearer(key)) for _ in range(11)]
        assert [answer.status_code for answer in answers[:10]] == [200] * 10  # a burst of 2 s
        assert answers[10].status_code == 429
        assert answers[10].headers["retry-after"] == "1"
        assert answers[10].json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        other = create_key(module_database, "f00ff")  # another key is not held back
        assert limited.post("/graphql", json=QUERY, headers=bearer(other)).status_code == 200
        time.sleep(1.0)
        assert limited.post("/graphql", json=QUERY, headers=bearer(key)).status_code == 200


def test_an_address_sending_bad_keys_is_stopped_before_any_lookup(
    module_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    lookups = counted_lookups(monkeypatch)
    # The buckets' clock stands still: no token comes back however slow the machine is.
    monkeypatch.setattr("app.rate_limit.time", SimpleNamespace(monotonic=lambda: 1000.0))
    with TestClient(tiny_app(module_database, api_address_rate_limit=5)) as limited:
        statuses = [limited.post("/graphql", json=QUERY, headers=bearer(generate_key()[1])).status_code
                    for _ in range(30)]
    assert statuses[:10] == [401] * 10 and set(statuses[10:]) == {429}, statuses
    assert len(lookups) == 10


def test_a_refused_key_is_refused_again_without_a_lookup(
    module_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    revoked = create_key(module_database, "f00ff", revoked=True)
    _, unknown = generate_key()
    lookups = counted_lookups(monkeypatch)
    with TestClient(tiny_app(module_database)) as fresh:
        for _ in range(50):
            refused(fresh.post("/graphql", json=QUERY, headers=bearer(revoked)), "revoked")
            refused(fresh.post("/graphql", json=QUERY, headers=bearer(unknown)), "invalid")
    assert len(lookups) == 2
