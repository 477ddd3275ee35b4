"""`simusage serve` in a subprocess, for tests that need the real HTTP server (uvicorn)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def running_api(database_url: str, **variables: str) -> Iterator[str]:
    """The base URL of `simusage serve` over database_url, access control off unless set."""
    port = free_port()
    environment = {**os.environ, "DATABASE_URL": database_url, "SIMUSAGE_AUTH": "off",
                   "SIMUSAGE_API_PORT": str(port), **variables}
    server = subprocess.Popen([sys.executable, "-m", "simusage.cli", "serve"], env=environment,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base_url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        else:
            raise RuntimeError(f"simusage serve did not start: {server.stderr.read(4000)!r}")
        yield base_url
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)
