"""The GraphQL over HTTP specification's media types and status codes.

`application/graphql-response+json` goes to clients that ask for it in Accept; a request error
(the document does not parse or validate, the variables do not coerce, no operation to run, a
refused persisted query or cost) then answers 4xx. `application/json`, for every other client,
keeps HTTP 200. Under both, a request error carries no `data` entry: nothing was executed.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"


def response_media_type(accept: str | None) -> str:
    """The media type of the answer: graphql-response+json when Accept names it (q above 0)."""
    for item in (accept or "").split(","):
        media, *parameters = (part.strip() for part in item.split(";"))
        if media.lower() == GRAPHQL_RESPONSE and not any(
            parameter.replace(" ", "") in ("q=0", "q=0.0", "q=0.00", "q=0.000")
            for parameter in parameters
        ):
            return GRAPHQL_RESPONSE
    return JSON


def is_request_error(data: Any, errors: list | None) -> bool:
    """Whether a result is a request error: no data and no error raised by a field."""
    return data is None and bool(errors) and all(error.path is None for error in errors)


def status_code(media_type: str, request_error: bool) -> int:
    """HTTP status of a GraphQL response."""
    return 400 if request_error and media_type == GRAPHQL_RESPONSE else 200


def http_error(status: int, reason: str, accept: str | None) -> Response:
    """A request refused before GraphQL (a malformed body, a batch, no query): a GraphQL error
    body that clients can read, where strawberry answers text/plain."""
    body = {"errors": [{"message": reason, "extensions": {"code": "BAD_REQUEST"}}]}
    return Response(orjson.dumps(body), status_code=status, media_type=response_media_type(accept))
