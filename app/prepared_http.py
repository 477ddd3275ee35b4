"""The HTTP of prepared operations: a POST body read as one, its answer written as two ASGI
messages, where strawberry's view and starlette's Response built objects and parsed headers
around the same bytes (about 5% of query (b)'s CPU)."""

from __future__ import annotations

from typing import Any, NamedTuple

import orjson
from starlette.requests import Request
from starlette.types import Receive, Scope, Send
from strawberry.types import ExecutionResult

from app.graphql_over_http import is_request_error, response_media_type, status_code


class PreparedRequest(NamedTuple):
    """What a POST asks: a query text, its operation name and variables, the accepted type."""

    query: str
    operation_name: str | None
    variables: dict[str, Any] | None
    accept: str


async def prepared_request(request: Request) -> PreparedRequest | None:
    """The request, if it is a plain JSON POST of one operation; None for strawberry's view
    (batches, persisted queries, streams, other bodies), which reads the same kept body."""
    headers = request.headers
    accept = headers.get("accept") or ""
    if request.method != "POST" or "multipart/mixed" in accept or "text/event-stream" in accept \
            or not headers.get("content-type", "").startswith("application/json"):
        return None
    try:
        data = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        return None
    if type(data) is not dict or data.get("extensions") is not None:
        return None
    query, variables, name = data.get("query"), data.get("variables"), data.get("operationName")
    if type(query) is not str or not (variables is None or type(variables) is dict) \
            or not (name is None or type(name) is str):
        return None
    return PreparedRequest(query, name, variables, accept)


class AnswerHeaders:
    """The headers that the response cache adds to an answer (strawberry's sub-response)."""

    __slots__ = ("headers",)

    def __init__(self) -> None:
        self.headers: dict[str, str] = {}


class RawAnswer:
    """An ASGI response of one body, its headers already encoded."""

    __slots__ = ("status", "headers", "body")

    def __init__(self, result: ExecutionResult, accept: str, extra: AnswerHeaders) -> None:
        """The answer as GraphQL over HTTP shapes it for the accepted media type: a request
        error carries no data (nothing was executed) and, as graphql-response+json, a 400."""
        errors = result.errors
        request_error = is_request_error(result.data, errors)
        body: dict[str, Any] = {} if request_error else {"data": result.data}
        if errors:
            body["errors"] = [error.formatted for error in errors]
        if result.extensions:
            body["extensions"] = result.extensions
        media_type = response_media_type(accept)
        self.status = status_code(media_type, request_error)
        self.body = orjson.dumps(body)
        # An answer is one caller's, current when sent: no proxy or browser may keep it.
        self.headers = [(b"content-type", media_type.encode()),
                        (b"content-length", str(len(self.body)).encode()),
                        (b"cache-control", b"no-store"),
                        *((name.lower().encode(), value.encode())
                          for name, value in extra.headers.items())]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Send the answer."""
        await send({"type": "http.response.start", "status": self.status, "headers": self.headers})
        await send({"type": "http.response.body", "body": self.body})
