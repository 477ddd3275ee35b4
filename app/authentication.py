"""API keys at the door: who a GraphQL request comes from, as a Viewer in request.state.viewer."""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from hmac import compare_digest

import psycopg
from fastapi import FastAPI
from prometheus_client import Counter
# The router's own reading of the path under a root_path (behind a proxy prefix): guarding
# a path the router would not route, or missing one it would, are both holes.
from starlette._utils import get_route_path
from starlette.datastructures import QueryParams
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocketClose

from app.export import EXPORT_PATH
from app.queries.api_keys import find_key
from app.rate_limit import SampledWarning, TokenBuckets, too_many_requests
from app.viewer import ADMIN, Viewer
from simusage.settings import Settings

logger = logging.getLogger(__name__)

# simusage_<id>_<secret>: the id is public (it names the row, shows in `apikey list` and in
# logs); the secret is 192 random bits. The prefix lets secret scanners recognise a leaked key.
KEY_ID_BYTES = 8
SECRET_BYTES = 24
KEY_FORMAT = re.compile(rf"simusage_([0-9a-f]{{{2 * KEY_ID_BYTES}}})_[0-9a-f]{{{2 * SECRET_BYTES}}}")

# How long a verified key is trusted without asking the database again: a revoked key may
# still pass for up to this long in each API worker process. The cache spares the hot path
# its one SQL lookup per request.
CACHE_SECONDS = 2.0
CACHE_ENTRIES = 10_000
# A key refused as unknown or revoked is refused again without a lookup for this long: a
# client repeating a bad key costs no database work (1,600 failures/s had raised normal
# latency from 3 ms to 47 ms). Safe: a refused key never becomes valid (a revoked one stays
# revoked, and no new key can have the digest of one already tried).
REFUSED_CACHE_SECONDS = 60.0

# Requests that go through on the GraphQL path without a key (the GraphiQL page) get a viewer
# that may see nothing, so that a resolver reached by some other route leaks nothing either.
NOBODY = Viewer(admin=False, organization_id=None)

FAILURES = Counter(
    "simusage_api_authentication_failures",
    "GraphQL requests refused for want of a valid API key, by reason.",
    ["reason"],
)
for _reason in ("missing", "malformed", "unknown", "revoked"):
    FAILURES.labels(_reason)  # exported at zero from the start, so rates work at once

Connect = Callable[[], AbstractAsyncContextManager[psycopg.AsyncConnection]]


def generate_key() -> tuple[str, str]:
    """A new key: (its public id, the whole key to hand to its holder once)."""
    key_id = secrets.token_hex(KEY_ID_BYTES)
    return key_id, f"simusage_{key_id}_{secrets.token_hex(SECRET_BYTES)}"


def key_digest(key: str) -> bytes:
    """The digest stored for a key: SHA-256 of the whole key."""
    # A slow password hash (bcrypt, argon2) makes guessing low-entropy passwords expensive.
    # Here the secret is 192 random bits: no dictionary exists and 2**192 guesses are out of
    # reach at any hash speed, so one fast SHA-256 (about a microsecond) is as safe, needs no
    # salt (no two secrets are alike), and keeps the per-request cost negligible.
    return hashlib.sha256(key.encode("ascii")).digest()


def digests_match(presented: bytes, stored: bytes) -> bool:
    """Compare two full digests in time that does not depend on where they differ."""
    return compare_digest(presented, stored)


