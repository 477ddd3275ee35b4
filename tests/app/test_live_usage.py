"""usageUpdates over a real `simusage serve`: graphql-transport-ws, the change feed, the limits."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import statistics
import time
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest
import websockets

from ingest.encoding import RowEncoder, prepare
from ingest.writer import prepare_connection, write_batch
from tests.app.serving import running_api
from tests.app.test_authentication import create_key
from tests.app.usage_data import load
from tests.ingest.helpers import batch_of, constant_owners, value

log = logging.getLogger(__name__)
INVENTORY = {"89440001": "org-a", "89440002": "org-a", "89440003": "org-b"}
START = datetime(2024, 3, 30, 22, tzinfo=UTC)  # Lisbon's spring-forward night, in UTC hours
SUBSCRIBE = """subscription ($organization: ID, $card: ID, $granularity: Granularity!, $zone: String) {
  usageUpdates(organizationId: $organization, simCardId: $card, granularity: $granularity,
               timeZone: $zone) {
    simCardId organizationId bucket { start bytesUsed eventCount } } }"""
TOTALS = """query ($organization: ID!, $from: DateTime!, $to: DateTime!, $granularity: Granularity!,
                 $zone: String) {
  organization(id: $organization) { usage(from: $from, to: $to, granularity: $granularity,
                                          timeZone: $zone, skipEmpty: true) {
    edges { node { start bytesUsed eventCount } } } } }"""


class Writer:
    """Batches written as the worker writes them (its own writer), one transaction each."""

    def __init__(self, url: str) -> None:
        self.connection = psycopg.connect(url, autocommit=True)
        prepare_connection(self.connection, "postgres")
        self.owners = constant_owners(INVENTORY)
        self.offset = 0

    def write(self, values: list[bytes]) -> float:
        """Write and commit; the time of the commit."""
        batch = batch_of(values, start=self.offset)
        self.offset += len(values)
        prepared = prepare(batch, batch.cards(), RowEncoder(self.owners), set(), mode="postgres",
                           use_copy=True)
        with self.connection.transaction():
            write_batch(self.connection, "t", prepared, mode="postgres")
        return time.time()


async def _socket(url: str, init: dict):
    socket = await websockets.connect(url.replace("http", "ws") + "/graphql",
                                      subprotocols=["graphql-transport-ws"])
    await socket.send(json.dumps({"type": "connection_init", "payload": init}))
    return socket


async def _subscribe(socket, variables: dict, operation: str = "1") -> None:
    await socket.send(json.dumps({"id": operation, "type": "subscribe",
                                  "payload": {"query": SUBSCRIBE, "variables": variables}}))


async def _next(socket, timeout: float = 5.0) -> dict:
    """The next message but the `complete` that follows an operation's error."""
    while True:
        message = json.loads(await asyncio.wait_for(socket.recv(), timeout))
        if message["type"] != "complete":
            return message


def _final(url: str, variables: dict) -> dict[str, tuple[int, int]]:
    body = httpx.post(f"{url}/graphql", json={"query": TOTALS, "variables": {
        **variables, "from": "2024-03-29T00:00:00Z", "to": "2024-04-03T00:00:00+01:00"}}).json()
    edges = body["data"]["organization"]["usage"]["edges"]
    return {edge["node"]["start"]: (int(edge["node"]["bytesUsed"]), int(edge["node"]["eventCount"]))
            for edge in edges}


