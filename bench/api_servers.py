"""The servers bench/api.py measures side by side, and what it reads about them: `simusage serve`
(1 or 2 workers, access control off or on), the bare FastAPI endpoint, and the PostGraphile peer;
their CPU per request from /proc, and statements per request from pg_stat_database."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
import peer  # noqa: E402
from api_data import NAME, database_url  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
POSTMASTER_PID = ROOT / ".run" / "postgres" / "data" / "postmaster.pid"

# Transactions of the benchmark's database: every statement of the API is one (autocommit).
TRANSACTIONS = "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = %s"


@dataclass
class Server:
    """One running server: its kind (simusage, bare or peer: which requests it takes), name,
    port, process, and the headers its requests carry."""

    kind: str
    name: str
    port: int
    process: subprocess.Popen
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        """The server's base URL."""
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        """Stop the server and its workers."""
        if self.kind == "peer":
            peer.stop_peer(self.process)
            return
        os.killpg(self.process.pid, signal.SIGTERM)  # our own session: uvicorn and its workers
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def cpu_seconds(self) -> float:
        """CPU seconds used so far by the server's processes."""
        return peer.process_tree_cpu_seconds(self.process.pid)


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(command: list[str], port: int, ready_path: str, **variables: str) -> subprocess.Popen:
    """Start a server in its own session and wait until ready_path answers 200."""
    environment = {**os.environ, "DATABASE_URL": database_url(), "SIMUSAGE_AUTH": "off",
                   "SIMUSAGE_API_PORT": str(port), "SIMUSAGE_API_WORKERS": "2",
                   "SIMUSAGE_LOG_LEVEL": "WARNING", **variables}
    process = subprocess.Popen(command, cwd=ROOT, env=environment, start_new_session=True)
    for _ in range(150):
        try:
            if httpx.get(f"http://127.0.0.1:{port}{ready_path}", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    raise RuntimeError(f"{command} did not become ready")


def simusage(name: str, workers: int, key: str | None = None, cache: bool = False) -> Server:
    """`simusage serve` with workers processes; with a key, access control on; the response
    cache off unless asked for (every other figure is of a full GraphQL execution)."""
    port = free_port()
    # The per-key rate limit stays on, far above what one load generator sends.
    process = start([sys.executable, "-m", "simusage.cli", "serve"], port, "/readyz",
                    SIMUSAGE_API_WORKERS=str(workers), SIMUSAGE_AUTH="on" if key else "off",
                    SIMUSAGE_API_RATE_LIMIT="1000000",
                    SIMUSAGE_API_CACHE_BYTES=str(64 * 1024 * 1024 if cache else 0))
    return Server("simusage", name, port, process,
                  {"Authorization": f"Bearer {key}"} if key else {})


def bare() -> Server:
    """The bare FastAPI endpoint (bench/bare_api.py) on 2 workers."""
    port = free_port()
    process = start([sys.executable, "-m", "uvicorn", "bare_api:create_app", "--factory",
                     "--app-dir", "bench", "--workers", "2", "--no-access-log", "--log-level",
                     "warning", "--port", str(port)], port, "/healthz")
    return Server("bare", "bare 2w", port, process)


def postgraphile(processes: int) -> Server:
    """The PostGraphile peer with processes Node processes."""
    port = free_port()
    return Server("peer", f"PostGraphile {processes}p", port, peer.start_peer(port, processes))


def create_key(scope: list[str]) -> str:
    """A new API key of the benchmark's database (scope: ["--admin"] or ["--org", id])."""
    environment = {**os.environ, "DATABASE_URL": database_url()}
    return subprocess.run(
        [sys.executable, "-m", "simusage.cli", "apikey", "create", *scope, "--name", "bench/api.py"],
        cwd=ROOT, env=environment, capture_output=True, text=True, check=True,
    ).stdout.strip()


def transactions() -> int:
    """Transactions of the benchmark's database so far, as the statistics have them."""
    with psycopg.connect(database_url(), autocommit=True) as connection:
        return connection.execute(TRANSACTIONS, (NAME,)).fetchone()[0]


def settled_transactions(before: int) -> int:
    """Transactions since before (a value of transactions()), once every backend has reported
    its own: PostgreSQL 15 flushes a backend's statistics at most once a second, and within
    10 s of going idle. Each poll is a transaction of its own, counted once its connection
    closes: the polls are taken out, the one that read before included."""
    polls, last = 0, None
    deadline = time.monotonic() + 12
    while time.monotonic() < deadline:
        current = transactions() - polls
        polls += 1
        if current == last:
            break
        last = current
        time.sleep(1.2)
    return last - before - 1


def postgres_cpu_seconds() -> float | None:
    """CPU seconds of the local PostgreSQL (postmaster and backends), if it runs here."""
    try:
        return peer.process_tree_cpu_seconds(int(POSTMASTER_PID.read_text().split()[0]))
    except (OSError, ValueError, IndexError):
        return None
