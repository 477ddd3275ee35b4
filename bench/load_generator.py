"""HTTP load for the benchmarks: wrk (C, light on the CPU the server needs) when installed, else
a bounded asyncio httpx loop. Loopback only; every run stops after its duration."""

from __future__ import annotations

import asyncio
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass

import httpx

# A request is described by a method, a path and a body in which "__CARD__" is replaced, per
# request, by a random SIM card id among `cards` (8944000000 + n).
CARD = "__CARD__"


@dataclass(frozen=True)
class Load:
    """One measured run: throughput and latency percentiles in milliseconds."""

    requests_per_second: float
    p50_ms: float
    p99_ms: float
    failures: int
    requests: int = 0


WRK_SCRIPT = """
wrk.method = "%(method)s"
wrk.headers["Content-Type"] = "application/json"
%(headers)s
local path = [==[%(path)s]==]
local body = [==[%(body)s]==]
request = function()
  local card = string.format("8944%%06d", math.random(0, %(last_card)d))
  local this_body = nil
  if body ~= "" then this_body = body:gsub("__CARD__", card) end
  return wrk.format(nil, (path:gsub("__CARD__", card)), nil, this_body)
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %%d %%d %%d %%d %%d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout + e.status))
end
"""


def wrk_available() -> bool:
    """Whether wrk is installed (Debian: apt-get install wrk)."""
    return shutil.which("wrk") is not None


def run_wrk(url: str, method: str, path: str, body: str, clients: int, seconds: float,
            cards: int, headers: dict[str, str] | None = None) -> Load:
    """One wrk run against url (http://127.0.0.1:port)."""
    extra = "\n".join(f'wrk.headers["{name}"] = [==[{value}]==]'
                       for name, value in (headers or {}).items())
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write(WRK_SCRIPT % {"method": method, "path": path, "body": body,
                                   "last_card": cards - 1, "headers": extra})
        script.flush()
        output = subprocess.run(
            ["wrk", "-t1", f"-c{clients}", f"-d{max(1, round(seconds))}s", "--timeout", "5s",
             "-s", script.name, url],
            capture_output=True, text=True, check=True, timeout=seconds + 60,
        ).stdout
    match = re.search(r"RESULT (\d+) (\d+) (\d+) (\d+) (\d+)", output)
    if not match:
        raise RuntimeError(f"unexpected wrk output:\n{output}")
    requests, duration_us, p50_us, p99_us, failures = map(int, match.groups())
    return Load(requests / (duration_us / 1e6), p50_us / 1000, p99_us / 1000, failures, requests)


async def _python_load(url: str, method: str, path: str, body: str, clients: int, seconds: float,
                       cards: int, headers: dict[str, str]) -> Load:
    import random

    latencies: list[float] = []
    failures = 0
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=5) as client:

        async def worker() -> None:
            nonlocal failures
            while time.perf_counter() < deadline:
                card = f"8944{random.randrange(cards):06d}"
                started = time.perf_counter()
                response = await client.request(
                    method, path.replace(CARD, card), content=body.replace(CARD, card) or None,
                    headers={"Content-Type": "application/json", **headers},
                )
                latencies.append(time.perf_counter() - started)
                failures += response.status_code != 200

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        elapsed = time.perf_counter() - started
    cuts = statistics.quantiles(latencies, n=100)
    return Load(len(latencies) / elapsed, cuts[49] * 1000, cuts[98] * 1000, failures,
                len(latencies))


def run_load(url: str, method: str, path: str, body: str, clients: int, seconds: float,
             cards: int, headers: dict[str, str] | None = None) -> Load:
    """One run with wrk, or with the Python client when wrk is missing (slower: it competes
    with the server for the same cores, so its numbers are a lower bound)."""
    if wrk_available():
        return run_wrk(url, method, path, body, clients, seconds, cards, headers)
    return asyncio.run(_python_load(url, method, path, body, clients, seconds, cards,
                                    headers or {}))
