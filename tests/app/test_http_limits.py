"""HTTP limits of `simusage serve`: header size and count, slow clients, connections per worker."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from tests.app.serving import running_api

LIMITS = {"SIMUSAGE_API_HEADER_TIMEOUT_S": "1", "SIMUSAGE_API_BODY_TIMEOUT_S": "1",
          "SIMUSAGE_API_MAX_CONNECTIONS": "20"}
QUERY = b'{"query": "{ __typename }"}'


@pytest.fixture(scope="module")
def api(postgres_database_module: str) -> Iterator[str]:
    with running_api(postgres_database_module, **LIMITS) as base_url:
        yield base_url


def connect(base_url: str) -> socket.socket:
    address = urlsplit(base_url)
    return socket.create_connection((address.hostname, address.port), timeout=10)


def answer(connection: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    received = b""
    while chunk := connection.recv(65536):
        received += chunk
    return received


def post(extra_headers: bytes = b"", body: bytes = QUERY) -> bytes:
    return (b"POST /graphql HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
            b"content-length: %d\r\n%s\r\n%s" % (len(body), extra_headers, body))


def assert_still_serving(base_url: str) -> None:
    response = httpx.post(f"{base_url}/graphql", json={"query": "{ __typename }"})
    assert response.json() == {"data": {"__typename": "Query"}}


def test_a_one_megabyte_header_is_refused_with_431(api: str) -> None:
    started = time.monotonic()
    with connect(api) as connection:
        try:
            connection.sendall(post(b"x-filler: " + b"a" * 1024 * 1024 + b"\r\n"))
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused before the whole header was sent
        reply = answer(connection)
    assert reply.startswith(b"HTTP/1.1 431 "), reply[:200]
    assert time.monotonic() - started < 1
    assert_still_serving(api)


def test_too_many_headers_are_refused_with_431(api: str) -> None:
    headers = b"".join(b"x-h%d: 1\r\n" % index for index in range(150))
    with connect(api) as connection:
        connection.sendall(post(headers))
        assert answer(connection).startswith(b"HTTP/1.1 431 ")


def test_headers_within_the_limits_pass(api: str) -> None:
    headers = b"".join(b"x-h%d: %s\r\n" % (index, b"v" * 200) for index in range(90))
    with connect(api) as connection:
        connection.sendall(post(headers + b"connection: close\r\n"))
        reply = answer(connection)
    assert reply.startswith(b"HTTP/1.1 200 ") and b'"__typename":"Query"' in reply


@pytest.mark.parametrize("sent", [b"", b"POST /graphql HTTP/1.1\r\nhost: x\r\n",
                                  post()[:-5]], ids=["nothing", "half the headers", "half the body"])
def test_a_client_too_slow_is_answered_408_and_disconnected(api: str, sent: bytes) -> None:
    started = time.monotonic()
    with connect(api) as connection:
        connection.sendall(sent)
        reply = answer(connection)
    assert reply.startswith(b"HTTP/1.1 408 "), reply
    assert 0.9 < time.monotonic() - started < 3


def test_a_keep_alive_connection_serves_one_request_after_another(api: str) -> None:
    with connect(api) as connection:
        for _ in range(3):
            connection.sendall(post())
            time.sleep(0.3)
        connection.sendall(post(b"connection: close\r\n"))
        assert answer(connection).count(b"HTTP/1.1 200 ") == 4


def test_past_the_connection_limit_requests_get_503(api: str) -> None:
    idle = [connect(api) for _ in range(20)]
    try:
        with connect(api) as connection:
            connection.sendall(post(b"connection: close\r\n"))
            assert answer(connection).startswith(b"HTTP/1.1 503 ")
    finally:
        for connection in idle:
            connection.close()
    time.sleep(0.2)
    assert_still_serving(api)


def test_two_hundred_slow_connections_are_all_closed_in_time(api: str) -> None:
    connections = [connect(api) for _ in range(200)]
    try:
        for connection in connections:
            connection.sendall(b"GET /healthz HTTP/1.1\r\nhost: x\r\n")
        time.sleep(1.5)
        for connection in connections:
            connection.settimeout(2)
            assert answer(connection).startswith(b"HTTP/1.1 408 ")  # answered, then closed
    finally:
        for connection in connections:
            connection.close()
    assert_still_serving(api)


def test_without_the_seam_the_server_falls_back_to_h11_loudly(monkeypatch, caplog) -> None:
    from app import http_protocol as module

    limits = module.HttpLimits(32768, 100, 10.0, 30.0)
    protocol, extra = module.http_protocol(limits)
    assert issubclass(protocol, module.BoundedHttpToolsProtocol) and extra == {}
    monkeypatch.setattr(module, "_SEAM", (*module._SEAM, "on_something_removed"))
    assert module.http_protocol(limits) == ("h11", {"h11_max_incomplete_event_size": 32768})
    assert "serving with h11" in caplog.text
