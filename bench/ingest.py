"""Ingest benchmark: events per second from a filled topic to committed rows, for one worker,
beside baselines measured in the same run on the same rows.

    python bench/ingest.py [--events N] [--repeat R] [--partitions P]

1. Fills a fresh topic with N reference-shaped events: the reference producer's runs one after
   another (40,320 events a run, differently seeded; 1 in 28 is dated day 00 and rejected).
2. Worker: a fresh PostgreSQL-mode database, `simusage ingest` started as its own process; the
   clock runs from its start until the database's stored offsets reach the end of the topic
   (rows, rollups, cards seen, offsets and dead letters all committed). Also reported: the
   rate from the first committed batch to the last (without the consumer group join).
3. Baselines, on the rows the worker accepted, into the same empty `usage` table (with its
   time index): `psql \\copy` of the rows as text (the native ceiling), a bare psycopg binary
   COPY of pre-parsed rows (`write_row`), and one INSERT per event, measured on a sample and
   extrapolated (in one transaction, and with a commit per event).
4. Ownership history: the same topic into a second database whose every card changed hands
   twice within the events' month (one move in the middle of an hour), so that each event is
   attributed by its time on the slow path; printed as a share of the clean rate (the worst
   case: in a real fleet most cards have one owner over all time, the fast path).
5. With --card-index-cost: the same topic into a third database without the index on
   (sim_card_id, time) that re-attribution reads by: what that index costs ingest.
6. Bad records: the same events with one in ten (`--bad-share`) replaced by a hostile record
   (rotating through not-JSON, a missing field, a negative count, a naive date, a duplicate
   key, a deeply nested value, a 2 KB string), in a second topic; the worker on it runs
   interleaved with the clean runs and its rate is printed as a share of the clean rate.

Each figure is the median of R repetitions, the worker and the COPY baselines interleaved; every
measure starts from emptied tables and a CHECKPOINT (so none pays for the writes of the one before).
Needs the services of `make up`/`make test`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from kafka.admin import KafkaAdminClient
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ingest.inventory import change_owners, import_inventory_file  # noqa: E402
from simusage import migration  # noqa: E402
from simusage.settings import load_settings  # noqa: E402
from ingest_runs import (  # noqa: E402
    INVENTORY, KAFKA, SERVER, accepted_rows, clean_slate, end_offsets, fill_topic, psql_copy,
    reference_run_events, run_worker, url_of,
)

HOSTILE = (
    b"{not json",
    b'{"bytes-used": 10, "date": "2024-01-01T00:00:00Z"}',
    b'{"sim-card-id": "89440001", "bytes-used": -5, "date": "2024-01-01T00:00:00Z"}',
    b'{"sim-card-id": "89440001", "bytes-used": 5, "date": "2024-01-01T00:00:00"}',
    b'{"sim-card-id": "89440001", "sim-card-id": "89440002", "bytes-used": 5, "date": "2024-01-01T00:00:00Z"}',
    b'{"sim-card-id": ' + b"[" * 1000 + b"]" * 1000 + b', "bytes-used": 5, "date": "2024-01-01T00:00:00Z"}',
    b'{"sim-card-id": "89440001", "bytes-used": 5, "date": "' + b"9" * 2_000 + b'"}',
)


def with_bad_records(events: list, share: float) -> list:
    """The events with one in every 1/share replaced by a hostile record, kinds in rotation."""
    every = max(round(1 / share), 1)
    spoiled = list(events)
    for number, index in enumerate(range(every - 1, len(spoiled), every)):
        spoiled[index] = (spoiled[index][0], HOSTILE[number % len(HOSTILE)])
    return spoiled


def prepare_history(url: str) -> None:
    """Migrate and import the inventory, then move every card away and back within the month
    of the reference events (2020-02): each card then has three periods."""
    settings = load_settings(DATABASE_URL=url, SIMUSAGE_STORAGE_MODE="postgres")
    migration.upgrade(settings)
    import_inventory_file(settings, INVENTORY)
    with psycopg.connect(url) as connection:
        owners = dict(connection.execute("SELECT sim_card_id, organization_id FROM inventory").fetchall())
        now = datetime.now(UTC)
        change_owners(connection, {sim: f"{org}-b" for sim, org in owners.items()},
                      datetime(2020, 2, 10, 12, 30, tzinfo=UTC), now)
        change_owners(connection, owners, datetime(2020, 2, 20, tzinfo=UTC), now)
        connection.execute("DELETE FROM reattribution")  # no usage yet: nothing to attribute again


def binary_copy(url: str, rows: list[tuple]) -> float:
    with psycopg.connect(url) as connection:
        clean_slate(connection, ("usage",))
        started = time.monotonic()
        with connection.cursor().copy(
            "COPY usage (time, sim_card_id, organization_id, bytes_used) FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.set_types(["timestamptz", "text", "text", "int8"])
            for row in rows:
                copy.write_row(row)
        connection.commit()
        return time.monotonic() - started


def inserts(url: str, rows: list[tuple], commit_each: bool) -> float:
    statement = "INSERT INTO usage (time, sim_card_id, organization_id, bytes_used) VALUES (%s, %s, %s, %s)"
    with psycopg.connect(url, autocommit=commit_each) as connection:
        clean_slate(connection, ("usage",))
        started = time.monotonic()
        for row in rows:
            connection.execute(statement, row)
        connection.commit()
        return time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_008_000, help="events in the topic (default 1,008,000: 25 reference runs)")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions of each measure (median quoted)")
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--sample", type=int, default=20_000, help="rows for the one-INSERT-per-event baseline")
    parser.add_argument("--batch-size", type=int, default=load_settings().batch_size,
                        help="the worker's SIMUSAGE_BATCH_SIZE (default: the setting's default)")
    parser.add_argument("--no-history", action="store_true", help="skip the ownership-history run")
    parser.add_argument("--card-index-cost", action="store_true",
                        help="also run without the (sim_card_id, time) index of usage")
    parser.add_argument("--bad-share", type=float, default=0.10,
                        help="share of hostile records in the second topic (0: no such run)")
    arguments = parser.parse_args()

    database = f"simusage_bench_{uuid.uuid4().hex[:8]}"
    history_database = f"{database}_history"
    bare_database = f"{database}_bare"
    with psycopg.connect(SERVER, autocommit=True) as admin:
        for name in (database, history_database, bare_database):
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = url_of(database)
    history_url = url_of(history_database)
    bare_url = url_of(bare_database)
    topic = f"bench-ingest-{uuid.uuid4().hex[:8]}"
    bad_topic = f"{topic}-bad"
    try:
        settings = load_settings(DATABASE_URL=url, SIMUSAGE_STORAGE_MODE="postgres")
        migration.upgrade(settings)
        import_inventory_file(settings, INVENTORY)
        prepare_history(history_url)
        if arguments.card_index_cost:
            bare_settings = load_settings(DATABASE_URL=bare_url, SIMUSAGE_STORAGE_MODE="postgres")
            migration.upgrade(bare_settings)
            import_inventory_file(bare_settings, INVENTORY)
            with psycopg.connect(bare_url) as connection:
                connection.execute("DROP INDEX usage_sim_card_time")
        with psycopg.connect(url) as connection:
            owners = dict(connection.execute("SELECT sim_card_id, organization_id FROM inventory").fetchall())
        events = fill_topic(topic, arguments.partitions, reference_run_events(arguments.events))
        ends = end_offsets(topic, arguments.partitions)
        rows = accepted_rows(events, owners)
        if arguments.bad_share > 0:
            bad_events = fill_topic(bad_topic, arguments.partitions,
                                    with_bad_records(events, arguments.bad_share))
            bad_ends = end_offsets(bad_topic, arguments.partitions)
            bad_rows = len(accepted_rows(bad_events, owners))
            del bad_events
        del events
        print(f"{len(rows):,} of them valid; worker batch size {arguments.batch_size:,}; "
              f"{arguments.repeat} repetitions, medians quoted\n")

        with tempfile.NamedTemporaryFile("w", suffix=".tsv", delete=False) as text:
            for moment, sim, owner, used in rows:
                text.write(f"{moment.isoformat()}\t{sim}\t{owner or chr(92) + 'N'}\t{used}\n")
        # Interleaved, so that the worker and its ceiling see the same conditions on a shared box.
        worker, psql, binary, bad_worker, history_worker, bare_worker = [], [], [], [], [], []
        for _ in range(arguments.repeat):
            worker.append(run_worker(url, topic, ends, arguments.batch_size))
            if not arguments.no_history:
                history_worker.append(run_worker(history_url, topic, ends, arguments.batch_size))
            if arguments.card_index_cost:
                bare_worker.append(run_worker(bare_url, topic, ends, arguments.batch_size))
            if arguments.bad_share > 0:
                bad_worker.append(run_worker(url, bad_topic, bad_ends, arguments.batch_size))
            psql.append(psql_copy(url, text.name))
            binary.append(binary_copy(url, rows))
        os.unlink(text.name)
        if any(count != len(rows) for _, _, count in worker):
            raise SystemExit("the worker wrote other rows than the valid events")
        if any(count != bad_rows for _, _, count in bad_worker):
            raise SystemExit("the worker wrote other rows than the valid events of the bad topic")
        sample = rows[: arguments.sample]
        one_tx = [inserts(url, sample, False) for _ in range(arguments.repeat)]
        each = [inserts(url, sample[: arguments.sample // 4], True) for _ in range(arguments.repeat)]
    finally:
        with psycopg.connect(SERVER, autocommit=True) as admin:
            for name in (database, history_database, bare_database):
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        try:
            admin = KafkaAdminClient(bootstrap_servers=KAFKA)
            admin.delete_topics([topic, f"{topic}.dlq", bad_topic, f"{bad_topic}.dlq"])
            admin.close()
        except Exception:  # noqa: BLE001 - best effort clean-up
            pass

    events_count = sum(ends.values())
    rate = {
        "worker, end to end (events/s, from process start)": events_count / statistics.median(t for t, _, _ in worker),
        "worker, steady state (events/s, first to last commit)": events_count / statistics.median(s for _, s, _ in worker),
        "psql \\copy, text (rows/s)": len(rows) / statistics.median(psql),
        "psycopg binary COPY, write_row (rows/s)": len(rows) / statistics.median(binary),
        f"one INSERT per event, one transaction (rows/s, {len(sample):,}-row sample)": len(sample) / statistics.median(one_tx),
        f"one INSERT per event, commit each (rows/s, {len(sample) // 4:,}-row sample)": (len(sample) // 4) / statistics.median(each),
    }
    ceiling = rate["psql \\copy, text (rows/s)"]
    worker_rate = rate["worker, end to end (events/s, from process start)"]
    print(f"{'measure':<78} {'rate':>12} {'vs psql':>8} {'worker x':>9}")
    for name, value in rate.items():
        print(f"{name:<78} {value:>12,.0f} {value / ceiling:>8.2f} {worker_rate / value:>9.2f}")
    print(f"\nworker runs (s): {[round(t, 2) for t, _, _ in worker]}; psql: {[round(t, 2) for t in psql]}; "
          f"binary: {[round(t, 2) for t in binary]}")
    floor_ok = worker_rate >= 50_000 and worker_rate >= ceiling / 3
    print(f"floors (>= 50,000 events/s and >= 1/3 of psql \\copy): {'met' if floor_ok else 'NOT met'}")
    if history_worker:
        if any(count != len(rows) for _, _, count in history_worker):
            raise SystemExit("the worker wrote other rows than the valid events (history run)")
        history_rate = events_count / statistics.median(t for t, _, _ in history_worker)
        share = history_rate / worker_rate
        print(f"\nevery card moved twice in the month: {history_rate:,.0f} events/s end to end, "
              f"{share:.2f} of the same run's rate with one owner per card "
              f"(runs (s): {[round(t, 2) for t, _, _ in history_worker]})")
        history_ok = share >= 0.95
        print(f"floor (>= 0.95 of the rate without ownership history): {'met' if history_ok else 'NOT met'}")
        floor_ok = floor_ok and history_ok
    if bare_worker:
        bare_rate = events_count / statistics.median(t for t, _, _ in bare_worker)
        print(f"\nwithout the (sim_card_id, time) index: {bare_rate:,.0f} events/s end to end; with it "
              f"{worker_rate / bare_rate:.2f} of that (runs (s): {[round(t, 2) for t, _, _ in bare_worker]})")
    if bad_worker:
        bad_rate = sum(bad_ends.values()) / statistics.median(t for t, _, _ in bad_worker)
        share = bad_rate / worker_rate
        print(f"\nwith {arguments.bad_share:.0%} hostile records: {bad_rate:,.0f} events/s end to end, "
              f"{share:.2f} of the clean rate (runs (s): {[round(t, 2) for t, _, _ in bad_worker]})")
        bad_ok = share >= 0.8
        print(f"floor (>= 0.80 of the clean rate): {'met' if bad_ok else 'NOT met'}")
        floor_ok = floor_ok and bad_ok
    return 0 if floor_ok else 1


if __name__ == "__main__":
    sys.exit(main())
