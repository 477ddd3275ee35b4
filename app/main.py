"""The API application: GraphQL (and GraphiQL) at /graphql, health, readiness and metrics."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import psycopg
import psycopg_pool
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from app.authentication import install_authentication
from app.change_feed import ChangeFeed
from app.database import Database
from app.export import EXPORT_PATH, UsageExport
from app.graphql_endpoint import GraphQLEndpoint
from app.limits import ClientDisconnects, RequestSizeLimit
from app.live_usage import LiveUsage
from app.metrics import metrics_response
from app.response_cache import ResponseCache
from app.schema import build_schema
from app.security_headers import SecurityHeaders
from simusage.migration import head_revision
from simusage.settings import Settings, get_settings

STATIC = Path(__file__).resolve().parent / "static"
DASHBOARD_PAGE = (STATIC / "dashboard" / "index.html").read_text()
READINESS_TIMEOUT_SECONDS = 2.0


async def readiness(database: Database, head: str, replica: bool = False) -> JSONResponse:
    """200 when the database answers and is migrated to the code's head revision, else 503;
    with a read replica, its lag too."""
    try:
        revision = await asyncio.wait_for(database.migration_revision(), READINESS_TIMEOUT_SECONDS)
        lag = await asyncio.wait_for(database.replica_lag(), READINESS_TIMEOUT_SECONDS) \
            if replica else None
    except (TimeoutError, psycopg.Error, psycopg_pool.PoolTimeout) as error:
        reason = f"database unreachable: {type(error).__name__}"
        return JSONResponse({"status": "unavailable", "reason": reason}, status_code=503)
    if revision != head:
        reason = f"database at migration {revision}, code expects {head}: run simusage migrate"
        return JSONResponse({"status": "unavailable", "reason": reason}, status_code=503)
    body: dict = {"status": "ready", "revision": revision}
    if lag is not None:
        body["replica"] = {"standby": lag[0], "lag_seconds": round(lag[1], 3)}
    return JSONResponse(body)


def create_app(settings: Settings) -> FastAPI:
    """The ASGI application of the API."""
    database = Database(settings)
    schema = build_schema(settings.api_max_tokens, settings.api_max_depth, settings.api_max_aliases,
                          settings.metrics_operation_names, settings.api_max_cost)
    head = head_revision()

    replica = database if settings.read_database_url else None
    feed = ChangeFeed(settings.database_url, replica) if settings.change_feed == "on" else None
    live = cache = None
    if feed is not None:
        live = LiveUsage(database, settings.api_max_subscriptions_per_key,
                         settings.api_subscription_queue)
        feed.add_listener(live.on_change)
        if settings.api_cache_bytes:
            cache = ResponseCache(feed, settings.api_cache_bytes)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await database.open()
        if feed is not None:
            await live.start()
            await feed.start()
        # The 120,000 objects of the loaded modules and schema never die: frozen, the rare
        # full collections skip them (measured: longest pause 70 ms before, 13 ms after).
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            if feed is not None:
                await feed.stop()
                await live.stop()
            await database.close()

    app = FastAPI(
        title="simusage", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None
    )
    app.state.database = database
    app.state.change_feed = feed
    endpoint = GraphQLEndpoint(schema, settings, database, live, cache)
    app.add_route("/graphql", endpoint, methods=["GET", "POST"])
    app.router.add_websocket_route("/graphql", endpoint)
    export = UsageExport(database, settings.api_max_nodes, settings.auth == "off")
    app.add_route(EXPORT_PATH, export.respond, methods=["GET"])
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/")
    async def dashboard() -> Response:  # a client of /graphql only: no data behind this route
        return HTMLResponse(DASHBOARD_PAGE)

    @app.get("/healthz")
    async def healthz() -> Response:
        return JSONResponse({"status": "ok"})

    @app.get("/readyz")
    async def readyz() -> Response:
        return await readiness(database, head, replica is not None)

    if not settings.metrics_port:  # else served on its own address by `simusage serve`
        @app.get("/metrics")
        async def metrics(request: Request) -> Response:
            return metrics_response(request)

    # Starlette runs the last added middleware first: security headers, CORS, then the size
    # limit, then authentication, so that refusals too carry the headers a browser reads.
    install_authentication(app, settings, database.connection)
    app.add_middleware(RequestSizeLimit, max_bytes=settings.api_max_request_bytes)
    if settings.cors_origin_list:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origin_list,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
            max_age=600,
        )
    app.add_middleware(SecurityHeaders)
    app.add_middleware(ClientDisconnects)
    return app


def create_app_from_environment() -> FastAPI:
    """The application for uvicorn's factory mode: settings from the environment."""
    return create_app(get_settings())
