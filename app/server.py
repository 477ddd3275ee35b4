"""`simusage serve`: the API under uvicorn, several worker processes, TLS when configured.

With several workers, each binds its own socket with SO_REUSEPORT and the kernel spreads new
connections evenly over them. uvicorn's own multi-worker mode shares one listening socket, and
whichever worker wakes first accepts a burst of connections: with 32 keep-alive clients
connecting at once, all 32 often landed on one worker, which then served at the throughput of
one process (430-600 requests/s instead of about 900).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from typing import Any

import uvicorn

from app.http_protocol import HttpLimits, http_protocol
from app.metrics import serve_metrics
from simusage.logs import configure_logging
from simusage.settings import Settings

logger = logging.getLogger(__name__)

APPLICATION = "app.main:create_app_from_environment"
BACKLOG = 2048
# A worker that dies sooner than this after its start is not restarted: it would crash again.
MINIMUM_LIFETIME_SECONDS = 5.0


def _config(settings: Settings) -> uvicorn.Config:
    tls: dict[str, Any] = {}
    if settings.tls_certificate:
        tls = {"ssl_certfile": settings.tls_certificate, "ssl_keyfile": settings.tls_key}
    protocol, protocol_settings = http_protocol(HttpLimits(
        settings.api_max_header_bytes, settings.api_max_headers,
        settings.api_header_timeout_s, settings.api_body_timeout_s,
    ))
    return uvicorn.Config(
        APPLICATION, factory=True, host=settings.api_host, port=settings.api_port,
        log_level=settings.log_level.lower(),
        # Logging is configured by simusage.logs (text or JSON lines), not by uvicorn.
        log_config=None,
        # One log line per request costs more than a small query; metrics count requests.
        access_log=False,
        http=protocol, limit_concurrency=settings.api_max_connections,
        # A WebSocket message is bounded as a request body is (closed with 1009 above it).
        ws_max_size=settings.api_max_request_bytes,
        **protocol_settings, **tls,
    )


def _listening_socket(host: str, port: int, reuse_port: bool) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    listener.bind((host, port))
    listener.listen(BACKLOG)
    return listener


def _worker(settings: Settings) -> None:
    """One worker process: its own SO_REUSEPORT socket, one uvicorn server."""
    configure_logging(settings)  # a spawned process starts with no logging configuration
    listener = _listening_socket(settings.api_host, settings.api_port, reuse_port=True)
    uvicorn.Server(_config(settings)).run(sockets=[listener])


def _check_arguments(settings: Settings) -> str | None:
    if settings.metrics_port == settings.api_port:
        return "SIMUSAGE_METRICS_PORT must differ from SIMUSAGE_API_PORT"
    if bool(settings.tls_certificate) != bool(settings.tls_key):
        return "set both SIMUSAGE_TLS_CERTIFICATE and SIMUSAGE_TLS_KEY, or neither"
    for variable, path in (("SIMUSAGE_TLS_CERTIFICATE", settings.tls_certificate),
                           ("SIMUSAGE_TLS_KEY", settings.tls_key)):
        if path and not os.path.isfile(path):
            return f"{variable}: no such file {path}"
    try:
        # Without SO_REUSEPORT, so that a server already on the port (even one of ours with
        # SO_REUSEPORT) makes this fail instead of silently sharing its traffic.
        _listening_socket(settings.api_host, settings.api_port, reuse_port=False).close()
    except OSError as error:
        return f"cannot listen on {settings.api_host}:{settings.api_port}: {error.strerror}"
    return None


def _supervise(settings: Settings) -> int:
    context = multiprocessing.get_context("spawn")
    stopping = False

    def stop(signal_number: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    def started_worker() -> tuple[multiprocessing.process.BaseProcess, float]:
        process = context.Process(target=_worker, args=(settings,), daemon=True)
        process.start()
        return process, time.monotonic()

    workers = {index: started_worker() for index in range(settings.api_workers)}
    status = 0
    while not stopping:
        time.sleep(0.2)
        for index, (process, started) in list(workers.items()):
            if process.is_alive() or stopping:
                continue
            if time.monotonic() - started < MINIMUM_LIFETIME_SECONDS:
                logger.error("API worker %s exited at start (code %s): stopping",
                             index, process.exitcode)
                stopping, status = True, 1
                break
            logger.warning("API worker %s exited (code %s): restarting it", index, process.exitcode)
            workers[index] = started_worker()
    for process, _ in workers.values():
        process.terminate()  # uvicorn's graceful shutdown: finish requests in flight
    for process, _ in workers.values():
        process.join(30)
        if process.is_alive():
            process.kill()
    return status


def _serve_metrics_apart(settings: Settings) -> None:
    if settings.metrics_port:
        serve_metrics(settings.metrics_host, settings.metrics_port)
        logger.info("serving metrics at http://%s:%s/metrics", settings.metrics_host,
                    settings.metrics_port)


def run_server(settings: Settings) -> int:
    """Serve the API until interrupted; the exit status of the command."""
    problem = _check_arguments(settings)
    if problem:
        print(f"simusage serve: {problem}", file=sys.stderr)
        return 2
    scheme = "https" if settings.tls_certificate else "http"
    logger.info("serving GraphQL at %s://%s:%s/graphql", scheme, settings.api_host, settings.api_port)
    if settings.api_workers == 1:
        _serve_metrics_apart(settings)
        uvicorn.Server(_config(settings)).run()
        return 0
    metrics_directory = None
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Each worker is a process with its own counters: prometheus_client's multiprocess
        # mode has them write to files that /metrics sums, whichever worker answers it.
        metrics_directory = tempfile.mkdtemp(prefix="simusage-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_directory
    try:
        _serve_metrics_apart(settings)
        return _supervise(settings)
    finally:
        if metrics_directory:
            shutil.rmtree(metrics_directory, ignore_errors=True)

