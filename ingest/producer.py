"""`simusage produce`: the reference producer's events, or a synthetic load, into the topic.

`--reference` sends exactly what the reference producer sends: for day d in 0..27, hour h,
minute m, one event dated 2020-02-{d}T{h}:{m}:00Z for a card drawn from 89440001..89440015
(89440015 is not in the reference inventory, as in the challenge), bytes-used a random integer
in 0..4096 sent as a JSON integer; day 00 is an impossible date the worker must reject. The
draws are seeded, so a run is reproducible. The key is the SIM card id, so one card's events
stay in order within a partition.

`--sims N --days D --per-minute K` sends K events per card per minute over the D days before
today (UTC), bytes-used alternately as a JSON integer and as a decimal string.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from kafka import KafkaProducer

from simusage.settings import Settings

REFERENCE_CARDS = [f"894400{number:02d}" for number in range(1, 16)]
REFERENCE_DAYS, MINUTES_PER_DAY = 28, 1440
REFERENCE_EVENTS = REFERENCE_DAYS * MINUTES_PER_DAY  # 40,320


def _value(sim: str, bytes_used: int | str, date: str) -> bytes:
    used = f'"{bytes_used}"' if isinstance(bytes_used, str) else str(bytes_used)
    return f'{{"sim-card-id": "{sim}", "bytes-used": {used}, "date": "{date}"}}'.encode()


def reference_events(seed: int = 2020) -> Iterator[tuple[bytes, bytes]]:
    """(key, value) of the reference producer's 40,320 events, in order."""
    draw = random.Random(seed)
    for day in range(REFERENCE_DAYS):
        for hour in range(24):
            for minute in range(60):
                sim = draw.choice(REFERENCE_CARDS)
                bytes_used = draw.randint(0, 4096)
                date = f"2020-02-{day:02d}T{hour:02d}:{minute:02d}:00Z"
                yield sim.encode(), _value(sim, bytes_used, date)


def synthetic_cards(sims: int) -> list[str]:
    """The ids of a synthetic fleet of sims cards."""
    return [f"{89_450_000_000 + number}" for number in range(sims)]


def synthetic_events(
    sims: int, days: int, per_minute: int, seed: int = 2020, today: datetime | None = None
) -> Iterator[tuple[bytes, bytes]]:
    """(key, value) of a synthetic load: per_minute events per card per minute over days."""
    draw = random.Random(seed)
    cards = [(card, card.encode()) for card in synthetic_cards(sims)]
    today = (today or datetime.now(UTC)).replace(hour=0, minute=0, second=0, microsecond=0)
    start = today - timedelta(days=days)
    sent = 0
    for minute in range(days * MINUTES_PER_DAY):
        date = (start + timedelta(minutes=minute)).strftime("%Y-%m-%dT%H:%M:%SZ")
        for _ in range(per_minute):
            for card, key in cards:
                bytes_used = draw.randint(0, 4096)
                yield key, _value(card, str(bytes_used) if sent % 2 else bytes_used, date)
                sent += 1


def make_producer(settings: Settings) -> KafkaProducer:
    """A producer tuned for throughput: big batches, a little linger, no compression."""
    return KafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers.split(","),
        client_id="simusage-produce",
        acks=1,
        linger_ms=20,
        batch_size=512 * 1024,
        max_request_size=8 * 1024 * 1024,
    )


def send(
    producer: KafkaProducer, topic: str, events, total: int, *, progress: bool = True
) -> tuple[int, float]:
    """Send (key, value) events; show a progress bar on stderr; return (count, seconds)."""
    started = last = time.monotonic()
    sent = 0
    for key, value in events:
        producer.send(topic, key=key, value=value)
        sent += 1
        if progress and sent % 2000 == 0 and time.monotonic() - last >= 0.2:
            last = time.monotonic()
            _bar(sent, total, last - started)
    producer.flush()
    elapsed = time.monotonic() - started
    if progress:
        _bar(sent, total, elapsed)
        sys.stderr.write("\n")
    return sent, elapsed


def _bar(done: int, total: int, elapsed: float) -> None:
    width = 30
    filled = width * done // max(total, 1)
    rate = done / elapsed if elapsed > 0 else 0.0
    sys.stderr.write(
        f"\r[{'#' * filled}{'.' * (width - filled)}] {100 * done // max(total, 1):3d}% "
        f"{done:,}/{total:,} events, {rate:,.0f} events/s"
    )
    sys.stderr.flush()


def run_producer(settings: Settings, arguments: argparse.Namespace) -> int:
    """The `simusage produce` command."""
    if arguments.reference:
        events, total = reference_events(arguments.seed), REFERENCE_EVENTS
    else:
        if arguments.sims < 1 or arguments.days < 1 or arguments.per_minute < 1:
            print("simusage produce: --sims, --days and --per-minute must be >= 1", file=sys.stderr)
            return 2
        total = arguments.sims * arguments.days * MINUTES_PER_DAY * arguments.per_minute
        events = synthetic_events(arguments.sims, arguments.days, arguments.per_minute, arguments.seed)
    producer = make_producer(settings)
    try:
        sent, elapsed = send(producer, settings.topic, events, total, progress=not arguments.quiet)
    finally:
        producer.close()
    print(f"sent {sent:,} events to {settings.topic} in {elapsed:.1f} s "
          f"({sent / max(elapsed, 1e-9):,.0f} events/s)")
    return 0
