"""`simusage produce`: exactly the reference producer's events, and a synthetic load."""

from __future__ import annotations

import argparse
from collections import Counter
from datetime import UTC, datetime

import orjson
import pytest

from ingest.events import Event, parse_event
from ingest.producer import REFERENCE_CARDS, reference_events, run_producer, synthetic_events
from tests.conftest import settings_for
from tests.ingest.conftest import end_offsets


def test_the_reference_events() -> None:
    events = list(reference_events())
    assert len(events) == 40_320
    documents = [orjson.loads(v) for _, v in events]
    assert [d["date"] for d in documents[:2]] == ["2020-02-00T00:00:00Z", "2020-02-00T00:01:00Z"]
    assert documents[-1]["date"] == "2020-02-27T23:59:00Z"
    assert all(type(d["bytes-used"]) is int and 0 <= d["bytes-used"] <= 4096 for d in documents)
    assert {d["sim-card-id"] for d in documents} == set(REFERENCE_CARDS)
    assert all(key.decode() == d["sim-card-id"] for (key, _), d in zip(events, documents))
    verdicts = Counter(type(parse_event(v)).__name__ for _, v in events)
    assert verdicts == {"Event": 40_320 - 1_440, "Rejection": 1_440}
    assert events == list(reference_events())  # seeded: reproducible
    assert events != list(reference_events(seed=1))


def test_a_synthetic_load() -> None:
    today = datetime(2024, 3, 10, 15, 30, tzinfo=UTC)
    events = list(synthetic_events(sims=3, days=2, per_minute=2, today=today))
    assert len(events) == 3 * 2 * 1440 * 2
    parsed = [parse_event(v) for _, v in events]
    assert all(isinstance(e, Event) for e in parsed)
    assert min(e.time for e in parsed) == datetime(2024, 3, 8, tzinfo=UTC)
    assert max(e.time for e in parsed) == datetime(2024, 3, 9, 23, 59, tzinfo=UTC)
    kinds = Counter(type(orjson.loads(v)["bytes-used"]).__name__ for _, v in events)
    assert kinds["int"] and kinds["str"]  # both forms the stream carries


@pytest.mark.kafka
def test_produce_command_sends_the_reference_run(topic: str, capsys) -> None:
    settings = settings_for("postgresql://unused/x", SIMUSAGE_TOPIC=topic)
    arguments = argparse.Namespace(reference=True, sims=None, days=1, per_minute=1, seed=2020, quiet=False)
    assert run_producer(settings, arguments) == 0
    out, err = capsys.readouterr()
    assert "sent 40,320 events" in out and "events/s" in out
    assert "100%" in err and "40,320/40,320" in err
    assert sum(end_offsets(topic).values()) == 40_320
    bad = argparse.Namespace(reference=False, sims=0, days=1, per_minute=1, seed=1, quiet=True)
    assert run_producer(settings, bad) == 2