@pytest.mark.parametrize("granularity,zone", [("HOURLY", "UTC"), ("DAILY", "Europe/Lisbon")])
def test_a_subscriber_gets_every_changed_buckets_exact_total(
    postgres_database: str, granularity: str, zone: str
) -> None:
    load(postgres_database, INVENTORY)
    writer = Writer(postgres_database)
    variables = {"organization": "org-a", "granularity": granularity, "zone": zone}
    generator = random.Random(7)
    with running_api(postgres_database) as url:
        async def scenario() -> tuple[dict, list[float]]:
            socket = await _socket(url, {})
            assert (await _next(socket))["type"] == "connection_ack"
            await _subscribe(socket, variables)
            await asyncio.sleep(0.3)  # the subscription registers
            latest: dict[str, tuple[int, int]] = {}
            latencies = []
            for _ in range(15):
                values = [value(generator.choice(list(INVENTORY)), generator.randrange(1, 10**6),
                                START + timedelta(minutes=generator.randrange(0, 6 * 60)))
                          for _ in range(generator.randrange(1, 40))]
                committed = writer.write(values)
                message = await _next(socket)
                latencies.append(time.time() - committed)
                while True:
                    assert message["type"] == "next", message
                    update = message["payload"]["data"]["usageUpdates"]
                    assert update["organizationId"] == "org-a" and update["simCardId"] is None
                    bucket = update["bucket"]
                    latest[bucket["start"]] = (int(bucket["bytesUsed"]), int(bucket["eventCount"]))
                    try:
                        message = await _next(socket, 0.3)
                    except TimeoutError:
                        break
            await socket.close()
            return latest, latencies

        latest, latencies = asyncio.run(scenario())
        final = _final(url, variables)
    log.warning("usageUpdates: commit to client p50 %.1f ms, max %.1f ms over %d batches",
                statistics.median(latencies) * 1000, max(latencies) * 1000, len(latencies))
    assert latest == final  # every bucket with usage, each at its final total


def test_scoped_keys_subscribe_only_to_what_they_may_read(postgres_database: str) -> None:
    load(postgres_database, INVENTORY)
    key_a = create_key(postgres_database, "org-a")
    writer = Writer(postgres_database)
    with running_api(postgres_database, SIMUSAGE_AUTH="on") as url:
        async def scenario() -> None:
            refused = await _socket(url, {"Authorization": "Bearer simusage_0000_nope"})
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await _next(refused)
            assert closed.value.rcvd.code == 4403
            socket = await _socket(url, {"apiKey": key_a})
            assert (await _next(socket))["type"] == "connection_ack"
            for operation, arguments in (("b", {"organization": "org-b"}),
                                         ("card-b", {"card": "89440003"}),
                                         ("both", {"organization": "org-a", "card": "89440001"})):
                await _subscribe(socket, {"granularity": "HOURLY", **arguments}, operation)
                message = await _next(socket)
                assert message["id"] == operation and message["type"] in ("next", "error")
                errors = message["payload"] if message["type"] == "error" else \
                    message["payload"]["errors"]
                assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT", errors
            await _subscribe(socket, {"granularity": "HOURLY", "card": "89440001"}, "mine")
            await asyncio.sleep(0.3)
            writer.write([value("89440003", 5, START), value("89440001", 7, START)])
            message = await _next(socket)
            assert message["id"] == "mine"
            assert message["payload"]["data"]["usageUpdates"]["bucket"]["bytesUsed"] == "7"
            await socket.close()

        asyncio.run(scenario())


def test_a_subscription_survives_the_feed_connection_being_killed(postgres_database: str) -> None:
    load(postgres_database, INVENTORY)
    writer = Writer(postgres_database)
    recent = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    with running_api(postgres_database) as url:
        async def scenario() -> None:
            socket = await _socket(url, {})
            assert (await _next(socket))["type"] == "connection_ack"
            await _subscribe(socket, {"organization": "org-a", "granularity": "HOURLY"})
            await asyncio.sleep(0.3)
            with psycopg.connect(postgres_database, autocommit=True) as admin:
                killed = admin.execute(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE application_name = 'simusage-api-change-feed'").fetchone()[0]
            assert killed == 1
            # Written while the feed reconnects: nobody hears the NOTIFY, the reconnection
            # re-reads the recent hours and sends what differs.
            writer.write([value("89440001", 11, recent)])
            message = await _next(socket, 10)
            bucket = message["payload"]["data"]["usageUpdates"]["bucket"]
            assert (bucket["bytesUsed"], bucket["eventCount"]) == ("11", "1")
            writer.write([value("89440002", 4, recent)])
            bucket = (await _next(socket))["payload"]["data"]["usageUpdates"]["bucket"]
            assert (bucket["bytesUsed"], bucket["eventCount"]) == ("15", "2")
            await socket.close()

        asyncio.run(scenario())
