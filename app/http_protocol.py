"""uvicorn's httptools protocol with bounds on what a client may send before the app sees it.

httptools, unlike h11, accepts headers of any size, and uvicorn times out only idle keep-alive
connections: an 8 MB header was accepted, and connections that never finish their headers held
memory and sockets for as long as the client liked. Here the request line and headers are
bounded in bytes and count (431), and the headers and the body must arrive within their time
(408). The seam is uvicorn's parser callbacks (pinned in pyproject.toml), checked at start: if it
no longer fits, the server says so and runs uvicorn's h11 protocol, which bounds header bytes.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

logger = logging.getLogger(__name__)

_SEAM = ("connection_made", "connection_lost", "on_message_begin", "on_url", "on_header",
         "on_headers_complete", "on_message_complete", "send_400_response")
_REASONS = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}


@dataclass(frozen=True)
class HttpLimits:
    """What one request may send: line and header bytes, header count, and times to send them."""

    max_header_bytes: int
    max_headers: int
    header_timeout_s: float
    body_timeout_s: float


class _Refused(Exception):
    """Raised in a parser callback; httptools stops, uvicorn calls send_400_response."""


def _response(status: int, message: str) -> bytes:
    body = message.encode()
    return b"".join((
        b"HTTP/1.1 %d %s\r\n" % (status, _REASONS[status]),
        b"content-type: text/plain; charset=utf-8\r\n",
        b"content-length: %d\r\nconnection: close\r\n\r\n" % len(body),
        body,
    ))


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """HttpToolsProtocol that refuses oversized headers and slow requests."""

    limits: HttpLimits

    def __init__(self, *arguments: Any, **keywords: Any) -> None:
        super().__init__(*arguments, **keywords)
        self._head_bytes = 0
        self._header_count = 0
        self._refusal: tuple[int, str] | None = None
        self._deadline: asyncio.TimerHandle | None = None
        self._receiving_body = False

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._timed_out)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _timed_out(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        part = "body" if self._receiving_body else "headers"
        logger.warning("HTTP request refused: %s not received in time from %s", part,
                       self.client[0] if self.client else "-")
        if self.cycle is not None and not self.cycle.response_complete and self._receiving_body:
            self.cycle.disconnected = True  # the app, if reading the body, stops waiting
            self.cycle.message_event.set()
        self.transport.write(_response(408, f"request {part} not received in time"))
        self.transport.close()

    def _refuse(self, status: int, message: str) -> None:
        self._refusal = (status, message)
        raise _Refused

    def _count_head(self, size: int) -> None:
        self._head_bytes += size
        if self._head_bytes > self.limits.max_header_bytes:
            self._refuse(431, f"request line and headers over {self.limits.max_header_bytes} bytes")

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """A new connection must send its first request's headers in time."""
        super().connection_made(transport)
        self._arm(self.limits.header_timeout_s)

    def connection_lost(self, exc: Exception | None) -> None:
        """Stop the clock."""
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        """A request begins: count its head from zero, against the header clock."""
        super().on_message_begin()
        self._head_bytes = self._header_count = 0
        self._receiving_body = False
        self._arm(self.limits.header_timeout_s)

    def on_url(self, url: bytes) -> None:
        """Count the request line."""
        self._count_head(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        """Count each header, in bytes and in number."""
        self._count_head(len(name) + len(value) + 4)
        self._header_count += 1
        if self._header_count > self.limits.max_headers:
            self._refuse(431, f"more than {self.limits.max_headers} headers")
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        """The headers are in: the body, if any, has its own clock."""
        self._receiving_body = True
        self._arm(self.limits.body_timeout_s)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        """The whole request is in: no clock until the next one begins."""
        self._disarm()
        self._receiving_body = False
        super().on_message_complete()

    def send_400_response(self, msg: str) -> None:
        """The refusal a callback asked for, else uvicorn's own 400."""
        if self._refusal is None:
            super().send_400_response(msg)
            return
        status, message = self._refusal
        logger.warning("HTTP request refused (%s): %s from %s", status, message,
                       self.client[0] if self.client else "-")
        self.transport.write(_response(status, message))
        self.transport.close()


def _seam_fits() -> bool:
    return all(callable(getattr(HttpToolsProtocol, name, None)) for name in _SEAM)


def http_protocol(limits: HttpLimits) -> tuple[type[asyncio.Protocol] | str, dict[str, Any]]:
    """uvicorn's `http` setting (and extra settings) that enforce the limits."""
    if not _seam_fits():
        logger.warning("uvicorn's httptools protocol no longer has the callbacks simusage bounds: "
                       "serving with h11 (header bytes bounded, no header or body timeouts)")
        return "h11", {"h11_max_incomplete_event_size": limits.max_header_bytes}
    protocol = type("BoundedHttp", (BoundedHttpToolsProtocol,), {"limits": limits})
    return protocol, {}
