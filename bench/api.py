"""Benchmark of the GraphQL API (issues 4 and 11): 10,000 SIM cards of one organization, 30 days,
5.1 M raw rows in a postgres-mode database; (a) one card's 24 hourly buckets and (b) the
organization's 30 daily buckets, through HTTP at 1 and 32 clients, side by side in interleaved
runs: `simusage serve` on 1 and 2 workers (and on 2 with access control on, an admin and an
organization key), a bare FastAPI endpoint running the same SQL, and the PostGraphile 5 peer
(bench/peer.py) on 1 and 2 processes; each server's CPU per request from /proc, PostgreSQL's,
and statements per request from pg_stat_database. And the SQL itself against a GROUP BY over
the raw rows.

    python bench/api.py [--seconds 3] [--repeat 3] [--reload]

The database (simusage_bench) is built once and kept; --reload rebuilds it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import dataclass
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

import api_servers as servers_module  # noqa: E402
import peer  # noqa: E402
from api_report import CACHED, report  # noqa: E402
from api_servers import Server, bare, create_key, postgraphile, simusage  # noqa: E402

from app.queries.usage import DAILY, HOURLY, ORGANIZATION, PAGE_STATEMENTS, SIM_CARD  # noqa: E402

CASES = ("(a) card, 24 hourly", "(b) organization, 30 daily")

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


@dataclass(frozen=True)
class Measured:
    """Medians of the timed runs of one server, case and client count."""

    load: Load
    cpu_ms: float  # the server's own CPU per request
    database_cpu_ms: float | None  # PostgreSQL's, when it runs on this machine


def measure_once(server: Server, request: tuple[str, str, str], clients: int,
                 seconds: float) -> Measured:
    """One timed run, and the server's and PostgreSQL's CPU per request over it (the other
    servers are idle meanwhile)."""
    method, path, body = request
    before, database_before = server.cpu_seconds(), servers_module.postgres_cpu_seconds()
    load = run_load(server.url, method, path, body, clients, seconds, CARDS, server.headers)
    cpu, database_after = server.cpu_seconds() - before, servers_module.postgres_cpu_seconds()
    if load.failures:
        raise RuntimeError(f"{server.name}: {load.failures} failed requests")
    requests = max(load.requests, 1)
    database = None if database_before is None or database_after is None else \
        (database_after - database_before) * 1000 / requests
    return Measured(load, cpu * 1000 / requests, database)


def median_of(runs: list[Measured]) -> Measured:
    """The medians of repeated runs, field by field."""
    load = Load(*(statistics.median(getattr(run.load, name) for run in runs)
                  for name in ("requests_per_second", "p50_ms", "p99_ms", "failures", "requests")))
    database = [run.database_cpu_ms for run in runs if run.database_cpu_ms is not None]
    return Measured(load, statistics.median(run.cpu_ms for run in runs),
                    statistics.median(database) if database else None)


def check_answers(servers: list[Server], requests: dict) -> None:
    """One request of each case to each server, the same rows from all, before timing."""
    for case in requests["simusage"]:
        answers = {}
        for server in servers:
            _, path, body = requests[server.kind][case]
            if server.kind == "bare":
                continue
            response = httpx.post(server.url + path, content=body.replace(CARD, "8944001234"),
                                  headers={"Content-Type": "application/json", **server.headers})
            answers[server.name] = peer.answer_rows(response.json())
        expected = peer.reference_rows()[case]
        wrong = [name for name, rows in answers.items() if rows != expected]
        if wrong:
            raise RuntimeError(f"{case}: {', '.join(wrong)} answered other rows")


def statements_per_request(server: Server, request: tuple[str, str, str]) -> float:
    """Statements (transactions: the API runs in autocommit) per request, counted by
    pg_stat_database over a run of sequential requests."""
    before = servers_module.transactions()
    method, path, body = request
    load = run_load(server.url, method, path, body, 1, 2, CARDS, server.headers)
    return servers_module.settled_transactions(before) / max(load.requests, 1)


def requests_of(day: tuple[str, str], month: tuple[str, str]) -> dict[str, dict]:
    """(method, path, body) of each case, for each kind of server."""
    card_body = json.dumps({"query": CARD_DAY % day, "variables": {"id": CARD},
                            "operationName": "CardDay"})
    organization_body = json.dumps({"query": ORGANIZATION_MONTH % month,
                                    "operationName": "OrganizationMonth"})
    query_string = "?start=%s&end=%s"
    return {
        "simusage": {CASES[0]: ("POST", "/graphql", card_body),
                     CASES[1]: ("POST", "/graphql", organization_body)},
        "bare": {CASES[0]: ("GET", "/sim-card-hourly/" + CARD
                            + query_string % tuple(t[:19] for t in day), ""),
                 CASES[1]: ("GET", f"/organization-daily/{ORGANIZATION_ID}"
                            + query_string % tuple(t[:19] for t in month), "")},
        "peer": peer.peer_requests(),
    }


def main() -> int:
    """Run the benchmark; exit status 1 if a floor is missed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3, help="length of one timed run")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per case (median)")
    parser.add_argument("--reload", action="store_true", help="rebuild the benchmark database")
    arguments = parser.parse_args()
    prepare(arguments.reload)
    peer.install()
    peer.prepare_functions(database_url())
    baselines = sql_baselines()
    print("SQL, median ms: " + ", ".join(f"{name} {value:.3f}" for name, value in baselines.items()))
    requests = requests_of((DAY.isoformat(), (DAY + timedelta(days=1)).isoformat()),
                           (START.isoformat(), (START + timedelta(days=DAYS)).isoformat()))
    keys = (create_key(["--admin"]), create_key(["--org", ORGANIZATION_ID]))
    generator = "wrk" if wrk_available() else "python httpx (install wrk for truer numbers)"
    print(f"load generator: {generator}; {arguments.repeat} interleaved runs of "
          f"{arguments.seconds:g} s per server and case, medians; CPU: the server's processes")
    servers: list[Server] = []
    try:
        servers += [simusage("simusage 1w", 1), simusage("simusage 2w", 2), postgraphile(1),
                    postgraphile(2), bare(), simusage("simusage 2w, admin key", 2, keys[0]),
                    simusage("simusage 2w, organization key", 2, keys[1]),
                    simusage(CACHED, 2, cache=True)]
        check_answers(servers, requests)
        statements = {(server.name, case): statements_per_request(server, requests[server.kind][case])
                      for server in servers[1:4:2] for case in CASES}
        runs: dict[tuple[str, str, int], list] = {}
        plan = [(server, case, clients) for server in servers for case in CASES for clients in (1, 32)
                if "key" not in server.name or case == CASES[1]]
        for server, case, clients in plan:  # warm-up: connections, caches, plans, the JIT
            run_load(server.url, *requests[server.kind][case], clients, 2, CARDS, server.headers)
        for _ in range(arguments.repeat):
            for server, case, clients in plan:
                runs.setdefault((server.name, case, clients), []).append(
                    measure_once(server, requests[server.kind][case], clients, arguments.seconds))
    finally:
        for server in servers:
            server.stop()
    results = {key: median_of(value) for key, value in runs.items()}
    for (name, case, clients), measured in results.items():
        load = measured.load
        database = "" if measured.database_cpu_ms is None else \
            f", PostgreSQL {measured.database_cpu_ms * 1000:4.0f} us"
        print(f"{name:30} {case:27} {clients:2} clients: {load.requests_per_second:6.0f} req/s  "
              f"p50 {load.p50_ms:6.2f} ms  p99 {load.p99_ms:6.2f} ms  CPU per request: server "
              f"{measured.cpu_ms:4.2f} ms{database}")
    for (name, case), count in statements.items():
        print(f"{name}: {count:.2f} statements per request for {case} (pg_stat_database)")
    return report(baselines, results, statements, CASES)


if __name__ == "__main__":
    sys.exit(main())
