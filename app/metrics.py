"""Prometheus metrics of the API: requests and latency by operation, errors by code."""

from __future__ import annotations

import os
from collections.abc import Callable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    start_http_server,
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
COMPILED_FALLBACKS = Counter(
    "simusage_graphql_compiled_fallbacks",
    "Compiled operations run again by graphql-core (an error, a null where none may be).",
)
for _code in CODES:
    ERRORS.labels(_code)  # exported at zero from the start, so that rates work at once

CHANGE_FEED_MESSAGES = Counter(
    "simusage_change_feed_messages", "Change-feed messages received from the database."
)
CHANGE_FEED_RECONNECTS = Counter(
    "simusage_change_feed_reconnects", "Times the change-feed connection was lost."
)
SOCKETS = Gauge(
    "simusage_websocket_connections", "Open GraphQL WebSocket connections.",
    multiprocess_mode="livesum",
)
SUBSCRIPTIONS = Gauge(
    "simusage_subscriptions", "Active usageUpdates subscriptions.", multiprocess_mode="livesum"
)
SUBSCRIBERS_DROPPED = Counter(
    "simusage_subscribers_dropped",
    "Subscriptions ended because the client did not read its updates fast enough.",
)
CACHE = Counter(
    "simusage_response_cache", "Response cache lookups and evictions, by event.", ["event"]
)
for _event in ("hit", "miss", "eviction"):
    CACHE.labels(_event)


def operation_labeler(names: frozenset[str]) -> Callable[[str | None], str]:
    """The metrics label of an operation name: the name only if the operator listed it.

    Operation names are chosen by clients: as labels they would let one tenant fill the series
    and let anyone reading /metrics learn the names that other tenants choose.
    """

    def label(name: str | None) -> str:
        if not name:
            return "anonymous"
        return name if name in names else "other"

    return label


def _registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY


def metrics_response(request: Request) -> Response:
    """The Prometheus text exposition; summed over every worker when there are several."""
    return Response(generate_latest(_registry()), media_type=CONTENT_TYPE_LATEST)


def serve_metrics(host: str, port: int) -> None:
    """Serve /metrics on an address of its own, from a thread of this process."""
    start_http_server(port, host, registry=_registry())
