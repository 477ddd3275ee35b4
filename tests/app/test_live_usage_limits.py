"""usageUpdates' limits over a real `simusage serve`: per connection and per key, slow clients,
oversized messages, revoked keys."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import timedelta

import httpx
import pytest
import websockets

from tests.app.serving import running_api
from tests.app.test_authentication import create_key, revoke
from tests.app.test_live_usage import (
    INVENTORY, START, Writer, _next, _socket, _subscribe,
)
from tests.app.usage_data import load
from tests.ingest.helpers import value

log = logging.getLogger(__name__)


def _code(message: dict) -> str:
    errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
    return errors[0]["extensions"]["code"]


def test_subscriptions_are_limited_per_connection_and_per_key(postgres_database: str) -> None:
    load(postgres_database, INVENTORY)
    key = create_key(postgres_database, "org-a")
    limits = {"SIMUSAGE_AUTH": "on", "SIMUSAGE_API_MAX_SUBSCRIPTIONS_PER_CONNECTION": "2",
              "SIMUSAGE_API_MAX_SUBSCRIPTIONS_PER_KEY": "3"}
    watched = {"organization": "org-a", "granularity": "HOURLY"}
    with running_api(postgres_database, **limits) as url:
        async def scenario() -> None:
            first = await _socket(url, {"apiKey": key})
            assert (await _next(first))["type"] == "connection_ack"
            for operation in ("1", "2", "3"):
                await _subscribe(first, watched, operation)
            message = await _next(first)
            assert message["id"] == "3" and _code(message) == "TOO_MANY_SUBSCRIPTIONS"
            second = await _socket(url, {"apiKey": key})
            assert (await _next(second))["type"] == "connection_ack"
            await _subscribe(second, watched, "4")
            await _subscribe(second, watched, "5")  # the key's fourth
            message = await _next(second)
            assert message["id"] == "5" and _code(message) == "TOO_MANY_SUBSCRIPTIONS"
            await first.close()  # its two end: the key may open others
            await asyncio.sleep(0.3)
            await _subscribe(second, watched, "6")
            await asyncio.sleep(0.3)
            Writer(postgres_database).write([value("89440001", 3, START)])
            received = {(await _next(second))["id"], (await _next(second))["id"]}
            assert received == {"4", "6"}
            await second.close()

        asyncio.run(scenario())


def test_a_subscriber_whose_updates_pile_up_is_dropped(postgres_database: str) -> None:
    load(postgres_database, INVENTORY)
    with running_api(postgres_database, SIMUSAGE_API_SUBSCRIPTION_QUEUE="5") as url:
        async def scenario() -> None:
            socket = await _socket(url, {})
            assert (await _next(socket))["type"] == "connection_ack"
            await _subscribe(socket, {"organization": "org-a", "granularity": "HOURLY"})
            await asyncio.sleep(0.3)
            # Twenty buckets at once, more than the five that may wait for this client.
            Writer(postgres_database).write(
                [value("89440001", 1, START + timedelta(hours=hour)) for hour in range(20)])
            message = await _next(socket)
            assert message["type"] == "next" and _code(message) == "SUBSCRIBER_TOO_SLOW"
            metrics = httpx.get(f"{url}/metrics").text
            assert "simusage_subscribers_dropped_total 1.0" in metrics
            assert "simusage_websocket_connections 1.0" in metrics
            assert "simusage_subscriptions 0.0" in metrics
            await socket.close()

        asyncio.run(scenario())


def test_a_websocket_message_over_the_request_limit_closes_the_socket(postgres_database: str) -> None:
    with running_api(postgres_database, SIMUSAGE_API_MAX_REQUEST_BYTES="4096") as url:
        async def scenario() -> None:
            socket = await _socket(url, {})
            assert (await _next(socket))["type"] == "connection_ack"
            await socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": {
                "query": "{ __typename }" + " " * 10_000}}))
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await _next(socket)
            assert closed.value.rcvd.code == 1009

        asyncio.run(scenario())


def test_a_revoked_keys_subscriptions_end(postgres_database: str) -> None:
    load(postgres_database, INVENTORY)
    in_init, in_header = create_key(postgres_database, "org-a"), create_key(postgres_database, "org-a")
    with running_api(postgres_database, SIMUSAGE_AUTH="on") as url:
        async def scenario() -> None:
            first = await _socket(url, {"apiKey": in_init})
            second = await websockets.connect(
                url.replace("http", "ws") + "/graphql", subprotocols=["graphql-transport-ws"],
                additional_headers={"Authorization": f"Bearer {in_header}"})
            await second.send(json.dumps({"type": "connection_init", "payload": {}}))
            for socket in (first, second):
                assert (await _next(socket))["type"] == "connection_ack"
                await _subscribe(socket, {"organization": "org-a", "granularity": "HOURLY"})
            await asyncio.sleep(0.5)
            revoke(postgres_database, in_init)
            revoke(postgres_database, in_header)
            revoked = time.monotonic()
            for socket in (first, second):
                message = await _next(socket, 10)
                assert _code(message) == "UNAUTHENTICATED", message
                assert "revoked" in message["payload"]["errors"][0]["message"]
            log.warning("subscriptions of revoked keys ended %.1f s after the revocation",
                        time.monotonic() - revoked)
            for socket in (first, second):
                await socket.close()

        asyncio.run(scenario())


def test_operations_over_a_websocket_draw_on_the_keys_rate_limit(postgres_database: str) -> None:
    load(postgres_database, INVENTORY)
    key = create_key(postgres_database, "org-a")
    limits = {"SIMUSAGE_AUTH": "on", "SIMUSAGE_API_RATE_LIMIT": "2",
              "SIMUSAGE_API_MAX_SUBSCRIPTIONS_PER_CONNECTION": "100"}
    with running_api(postgres_database, **limits) as url:
        async def scenario() -> None:
            socket = await _socket(url, {"apiKey": key})
            assert (await _next(socket))["type"] == "connection_ack"
            with pytest.raises(websockets.ConnectionClosed) as closed:
                for operation in range(20):  # bursts of twice the rate, then refused
                    await socket.send(json.dumps({"id": str(operation), "type": "subscribe",
                                                  "payload": {"query": "{ __typename }"}}))
                    await _next(socket)
            assert closed.value.rcvd.code == 4429

        asyncio.run(scenario())
