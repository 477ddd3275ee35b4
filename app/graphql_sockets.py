"""The GraphQL endpoint's WebSockets (graphql-transport-ws): text frames, a rate limit on
`subscribe`, and the API key a connection_init payload carries."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.websockets import WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.http.exceptions import WebSocketDisconnected


class TextFrames(ASGIWebSocketAdapter):
    """graphql-transport-ws messages as text frames: strawberry sends the bytes our orjson
    encoder returns as binary frames, which browsers' clients (graphql-ws) cannot read."""

    async def iter_json(self, *, ignore_parsing_errors: bool = False) -> Any:
        """The client's messages; a `subscribe` past its key's rate limit closes the socket
        (4429), as an HTTP request past it is refused with 429."""
        take = getattr(self.ws.state, "take_request", None)
        async for message in super().iter_json(ignore_parsing_errors=ignore_parsing_errors):
            if take is not None and isinstance(message, dict) and message.get("type") == "subscribe" \
                    and take() > 0:
                await self.ws.close(code=4429, reason="Too many requests for this API key")
                return
            yield message

    async def send_json(self, message: Any) -> None:
        """Send one protocol message."""
        try:
            await self.ws.send_text(orjson.dumps(message).decode())
        except WebSocketDisconnect as error:
            raise WebSocketDisconnected from error


def key_of(parameters: dict) -> str | None:
    """The Authorization value a connection_init payload carries: {"Authorization": "Bearer
    <key>"} (as the header; also lower-case) or {"apiKey": "<key>"}."""
    for name in ("Authorization", "authorization"):
        value = parameters.get(name)
        if isinstance(value, str):
            return value
    key = parameters.get("apiKey")
    return f"Bearer {key}" if isinstance(key, str) else None
