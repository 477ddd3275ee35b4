"""Benchmark of the GraphQL API (issue 4): 10,000 SIM cards of one organization, 30 days, 5.1 M
raw rows in a postgres-mode database; (a) one card's 24 hourly buckets and (b) the organization's
30 daily buckets, through HTTP at 1 and 32 clients, against a bare FastAPI endpoint running the
same SQL, and the SQL itself against a GROUP BY over the raw rows.

    python bench/api.py [--seconds 5] [--repeat 3] [--reload]

The database (simusage_bench) is built once and kept; --reload rebuilds it.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api_data import (  # noqa: E402
    CARDS,
    DAY,
    DAYS,
    ORGANIZATION_ID,
    START,
    database_url,
    prepare,
)
from load_generator import CARD, Load, run_load, wrk_available  # noqa: E402

from app.queries.usage import DAILY, HOURLY, ORGANIZATION, PAGE_STATEMENTS, SIM_CARD  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

RAW_ORGANIZATION_DAILY = """
    SELECT date_trunc('day', time, 'UTC') AS bucket, sum(bytes_used), count(*) FROM usage
    WHERE organization_id = %s AND time >= %s AND time < %s GROUP BY 1 ORDER BY 1
"""
# The per-card rows carry the organization their usage is attributed to.
PER_CARD_ORGANIZATION_DAILY = """
    SELECT bucket, sum(bytes_used), sum(event_count) FROM usage_sim_card_daily
    WHERE organization_id = %s AND bucket >= %s AND bucket < %s GROUP BY 1 ORDER BY 1
"""

# The dense grid computed by the database, against sparse rows filled with zeros in Python
# (what app/series.py does): measured side by side below.
SQL_GRID = """
    SELECT grid.bucket, coalesce(rollup.bytes_used, 0), coalesce(rollup.event_count, 0)
    FROM generate_series(%(start)s::timestamptz, %(end)s::timestamptz - interval '1 hour',
                         interval '1 hour') AS grid (bucket)
    LEFT JOIN (SELECT bucket, sum(bytes_used)::bigint AS bytes_used,
                      sum(event_count)::bigint AS event_count
               FROM usage_sim_card_hourly
               WHERE sim_card_id = %(card)s AND bucket >= %(start)s AND bucket < %(end)s
               GROUP BY bucket) AS rollup
           ON rollup.bucket = grid.bucket
    ORDER BY grid.bucket
