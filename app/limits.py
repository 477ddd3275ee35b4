"""ASGI middleware about what a client sends: bodies over a limit, and bodies never finished."""

from __future__ import annotations

import logging

from starlette.requests import ClientDisconnect
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send


logger = logging.getLogger(__name__)


class _TooLarge(Exception):
    pass


def _refusal(limit: int) -> JSONResponse:
    body = {"errors": [{
        "message": f"request body larger than {limit} bytes",
        "extensions": {"code": "REQUEST_TOO_LARGE"},
    }]}
    return JSONResponse(body, status_code=413)


class RequestSizeLimit:
    """413 for a body over max_bytes: at once by Content-Length, or while a chunked body streams."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, counting its body."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                if not value.isdigit() or int(value) > self.max_bytes:
                    await _refusal(self.max_bytes)(scope, receive, send)
                    return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _TooLarge
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except _TooLarge:
            if started:
                raise
            await _refusal(self.max_bytes)(scope, receive, send)


class ClientDisconnects:
    """A client that leaves before its body is read is its own mistake: one WARNING line, where
    the exception would log an ERROR with a 60-line traceback as if the server had failed."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; a disconnect mid-body ends it quietly."""
        try:
            await self.app(scope, receive, send)
        except ClientDisconnect:
            client = scope.get("client") or ("-", 0)
            logger.warning("client %s disconnected before sending its whole request", client[0])
