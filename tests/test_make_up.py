"""`make up` from a clean state: the README's example queries answer the reference totals."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.request
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest

from ingest.producer import reference_events
from tests.conftest import KAFKA

ROOT = Path(__file__).resolve().parent.parent
INVENTORY = {entry["sim-card-id"]: entry["org-id"] for entry in json.loads((ROOT / "data" / "inventory.json").read_text())}

DAILY_QUESTION = """{ organization(id: "f00ff") { usage(from: "2020-02-10", to: "2020-02-13", granularity: DAILY) {
    totalBytesUsed edges { node { start bytesUsed eventCount } } } } }"""
HOURLY_QUESTION = """{ simCard(id: "89440006") { usage(from: "2020-02-10T00:00Z", to: "2020-02-10T03:00Z", granularity: HOURLY) {
    edges { node { start bytesUsed eventCount } } } } }"""


def free_port() -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def expected_buckets(keep, bucket_of) -> dict[str, tuple[int, int]]:
    """Bytes and events per bucket start of the reference events that keep() selects."""
    sizes, counts = Counter(), Counter()
    for _, value in reference_events():
        event = json.loads(value)
        if event["date"].startswith("2020-02-00") or not keep(event):
            continue  # day zero is not a date: those events are dead letters
        bucket = bucket_of(datetime.fromisoformat(event["date"].replace("Z", "+00:00")))
        sizes[bucket] += int(event["bytes-used"])
        counts[bucket] += 1
    return {bucket: (sizes[bucket], counts[bucket]) for bucket in sizes}


def ask(port: int, query: str) -> dict:
    """POST a GraphQL query to the API started by `make up`."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql", data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        body = json.loads(response.read())
    assert "errors" not in body, body
    return body["data"]


def series(connection: dict) -> dict[str, tuple[int, int]]:
    """A usage connection's buckets as start -> (bytes, events)."""
    return {
        edge["node"]["start"]: (int(edge["node"]["bytesUsed"]), int(edge["node"]["eventCount"]))
        for edge in connection["edges"]
    }


@pytest.mark.slow
@pytest.mark.kafka
def test_make_up_serves_the_reference_totals(empty_database: str, topic_name: str, tmp_path: Path) -> None:
    port = free_port()
    environment = os.environ | {
        "VENV": str(Path(sys.executable).parent.parent),
        "DATABASE_URL": empty_database,
        "KAFKA_BOOTSTRAP_SERVERS": KAFKA,
        "SIMUSAGE_TOPIC": topic_name,
        "SIMUSAGE_CONSUMER_GROUP": f"group-{topic_name}",
        "SIMUSAGE_API_PORT": str(port),
        "SIMUSAGE_INGEST_METRICS_PORT": str(free_port()),
        "SIMUSAGE_RUN_DIR": str(tmp_path),
    }
    environment.pop("SIMUSAGE_AUTH", None)
    up = [str(ROOT / "scripts" / "up.sh")]
    try:
        first = subprocess.run(up, env=environment, capture_output=True, text=True, timeout=400)
        assert first.returncode == 0, first.stdout + first.stderr
        assert f"http://127.0.0.1:{port}/graphql" in first.stdout
        assert "Access control is OFF" in first.stdout

        daily = expected_buckets(
            lambda event: INVENTORY.get(event["sim-card-id"]) == "f00ff"
            and "2020-02-10" <= event["date"][:10] <= "2020-02-12",
            lambda time: time.strftime("%Y-%m-%dT00:00:00Z"),
        )
        hourly = expected_buckets(
            lambda event: event["sim-card-id"] == "89440006"
            and "2020-02-10T00" <= event["date"][:13] <= "2020-02-10T02",
            lambda time: time.strftime("%Y-%m-%dT%H:00:00Z"),
        )
        answer = ask(port, DAILY_QUESTION)["organization"]["usage"]
        assert series(answer) == daily
        assert int(answer["totalBytesUsed"]) == sum(size for size, _ in daily.values())
        assert series(ask(port, HOURLY_QUESTION)["simCard"]["usage"]) == hourly

        # Idempotent: a second `make up` neither fails nor sends the demo events again.
        second = subprocess.run(up, env=environment, capture_output=True, text=True, timeout=200)
        assert second.returncode == 0, second.stdout + second.stderr
        assert "sent before" in second.stdout
        assert series(ask(port, DAILY_QUESTION)["organization"]["usage"]) == daily
    finally:
        subprocess.run([str(ROOT / "scripts" / "down.sh"), "--keep-services"], env=environment, timeout=120)
    assert not (tmp_path / "api.pid").exists() and not (tmp_path / "ingest.pid").exists()
