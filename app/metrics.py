"""Prometheus metrics of the API: requests and latency by operation, errors by code."""

from __future__ import annotations

import os
import re

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.requests import Request
from starlette.responses import Response

from app.errors import CODES

REQUESTS = Counter(
    "simusage_graphql_requests", "GraphQL operations executed, by operation name.", ["operation"]
)
LATENCY = Histogram(
    "simusage_graphql_request_duration_seconds",
    "Time to parse, validate and execute a GraphQL operation, by operation name.",
    ["operation"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
ERRORS = Counter("simusage_graphql_errors", "GraphQL errors returned, by code.", ["code"])
for _code in CODES:
    ERRORS.labels(_code)  # exported at zero from the start, so that rates work at once

# Operation names come from clients: past this many distinct names, or for a name that does
# not look like one, the label is "other", so that no client can grow the series unboundedly.
MAX_OPERATION_NAMES = 100
_OPERATION_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,63}")
_known_operations: set[str] = set()


def operation_label(name: str | None) -> str:
    """A bounded label for an operation name: the name, "anonymous" or "other"."""
    if not name:
        return "anonymous"
    if name in _known_operations:
        return name
    if len(_known_operations) >= MAX_OPERATION_NAMES or not _OPERATION_NAME.fullmatch(name):
        return "other"
    _known_operations.add(name)
    return name


def metrics_response(request: Request) -> Response:
    """The Prometheus text exposition; summed over every worker when there are several."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        body = generate_latest(registry)
    else:
        body = generate_latest()
    return Response(body, media_type=CONTENT_TYPE_LATEST)