"""

CARD_DAY = ("query CardDay($id: ID!) { simCard(id: $id) { usage(from: \"%s\", to: \"%s\", "
            "granularity: HOURLY) { edges { node { start bytesUsed eventCount } } } } }")
ORGANIZATION_MONTH = ("query OrganizationMonth { organization(id: \"bench\") { usage(from: \"%s\", "
                      "to: \"%s\", granularity: DAILY) { edges { node { start bytesUsed eventCount } } } "
                      "} }")


def median_call_ms(call, runs: int) -> float:
    """Median wall time of call, in milliseconds."""
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings) * 1000


def median_ms(connection: psycopg.Connection, query: str, parameters: tuple | dict, runs: int) -> float:
    """Median time of one prepared statement, in milliseconds."""
    return median_call_ms(lambda: connection.execute(query, parameters, prepare=True).fetchall(), runs)


def python_grid(connection: psycopg.Connection, card: str, start: datetime, hours: int) -> list:
    """A dense hourly grid from the sparse aggregate rows, zeros filled in Python."""
    end = start + timedelta(hours=hours)
    rows = connection.execute(PAGE_STATEMENTS[SIM_CARD, HOURLY], ([card], start, end), prepare=True)
    stored = {int(row[1].timestamp()): row for row in rows}
    first = int(start.timestamp())
    return [(time_, *(stored[time_][2:] if time_ in stored else (0, 0)))
            for time_ in range(first, first + hours * 3600, 3600)]


def grid_timings(connection: psycopg.Connection) -> dict[str, float]:
    """The dense grid by generate_series against sparse rows filled in Python."""
    timings = {}
    for hours in (24, 1000):
        arguments = ("8944001234", DAY, hours)
        end = DAY + timedelta(hours=hours)
        runs = 300 if hours == 24 else 50
        timings[f"{hours}-hour grid by generate_series"] = median_ms(
            connection, SQL_GRID, {"start": DAY, "end": end, "card": "8944001234"}, runs)
        timings[f"{hours}-hour grid filled in Python"] = median_call_ms(
            lambda arguments=arguments: python_grid(connection, *arguments), runs)
    return timings


def sql_baselines() -> dict[str, float]:
    """The SQL behind the requests, against the raw GROUP BY and the per-card sum."""
    month = (ORGANIZATION_ID, START, START + timedelta(days=DAYS))
    with psycopg.connect(database_url()) as connection:
        return {
            **grid_timings(connection),
            "organization daily aggregate": median_ms(
                connection, PAGE_STATEMENTS[ORGANIZATION, DAILY], ([ORGANIZATION_ID], *month[1:]),
                300),
            "per-card daily rows summed": median_ms(connection, PER_CARD_ORGANIZATION_DAILY, month, 5),
            "raw rows GROUP BY day": median_ms(connection, RAW_ORGANIZATION_DAILY, month, 3),
            "card hourly aggregate": median_ms(
                connection, PAGE_STATEMENTS[SIM_CARD, HOURLY],
                (["8944001234"], DAY, DAY + timedelta(days=1)), 300),
        }


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(command: list[str], port: int, ready_path: str) -> subprocess.Popen:
    """Start a server in its own session and wait until ready_path answers 200."""
    environment = {**os.environ, "DATABASE_URL": database_url(), "SIMUSAGE_AUTH": "off",
                   "SIMUSAGE_API_PORT": str(port), "SIMUSAGE_API_WORKERS": "2",
                   "SIMUSAGE_LOG_LEVEL": "WARNING"}
    process = subprocess.Popen(command, cwd=ROOT, env=environment, start_new_session=True)
    for _ in range(150):
        try:
            if httpx.get(f"http://127.0.0.1:{port}{ready_path}", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    stop(process)
    raise RuntimeError(f"{command} did not become ready")


def stop(process: subprocess.Popen) -> None:
    """Stop a server started by start(), workers included."""
    os.killpg(process.pid, signal.SIGTERM)  # our own session: uvicorn and its two workers
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def measure(url: str, method: str, path: str, body: str, clients: int, arguments) -> Load:
    """Median throughput and latencies of repeated runs, after a warm-up."""
    run_load(url, method, path, body, clients, 2, CARDS)  # warm-up: connections, caches, plans
    runs = [run_load(url, method, path, body, clients, arguments.seconds, CARDS)
            for _ in range(arguments.repeat)]
    assert not any(run.failures for run in runs), runs
    return Load(*(statistics.median(getattr(run, field) for run in runs)
                  for field in ("requests_per_second", "p50_ms", "p99_ms", "failures")))


def check_answers(port: int, card_body: str, organization_body: str) -> None:
    """One request of each kind, checked, before timing anything."""
    for body, expected in ((card_body.replace(CARD, "8944001234"), 24), (organization_body, 30)):
        answer = httpx.post(f"http://127.0.0.1:{port}/graphql", content=body,
                            headers={"Content-Type": "application/json"}).json()
        assert "errors" not in answer, answer
        subject = answer["data"].get("simCard") or answer["data"]["organization"]
        assert len(subject["usage"]["edges"]) == expected, answer


def main() -> int:
    """Run the benchmark; exit status 1 if a floor is missed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5, help="length of one timed run")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per case (median)")
    parser.add_argument("--reload", action="store_true", help="rebuild the benchmark database")
    arguments = parser.parse_args()
    prepare(arguments.reload)
    baselines = sql_baselines()
    print("SQL, median ms: " + ", ".join(f"{name} {value:.3f}" for name, value in baselines.items()))
    month = (START.isoformat(), (START + timedelta(days=DAYS)).isoformat())
    day = (DAY.isoformat(), (DAY + timedelta(days=1)).isoformat())
    card_body = json.dumps({"query": CARD_DAY % day, "variables": {"id": CARD},
                            "operationName": "CardDay"})
    organization_body = json.dumps({"query": ORGANIZATION_MONTH % month,
                                    "operationName": "OrganizationMonth"})
    query_string = "?start=%s&end=%s"
    cases = {
        "(a) card, 24 hourly": (
            ("POST", "/graphql", card_body),
            ("GET", "/sim-card-hourly/" + CARD + query_string % tuple(t[:19] for t in day), ""),
        ),
        "(b) organization, 30 daily": (
            ("POST", "/graphql", organization_body),
            ("GET", f"/organization-daily/{ORGANIZATION_ID}"
             + query_string % tuple(t[:19] for t in month), ""),
        ),
    }
    generator = "wrk" if wrk_available() else "python httpx (install wrk for truer numbers)"
    print(f"load generator: {generator}; 2 uvicorn workers; "
          f"{arguments.repeat} runs of {arguments.seconds:g} s per case, medians")
    results: dict[tuple[str, str, int], Load] = {}
    for target in ("graphql", "bare"):
        port = free_port()
        if target == "graphql":
            process = start([sys.executable, "-m", "simusage.cli", "serve"], port, "/readyz")
        else:
            process = start([sys.executable, "-m", "uvicorn", "bare_api:create_app", "--factory",
                             "--app-dir", "bench", "--workers", "2", "--no-access-log",
                             "--log-level", "warning", "--port", str(port)], port, "/healthz")
        try:
            if target == "graphql":
                check_answers(port, card_body, organization_body)
            for case, requests in cases.items():
                method, path, body = requests[0 if target == "graphql" else 1]
                for clients in (1, 32):
                    load = measure(f"http://127.0.0.1:{port}", method, path, body, clients, arguments)
                    results[target, case, clients] = load
                    print(f"{target:8} {case:27} {clients:2} clients: "
                          f"{load.requests_per_second:7.0f} req/s  p50 {load.p50_ms:6.2f} ms  "
                          f"p99 {load.p99_ms:6.2f} ms", flush=True)
        finally:
            stop(process)
    return report(baselines, results)


