"""Benchmark of questions in the customer's calendar (issue 10), on bench/api.py's database
(10,000 SIM cards of one organization, 30 days of January 2022, 5.1 M raw rows, postgres mode):

    (c) the organization's 30 DAILY buckets in Europe/Lisbon (summed from the hourly aggregate)
    (d) the organization's 12 MONTHLY buckets of 2022 in Europe/Lisbon
    (e) topSimCards, first 10 over January 2022, and its SQL beside a GROUP BY of the raw rows
        (also over São Paulo's January, SQL only)

through HTTP at 1 client (p50, p99), medians of repeated runs, beside (b) the organization's
30 UTC days (bench/api.py's query b) measured on the same server in the same run.

    python bench/api_calendar.py [--seconds 5] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api import measure_once, median_ms, median_of  # noqa: E402
from api_servers import simusage  # noqa: E402
from api_data import ORGANIZATION_ID, database_url, prepare  # noqa: E402

from app.interval_parts import interval_parts  # noqa: E402
from app.queries.ranking import TOP_SIM_CARDS_FORWARD, spans  # noqa: E402

JANUARY = (datetime(2022, 1, 1, tzinfo=UTC), datetime(2022, 2, 1, tzinfo=UTC))
SAO_PAULO_JANUARY = (datetime(2022, 1, 1, 3, tzinfo=UTC), datetime(2022, 2, 1, 3, tzinfo=UTC))
RAW_TOP_SIM_CARDS = """
    SELECT sim_card_id, sum(bytes_used), count(*) FROM usage
    WHERE organization_id = %s AND time >= %s AND time < %s
    GROUP BY sim_card_id ORDER BY sum(bytes_used) DESC, sim_card_id LIMIT 10
"""
USAGE = ('query Calendar { organization(id: "%s") { usage(from: "%s", to: "%s", granularity: %s, '
         'timeZone: "Europe/Lisbon") { totalBytesUsed edges { node { start bytesUsed eventCount } } } } }')
TOP = ('query Top { organization(id: "%s") { topSimCards(from: "2022-01-01T00:00:00Z", '
       'to: "2022-02-01T00:00:00Z", first: 10) { totalCount edges { cursor node { simCard { id } '
       'bytesUsed eventCount } } } } }')
UTC_DAYS = ('query Days { organization(id: "%s") { usage(from: "2022-01-01", to: "2022-01-31", '
            'granularity: DAILY) { totalBytesUsed edges { node { start bytesUsed eventCount } } } } }')
CASES = {
    "(b) organization, 30 daily, UTC": (UTC_DAYS % ORGANIZATION_ID, None, 30),
    "(c) organization, 30 daily, Lisbon": (
        USAGE % (ORGANIZATION_ID, "2022-01-01", "2022-01-31", "DAILY"), 5.0, 30),
    "(d) organization, 12 monthly, Lisbon": (
        USAGE % (ORGANIZATION_ID, "2022-01-01", "2023-01-01", "MONTHLY"), 10.0, 12),
    "(e) topSimCards first 10, a month": (TOP % ORGANIZATION_ID, 30.0, 10),
}


def _ranking_parameters(start: datetime, end: datetime) -> dict:
    parts = interval_parts(int(start.timestamp()), int(end.timestamp()))
    return {"organization": ORGANIZATION_ID, **spans(parts), "limit": 11, "after_bytes": None,
            "after_card": None, "before_bytes": None, "before_card": None}


def sql_timings() -> dict[str, float]:
    """The ranking's SQL against the same answer grouped from the raw rows: a UTC month, and
    São Paulo's January (a UTC month, three hours added and three trimmed)."""
    timings = {}
    with psycopg.connect(database_url()) as connection:
        for name, interval in (("UTC", JANUARY), ("Sao Paulo", SAO_PAULO_JANUARY)):
            parameters = _ranking_parameters(*interval)
            ranked = connection.execute(TOP_SIM_CARDS_FORWARD, parameters).fetchall()
            raw = connection.execute(RAW_TOP_SIM_CARDS, (ORGANIZATION_ID, *interval)).fetchall()
            if [(row[3], row[4], row[5]) for row in ranked[:10]] != raw:
                raise SystemExit(f"topSimCards differs from the raw GROUP BY: {ranked[:3]} {raw[:3]}")
            timings[f"topSimCards SQL, {name}"] = median_ms(connection, TOP_SIM_CARDS_FORWARD,
                                                            parameters, 9)
            timings[f"raw rows GROUP BY card, {name}"] = median_ms(
                connection, RAW_TOP_SIM_CARDS, (ORGANIZATION_ID, *interval), 3)
    return timings


def main() -> int:
    """Run the cases; exit status 1 if a floor is missed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5, help="length of one timed run")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per case (median)")
    arguments = parser.parse_args()
    prepare(False)
    timings = sql_timings()
    print("SQL, median ms: " + ", ".join(f"{name} {value:.1f}" for name, value in timings.items()))
    floors = [("topSimCards SQL < 20 ms", timings["topSimCards SQL, UTC"] < 20)]
    results: dict[str, float] = {}
    server = simusage("simusage 2w", 2)
    try:
        for case, (query, limit_ms, buckets) in CASES.items():
            body = json.dumps({"query": query})
            answer = httpx.post(f"{server.url}/graphql", content=body,
                                headers={"Content-Type": "application/json"}).json()
            if "errors" in answer:
                raise SystemExit(f"{case}: {answer}")
            field = answer["data"]["organization"]
            edges = (field.get("usage") or field.get("topSimCards"))["edges"]
            if len(edges) != buckets:
                raise SystemExit(f"{case}: {len(edges)} edges, not {buckets}")
            request = ("POST", "/graphql", body)
            measure_once(server, request, 1, 2)  # warm-up: connections, caches, plans
            load = median_of([measure_once(server, request, 1, arguments.seconds)
                              for _ in range(arguments.repeat)]).load
            print(f"graphql  {case:38} 1 client: p50 {load.p50_ms:6.2f} ms  p99 {load.p99_ms:6.2f} ms "
                  f"({load.requests_per_second:.0f} req/s)", flush=True)
            results[case] = load.p50_ms
            if limit_ms is not None:
                floors.append((f"{case}: p50 < {limit_ms:g} ms at 1 client", load.p50_ms < limit_ms))
    finally:
        server.stop()
    for name in ("UTC", "Sao Paulo"):
        speedup = timings[f"raw rows GROUP BY card, {name}"] / timings[f"topSimCards SQL, {name}"]
        print(f"topSimCards SQL vs raw GROUP BY, {name} month: {speedup:.1f}x faster")
    baseline = results["(b) organization, 30 daily, UTC"]
    for case in list(CASES)[1:]:
        print(f"{case}: p50 {results[case] / baseline:.2f}x the UTC days' (b), same server, same run")
    for name, passed in floors:
        print(f"  {'PASS' if passed else 'FAIL'}  {name}")
    return 0 if all(passed for _, passed in floors) else 1


if __name__ == "__main__":
    sys.exit(main())
