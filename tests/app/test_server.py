"""`simusage serve`: TLS terminated by the server itself, several workers, clear refusals."""

from __future__ import annotations

import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from app.server import run_server
from tests.app.serving import free_port, running_api
from tests.conftest import settings_for


def test_half_tls_settings_are_refused(postgres_database: str, tmp_path: Path, capsys) -> None:
    certificate = tmp_path / "cert.pem"
    certificate.write_text("x")
    settings = settings_for(postgres_database, SIMUSAGE_TLS_CERTIFICATE=str(certificate))
    assert run_server(settings) == 2
    assert "SIMUSAGE_TLS_KEY" in capsys.readouterr().err
    missing = settings_for(postgres_database, SIMUSAGE_TLS_CERTIFICATE=str(tmp_path / "no.pem"),
                           SIMUSAGE_TLS_KEY=str(certificate))
    assert run_server(missing) == 2
    assert "no such file" in capsys.readouterr().err


def test_an_occupied_port_is_refused(postgres_database: str, capsys) -> None:
    with socket.socket() as occupant:
        occupant.bind(("127.0.0.1", 0))
        occupant.listen()
        port = occupant.getsockname()[1]
        settings = settings_for(postgres_database, SIMUSAGE_API_PORT=str(port), SIMUSAGE_API_WORKERS="2")
        assert run_server(settings) == 2
    assert "cannot listen" in capsys.readouterr().err


def test_serve_terminates_tls_with_two_workers(postgres_database: str, tmp_path: Path) -> None:
    certificate, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(certificate)],
        check=True, capture_output=True,
    )
    trust = ssl.create_default_context(cafile=str(certificate))
    port = free_port()
    environment = {
        **os.environ, "DATABASE_URL": postgres_database, "SIMUSAGE_AUTH": "off",
        "SIMUSAGE_API_PORT": str(port), "SIMUSAGE_API_WORKERS": "2",
        "SIMUSAGE_METRICS_OPERATIONS": "Tls",
        "SIMUSAGE_TLS_CERTIFICATE": str(certificate), "SIMUSAGE_TLS_KEY": str(key),
    }
    server = subprocess.Popen([sys.executable, "-m", "simusage.cli", "serve"], env=environment,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with httpx.Client(base_url=f"https://127.0.0.1:{port}", verify=trust) as client:
            for _ in range(100):
                try:
                    if client.get("/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            answer = client.post("/graphql", json={"query": "query Tls { organizations { totalCount } }"})
            assert answer.json() == {"data": {"organizations": {"totalCount": 0}}}
        # A new connection each time: the kernel spreads them over both workers, and whichever
        # worker answers /metrics counts the requests of both.
        for _ in range(10):
            httpx.post(f"https://127.0.0.1:{port}/graphql", verify=trust,
                       json={"query": "query Tls { __typename }"})
        metrics = httpx.get(f"https://127.0.0.1:{port}/metrics", verify=trust).text
        assert 'simusage_graphql_requests_total{operation="Tls"} 11.0' in metrics
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)  # no plain HTTP
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(30) == 0


@pytest.mark.parametrize("workers", ["1", "2"])
def test_metrics_can_be_served_on_an_address_of_their_own(postgres_database: str, workers: str) -> None:
    metrics_port = free_port()
    with running_api(postgres_database, SIMUSAGE_METRICS_PORT=str(metrics_port),
                     SIMUSAGE_API_WORKERS=workers) as base_url:
        httpx.post(f"{base_url}/graphql", json={"query": "{ __typename }"})
        assert httpx.get(f"{base_url}/metrics").status_code == 404
        metrics = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics").text
    assert re.search(r'simusage_graphql_requests_total\{operation="anonymous"\} [1-9]', metrics)
