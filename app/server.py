"""`simusage serve`: the API under uvicorn, with several workers and TLS when configured."""

from __future__ import annotations

import logging
import os
import shutil
import sys
import tempfile

import uvicorn

from simusage.settings import Settings

logger = logging.getLogger(__name__)


def run_server(settings: Settings) -> int:
    """Serve the API until interrupted; the exit status of the command."""
    if bool(settings.tls_certificate) != bool(settings.tls_key):
        print(
            "simusage serve: set both SIMUSAGE_TLS_CERTIFICATE and SIMUSAGE_TLS_KEY, or neither",
            file=sys.stderr,
        )
        return 2
    for variable, path in (
        ("SIMUSAGE_TLS_CERTIFICATE", settings.tls_certificate),
        ("SIMUSAGE_TLS_KEY", settings.tls_key),
    ):
        if path and not os.path.isfile(path):
            print(f"simusage serve: {variable}: no such file {path}", file=sys.stderr)
            return 2
    metrics_directory = None
    if settings.api_workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Each worker is a process with its own counters: prometheus_client's multiprocess
        # mode has them write to files that /metrics sums, whichever worker answers it.
        metrics_directory = tempfile.mkdtemp(prefix="simusage-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_directory
    tls = {}
    if settings.tls_certificate:
        tls = {"ssl_certfile": settings.tls_certificate, "ssl_keyfile": settings.tls_key}
    scheme = "https" if tls else "http"
    logger.info("serving GraphQL at %s://%s:%s/graphql", scheme, settings.api_host, settings.api_port)
    try:
        uvicorn.run(
            "app.main:create_app_from_environment",
            factory=True,
            host=settings.api_host,
            port=settings.api_port,
            workers=settings.api_workers,
            log_level=settings.log_level.lower(),
            # One log line per request costs more than a small query; metrics count requests.
            access_log=False,
            **tls,
        )
    finally:
        if metrics_directory:
            shutil.rmtree(metrics_directory, ignore_errors=True)
    return 0
