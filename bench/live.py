"""Benchmark of live usage (issue 12): 1,000 usageUpdates subscribers over 100 organizations of
10 cards each, on `simusage serve` with 2 workers, while 10,000 events/s are written as the
ingest worker writes them (its own writer: prepare, write_batch, one transaction a batch, five
batches a second). Each update is matched to the commit that produced its total: latency is
from that commit to the subscriber's receipt, p50 / p99 over every update.

    python bench/live.py [--seconds 20] [--subscribers 1000] [--rate 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import websockets
from psycopg import sql

# The project first: bench/ingest.py must not shadow the ingest package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from ingest.chunk_parser import FastParser  # noqa: E402
from ingest.batch import Batch  # noqa: E402
from ingest.encoding import RowEncoder, prepare  # noqa: E402
from ingest.ownership import Owners, Period  # noqa: E402
from ingest.writer import prepare_connection, write_batch  # noqa: E402
from simusage import migration  # noqa: E402
from simusage.settings import load_settings  # noqa: E402
# After the project's packages: bench/api_servers.py puts bench/ (and its ingest.py) first.
from bench.api_data import SERVER  # noqa: E402
from bench.api_servers import free_port, start  # noqa: E402

NAME = "simusage_bench_live"
ORGANIZATIONS, CARDS_PER_ORGANIZATION = 100, 10
SUBSCRIBE = ('subscription ($id: ID!) { usageUpdates(organizationId: $id) '
             '{ organizationId bucket { start bytesUsed } } }')
BATCHES_PER_SECOND = 5


def database_url() -> str:
    """The benchmark's own database."""
    return urlunsplit(urlsplit(SERVER)._replace(path=f"/{NAME}"))


def inventory() -> dict[str, str]:
    """card -> organization."""
    return {f"89{organization:04d}{card:04d}": f"org{organization:03d}"
            for organization in range(ORGANIZATIONS) for card in range(CARDS_PER_ORGANIZATION)}


def fresh_database(cards: dict[str, str]) -> None:
    """A migrated postgres-mode database holding the inventory."""
    with psycopg.connect(SERVER, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(NAME)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(NAME)))
    migration.upgrade(load_settings(DATABASE_URL=database_url(), SIMUSAGE_STORAGE_MODE="postgres"))
    with psycopg.connect(database_url()) as connection:
        connection.execute("""INSERT INTO inventory (sim_card_id, organization_id)
                              SELECT * FROM unnest(%s::text[], %s::text[])""",
                           (list(cards), list(cards.values())))
        connection.execute("""INSERT INTO ownership (sim_card_id, organization_id, valid_from)
                              SELECT sim_card_id, organization_id, '1970-01-01Z' FROM inventory""")


class Chunk:
    """A Kafka record batch as the worker's parser takes it."""

    def __init__(self, values: list[bytes], start: int) -> None:
        self.topic, self.partition, self.start_offset = "usage", 0, start
        self.values, self.next_offset = values, start + len(values)


def ingest(cards: dict[str, str], rate: int, seconds: float, commits: dict, stop: threading.Event) -> int:
    """Write rate events a second for seconds; commits[(organization, bucket start, total
    bytes)] = commit time. Returns the events written."""
    owners = Owners([Period(card, organization, 0) for card, organization in cards.items()])
    encoder, parser, names = RowEncoder(owners), FastParser(), list(cards)
    totals: dict[tuple[str, int], int] = {}
    per_batch, offset, written = rate // BATCHES_PER_SECOND, 0, 0
    with psycopg.connect(database_url(), autocommit=True) as connection:
        prepare_connection(connection, "postgres")
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not stop.is_set():
            started = time.monotonic()
            now = datetime.now(UTC)
            moment = now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            values = [json.dumps({"sim-card-id": names[(offset + index) % len(names)],
                                  "bytes-used": 1000 + index % 7, "date": moment}).encode()
                      for index in range(per_batch)]
            batch = Batch()
            batch.add(Chunk(values, offset), parser)
            offset += len(values)
            write = prepare(batch, batch.cards(), encoder, set(cards), mode="postgres", use_copy=True)
            with connection.transaction():
                write_batch(connection, "usage", write, mode="postgres")
            committed = time.time()
            for ((_, owner), hour_number), total in write.aggregates.sim_card_hourly.items():
                slot = (owner, hour_number * 3600)
                totals[slot] = totals.get(slot, 0) + total[0]
            for (organization, start), total in totals.items():
                commits.setdefault((organization, start, total), committed)
            written += len(values)
            time.sleep(max(0.0, 1 / BATCHES_PER_SECOND - (time.monotonic() - started)))
    return written


async def subscriber(url: str, organization: str, latencies: list, commits: dict,
                     ready: asyncio.Event, counter: list) -> None:
    """One client: subscribe, then note each update's delay after its commit."""
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"],
                                  max_queue=None) as socket:
        await socket.send(json.dumps({"type": "connection_init", "payload": {}}))
        await socket.recv()
        await socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": {
            "query": SUBSCRIBE, "variables": {"id": organization}}}))
        counter[0] += 1
        if counter[0] == counter[1]:
            ready.set()
        async for message in socket:
            received = time.time()
            update = json.loads(message)["payload"]["data"]["usageUpdates"]
            start = int(datetime.fromisoformat(update["bucket"]["start"]).timestamp())
            committed = commits.get((organization, start, int(update["bucket"]["bytesUsed"])))
            if committed is not None:
                latencies.append(received - committed)


async def run(arguments: argparse.Namespace, url: str, cards: dict[str, str]) -> list[float]:
    """Connect the subscribers, ingest meanwhile, return the latencies."""
    latencies: list[float] = []
    commits: dict = {}
    ready, counter = asyncio.Event(), [0, arguments.subscribers]
    organizations = sorted(set(cards.values()))
    tasks = [asyncio.create_task(subscriber(url, organizations[index % len(organizations)],
                                            latencies, commits, ready, counter))
             for index in range(arguments.subscribers)]
    await asyncio.wait_for(ready.wait(), 120)
    await asyncio.sleep(1)  # the last subscriptions register
    stop = threading.Event()
    written = await asyncio.to_thread(ingest, cards, arguments.rate, arguments.seconds, commits, stop)
    await asyncio.sleep(2)  # the last updates arrive
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    print(f"{written:,} events in {arguments.seconds:g} s ({written / arguments.seconds:,.0f}/s); "
          f"{len(latencies):,} updates matched to their commit")
    return latencies


def main() -> int:
    """Run the benchmark; print the latency percentiles."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--rate", type=int, default=10_000, help="events per second")
    arguments = parser.parse_args()
    cards = inventory()
    fresh_database(cards)
    port = free_port()
    server = start([sys.executable, "-m", "simusage.cli", "serve"], port, "/readyz",
                   DATABASE_URL=database_url(), SIMUSAGE_API_MAX_SUBSCRIPTIONS_PER_KEY="100000")
    try:
        latencies = asyncio.run(run(arguments, f"ws://127.0.0.1:{port}/graphql", cards))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(15)
    if not latencies:
        print("no update matched a commit")
        return 1
    ordered = sorted(latencies)
    p50, p99 = statistics.median(ordered) * 1000, ordered[int(len(ordered) * 0.99)] * 1000
    print(f"update latency, commit to client: p50 {p50:.1f} ms, p99 {p99:.1f} ms, "
          f"max {ordered[-1] * 1000:.1f} ms")
    print(f"  {'PASS' if p99 < 1000 else 'FAIL'}  every update within 1 s of its commit (p99)")
    return 0 if p99 < 1000 else 1


if __name__ == "__main__":
    sys.exit(main())
