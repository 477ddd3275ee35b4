"""The framework-free ceiling for bench/api.py: FastAPI endpoints that run the API's aggregate SQL
and return its rows as JSON, with no GraphQL in between.

    DATABASE_URL=... uvicorn bare_api:create_app --factory --app-dir bench --workers 2
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import orjson
from fastapi import FastAPI
from fastapi.responses import Response
from psycopg_pool import AsyncConnectionPool

from app.queries.usage import DAILY, HOURLY, ORGANIZATION, PAGE_STATEMENTS, SIM_CARD


def _rows(rows: list[tuple]) -> bytes:
    return orjson.dumps([
        {"start": bucket, "bytesUsed": str(bytes_used), "eventCount": str(event_count)}
        for _, bucket, bytes_used, event_count in rows
    ])


def create_app() -> FastAPI:
    """The bare app over DATABASE_URL."""
    pool = AsyncConnectionPool(
        os.environ["DATABASE_URL"], min_size=1, max_size=10, open=False,
        kwargs={"autocommit": True, "prepare_threshold": 0},
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await pool.open()
        yield
        await pool.close()

    app = FastAPI(lifespan=lifespan, openapi_url=None, docs_url=None, redoc_url=None)

    async def run(statement: str, key: str, start: str, end: str) -> Response:
        parameters = ([key], datetime.fromisoformat(start).replace(tzinfo=UTC),
                      datetime.fromisoformat(end).replace(tzinfo=UTC))
        async with pool.connection() as connection:
            rows = await (await connection.execute(statement, parameters)).fetchall()
        return Response(_rows(rows), media_type="application/json")

    @app.get("/healthz")
    async def healthz() -> Response:
        async with pool.connection() as connection:
            await connection.execute("SELECT 1")
        return Response(b"{}", media_type="application/json")

    @app.get("/sim-card-hourly/{card}")
    async def sim_card_hourly(card: str, start: str, end: str) -> Response:
        return await run(PAGE_STATEMENTS[SIM_CARD, HOURLY], card, start, end)

    @app.get("/organization-daily/{organization}")
    async def organization_daily(organization: str, start: str, end: str) -> Response:
        return await run(PAGE_STATEMENTS[ORGANIZATION, DAILY], organization, start, end)

    return app