class AuthenticationFailed(Exception):
    """No valid key: reason is one of missing, malformed, unknown, revoked."""

    def __init__(self, reason: str, key_id: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.key_id = key_id


class Authenticator:
    """Turns an Authorization header into a Viewer, or raises AuthenticationFailed."""

    def __init__(self, connect: Connect, cache_seconds: float = CACHE_SECONDS) -> None:
        self._connect = connect
        self._cache_seconds = cache_seconds
        # Keyed by digest, not by key: no key in clear stays in memory. A dict lookup compares
        # digests, and how long that takes tells nothing about the key (SHA-256 is one-way).
        self._verified: dict[bytes, tuple[float, Viewer]] = {}
        self._refused: dict[bytes, tuple[float, AuthenticationFailed]] = {}

    async def authenticate(self, authorization: str | None) -> Viewer:
        """The viewer of a valid `Bearer <key>` header value."""
        return (await self.authenticate_key(authorization))[1]

    async def authenticate_key(self, authorization: str | None) -> tuple[str, Viewer]:
        """The public id and the viewer of a valid `Bearer <key>` header value."""
        if authorization is None:
            raise AuthenticationFailed("missing")
        scheme, _, key = authorization.strip().partition(" ")
        key = key.strip()
        match = KEY_FORMAT.fullmatch(key) if scheme.lower() == "bearer" else None
        if match is None:
            raise AuthenticationFailed("malformed")
        digest = key_digest(key)
        now = time.monotonic()
        key_id = match[1]
        cached = self._verified.get(digest)
        if cached is not None and cached[0] > now:
            return key_id, cached[1]
        refused = self._refused.get(digest)
        if refused is not None and refused[0] > now:
            raise refused[1]
        async with self._connect() as connection:
            stored = await find_key(connection, key_id)
        # A wrong secret and an id that names no key are the same failure to the caller.
        failure = None
        if stored is None or not digests_match(digest, stored.secret_digest):
            failure = AuthenticationFailed("unknown", key_id)
        elif stored.revoked:
            failure = AuthenticationFailed("revoked", key_id)
        if failure is not None:
            _remember(self._refused, digest, (now + REFUSED_CACHE_SECONDS, failure))
            raise failure
        viewer = ADMIN if stored.admin else Viewer(False, stored.organization_id)
        _remember(self._verified, digest, (now + self._cache_seconds, viewer))
        return key_id, viewer


def _remember(cache: dict, digest: bytes, entry: tuple) -> None:
    if len(cache) >= CACHE_ENTRIES:
        cache.clear()
    cache[digest] = entry


MESSAGES = {
    "missing": "an API key is required: send the header Authorization: Bearer <key>",
    "malformed": "malformed Authorization header: expected Bearer simusage_<id>_<secret>",
    "unknown": "invalid API key",
    "revoked": "this API key has been revoked",
}


def _authorization(scope: Scope) -> str | None:
    values = [value for name, value in scope["headers"] if name == b"authorization"]
    if len(values) > 1:
        raise AuthenticationFailed("malformed")
    return values[0].decode("latin-1") if values else None


def _refusal(failure: AuthenticationFailed) -> JSONResponse:
    challenge = 'Bearer realm="simusage"'
    if failure.reason != "missing":
        challenge += ', error="invalid_token"'
    body = {"errors": [{"message": MESSAGES[failure.reason],
                        "extensions": {"code": "UNAUTHENTICATED"}}]}
    return JSONResponse(body, status_code=401,
                        headers={"WWW-Authenticate": challenge, "Cache-Control": "no-store"})


class AuthenticationMiddleware:
    """ASGI middleware: GraphQL operations and exports need a valid key; the rest passes."""

    def __init__(
        self, app: ASGIApp, authenticator: Authenticator | None, graphql_path: str = "/graphql",
        key_rate: float = 0.0, address_failure_rate: float = 0.0,
    ) -> None:
        self.app = app
        self.authenticator = authenticator  # None: access control is off
        self.graphql_paths = {graphql_path.rstrip("/"), graphql_path.rstrip("/") + "/"}
        # Rates of 0 are no limit. Failures are limited by address before any lookup, so a
        # client trying keys is stopped at the door; valid keys by key, whatever the address.
        self.key_requests = TokenBuckets(key_rate) if key_rate else None
        self.address_failures = TokenBuckets(address_failure_rate) if address_failure_rate else None
        self.refusals_log = SampledWarning(logger)

    def _guarded(self, scope: Scope) -> bool:
        path = get_route_path(scope)
        if path == EXPORT_PATH:
            return True  # the CSV of a series: data, as a GraphQL query's
        if path not in self.graphql_paths:
            return False  # /healthz, /readyz, /metrics, static files: no data behind them
        if scope["type"] == "websocket":
            return True  # graphql-ws runs queries too
        method = scope["method"]
        if method == "OPTIONS":
            return False  # CORS preflights never carry credentials
        # GET without a query is the GraphiQL page; Strawberry runs a GET only when `query`
        # is present (even empty), or a persisted query's hash in `extensions`.
        parameters = QueryParams(scope["query_string"])
        return method != "GET" or "query" in parameters or "extensions" in parameters

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        if self.authenticator is None:
            state["viewer"] = ADMIN
        elif not self._guarded(scope):
            state["viewer"] = NOBODY
        elif scope["type"] == "websocket" and not any(
                name == b"authorization" for name, _ in scope["headers"]):
            # Browsers cannot set headers on a WebSocket: its key comes in connection_init,
            # checked by the GraphQL view through this, with the same limits and logs.
            state["viewer"] = None
            state["authenticate"] = lambda authorization: self._authenticate(
                scope, state, authorization)
        else:
            refusal = await self._authenticate(scope, state)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        if scope["type"] == "websocket" and self.authenticator is not None and \
                state.get("viewer") is not NOBODY:
            # A socket outlives its key's revocation (its subscriptions check it again) and
            # sends many operations (each draws on the key's rate limit).
            if state["viewer"] is not None:  # its key came in the header
                state["authorization"] = _authorization(scope)
            state["key_check"] = self.authenticator.authenticate_key
            state["take_request"] = self._taker(state)
        await self.app(scope, receive, send)

    def _taker(self, state: dict):
        """A socket's operations draw on its key's requests, as HTTP requests do: the
        seconds to wait before the next one (0: go on); None without a rate limit."""
        if self.key_requests is None:
            return None
        return lambda: self.key_requests.take(state.get("key_id", "-"))

    async def _authenticate(self, scope: Scope, state: dict,
                            authorization: str | None = None) -> ASGIApp | None:
        """Set the viewer (and key_id); or the response that refuses the request.
        authorization: a WebSocket's key from connection_init, instead of the header."""
        http = scope["type"] == "http"
        address = (scope.get("client") or ("-", 0))[0]
        if self.address_failures is not None:
            wait = self.address_failures.wait(address)
            if wait:
                return too_many_requests(wait, "address") if http else WebSocketClose(1013)
        try:
            key_id, state["viewer"] = await self.authenticator.authenticate_key(
                authorization or _authorization(scope))
            state["key_id"] = key_id
        except AuthenticationFailed as failure:
            FAILURES.labels(failure.reason).inc()
            if self.address_failures is not None:
                self.address_failures.take(address)
            # The id is public; the header, which holds the secret, is never logged.
            self.refusals_log.warning("API request refused: %s key (id %s) from %s",
                                      failure.reason, failure.key_id or "-", address)
            return _refusal(failure) if http else WebSocketClose(1008)
        except psycopg.Error as error:
            logger.error("cannot verify API keys, database unavailable: %s", error)
            body = {"errors": [{"message": "authentication is unavailable, retry later"}]}
            return JSONResponse(body, status_code=503) if http else WebSocketClose(1011)
        if self.key_requests is not None:
            wait = self.key_requests.take(key_id)
            if wait:
                return too_many_requests(wait, "key") if http else WebSocketClose(1013)
        return None


def install_authentication(app: FastAPI, settings: Settings, connect: Connect) -> None:
    """Guard the GraphQL endpoint with API keys; with auth off, everyone is admin."""
    if settings.auth == "off":
        logger.warning("access control is OFF (SIMUSAGE_AUTH=off): every request sees everything")
        app.add_middleware(AuthenticationMiddleware, authenticator=None)
    else:
        app.add_middleware(
            AuthenticationMiddleware, authenticator=Authenticator(connect),
            key_rate=settings.api_rate_limit, address_failure_rate=settings.api_address_rate_limit,
        )