def report(baselines: dict[str, float], results: dict) -> int:
    """Print ratios and floors; 0 if every floor holds."""
    speedup = baselines["raw rows GROUP BY day"] / baselines["organization daily aggregate"]
    print(f"\naggregate SQL vs raw GROUP BY (b): {speedup:,.0f}x faster "
          f"(per-card daily rows summed: {baselines['per-card daily rows summed']:.1f} ms)")
    floors = [("aggregate SQL >= 1000x raw GROUP BY", speedup >= 1000)]
    for case in ("(a) card, 24 hourly", "(b) organization, 30 daily"):
        api, bare = results["graphql", case, 32], results["bare", case, 32]
        single = results["graphql", case, 1]
        print(f"{case}: GraphQL reaches {api.requests_per_second / bare.requests_per_second:.0%} of "
              f"the bare endpoint's throughput at 32 clients; at 1 client p50 "
              f"{single.p50_ms / results['bare', case, 1].p50_ms:.1f}x the bare one")
        floors += [(f"{case}: p50 < 5 ms at 1 client", single.p50_ms < 5),
                   (f"{case}: p99 < 25 ms at 1 client", single.p99_ms < 25),
                   (f"{case}: >= 700 req/s at 32 clients", api.requests_per_second >= 700)]
    for name, passed in floors:
        print(f"  {'PASS' if passed else 'FAIL'}  {name}")
    return 0 if all(passed for _, passed in floors) else 1


if __name__ == "__main__":
    sys.exit(main())
