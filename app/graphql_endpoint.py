"""The GraphQL endpoint: strawberry's ASGI view with orjson, prepared operations past its
pipeline, the vendored GraphiQL, GraphQL over HTTP's media types and status codes, and
WebSockets whose key comes in connection_init."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
from cross_web import HTTPException  # strawberry's own HTTP error type (its dependency)
from graphql import GraphQLError
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.schema.exceptions import CannotGetOperationTypeError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET

from app.authentication import NOBODY
from app.context import RequestContext
from app.database import Database
from app.errors import UserInputError
from app.graphql_sockets import TextFrames, key_of
from app.graphql_over_http import http_error, is_request_error, response_media_type, status_code
from app.live_usage import LiveUsage
from app.metrics import REQUESTS, SOCKETS
from app.persisted_queries import PersistedQueries
from app.prepared_http import AnswerHeaders, RawAnswer, prepared_request
from app.response_cache import ResponseCache, cache_key
from app.schema import Schema
from app.viewer import ADMIN
from simusage.settings import Settings

GRAPHIQL_PAGE = (Path(__file__).resolve().parent / "static" / "graphiql" / "index.html").read_text()
CACHE_HEADER = "X-Simusage-Cache"
CONNECTION_INIT_SECONDS = 10  # a socket that never says who it is is closed after this


class GraphQLEndpoint(GraphQL):
    """Strawberry's ASGI view with orjson both ways, the vendored GraphiQL, and our context.

    A plain ASGI route rather than strawberry's FastAPI router: the router resolves the
    context through FastAPI's dependency injection, about 0.2 ms a request (15 %) for
    nothing this API uses.
    """

    websocket_adapter_class = TextFrames

    def __init__(self, schema: Schema, settings: Settings, database: Database,
                 live: LiveUsage | None, cache: ResponseCache | None) -> None:
        super().__init__(
            schema, graphql_ide="graphiql", subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            connection_init_wait_timeout=timedelta(seconds=CONNECTION_INIT_SECONDS),
            # Ours (a coded error) counts subscriptions; this bounds queries in flight too.
            max_subscriptions_per_connection=settings.api_max_subscriptions_per_connection + 10,
        )
        self.max_subscriptions = settings.api_max_subscriptions_per_connection
        self.database = database
        self.live = live
        self.cache = cache
        self.max_nodes = settings.api_max_nodes
        self.auth_off = settings.auth == "off"
        self.persisted = PersistedQueries(settings.api_persisted_queries,
                                          settings.api_persisted_query_bytes)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """strawberry's ASGI entry, with its HTTP refusals as GraphQL error bodies."""
        if scope["type"] != "http":
            SOCKETS.inc()
            try:
                await super().__call__(scope, receive, send)
            finally:
                SOCKETS.dec()
            return
        request = Request(scope=scope, receive=receive)
        try:
            response = await self._prepared_response(request) or await self.run(request)
        except HTTPException as error:
            response = http_error(error.status_code, error.reason, request.headers.get("accept"))
        await response(scope, receive, send)

    async def _prepared_response(self, request: Request) -> RawAnswer | None:
        """The answer to a POST of a prepared operation (app/prepared_operations.py), or None
        for strawberry's view, which reads the same (kept) body and says what is wrong."""
        asked = await prepared_request(request)
        prepared = None if asked is None else self.schema.prepared.get(asked.query,
                                                                         asked.operation_name)
        if prepared is None:
            return None
        extra = AnswerHeaders()
        context = await self.get_context(request, extra)
        result = await self._answer(
            asked.query, asked.operation_name, asked.variables, context, extra,
            lambda: self.schema.prepared.execute(prepared, asked.variables, context))
        return RawAnswer(result, asked.accept, extra)

    async def get_context(self, request: Request | WebSocket, response: Any) -> RequestContext:
        """The request's context; its viewer comes from the authentication middleware."""
        # Issue 6's middleware decides who asks. Without a viewer the request is refused,
        # unless access control is off: never open by default.
        state = request.state
        viewer = getattr(state, "viewer", None)
        key_id = getattr(state, "key_id", "-")
        if isinstance(request, WebSocket):
            # A socket without a key header shows its key in connection_init: on_ws_connect.
            context = RequestContext(viewer or NOBODY, self.database, self.max_nodes, self.live,
                                     key_id)
            context.socket_state = state
            context.max_subscriptions = self.max_subscriptions
            return context
        if viewer is None:
            if not self.auth_off:
                raise HTTPException(401, "an API key is required: Authorization: Bearer <key>")
            viewer = ADMIN
        # process_result, which sees only the request, chooses the response's media type.
        state.sub_response = response
        return RequestContext(viewer, self.database, self.max_nodes, self.live, key_id)

    async def on_ws_connect(self, context: RequestContext) -> Any:
        """Accept a socket's connection_init: its key in the payload, unless a header gave it."""
        state = context.socket_state
        context.key_check = getattr(state, "key_check", None)
        context.authorization = getattr(state, "authorization", None)
        authenticate = getattr(state, "authenticate", None)
        if authenticate is None:
            return UNSET
        authorization = key_of(context.connection_params)
        refusal = await authenticate(authorization)
        if refusal is not None:
            raise ConnectionRejectionError()
        context.viewer = state.viewer
        context.key_id = state.key_id
        context.authorization = authorization
        return UNSET

    async def process_result(self, request: Request, result: ExecutionResult) -> Any:
        """The response body, shaped as GraphQL over HTTP says for the media type asked for."""
        body = await super().process_result(request, result)
        media_type = response_media_type(request.headers.get("accept"))
        request_error = is_request_error(result.data, result.errors)
        if request_error:
            body.pop("data", None)
        sub_response = getattr(request.state, "sub_response", None)
        if sub_response is not None:
            sub_response.graphql_response = (media_type, status_code(media_type, request_error))
        return body

    def create_response(self, response_data: Any, sub_response: Response) -> Response:
        """strawberry's response, with the media type and status that process_result chose."""
        response = super().create_response(response_data, sub_response)
        # An answer is one caller's, current when sent: no proxy or browser may keep it.
        response.headers["cache-control"] = "no-store"
        chosen = getattr(sub_response, "graphql_response", None)
        if chosen is not None:
            response.headers["content-type"] = chosen[0]
            response.status_code = chosen[1]
        return response

    def encode_json(self, data: object) -> bytes:
        """The response body: orjson is several times faster than json.dumps."""
        return orjson.dumps(data)

    def decode_json(self, data: str | bytes) -> object:
        """The request body; anything but an object or a list is not a GraphQL request."""
        try:
            value = orjson.loads(data)
        except orjson.JSONDecodeError as error:
            raise json.JSONDecodeError(str(error), "", 0) from None
        if not isinstance(value, (dict, list)):
            raise json.JSONDecodeError("a GraphQL request is a JSON object", "", 0)
        return value

    async def execute_single(self, request: Any, request_adapter: Any, sub_response: Any,
                             context: Any, root_value: Any, request_data: Any) -> ExecutionResult:
        """Run the operation; an operationName missing or naming none is a GraphQL error.

        Strawberry runs the first of several operations when none is named, where the spec
        wants an error, and refuses an unknown name with a text/plain 400 echoing it.
        """
        request_data.query, refusal = self.persisted.resolve(request_data.query,
                                                             request_data.extensions)
        if refusal is not None:
            return self._refused(refusal)
        problem = None
        if request_data.operation_name is None and request_data.query and \
                self.schema.operation_count(request_data.query) > 1:
            problem = "the document has several operations: name the one to run in operationName"
        else:
            try:
                return await self._cached(request, request_adapter, sub_response, context,
                                          root_value, request_data)
            except HTTPException as error:
                if not isinstance(error.__cause__, CannotGetOperationTypeError):
                    raise
                problem = "operationName names no operation of the document"
        return self._refused(UserInputError(problem))

    async def _cached(self, request: Any, request_adapter: Any, sub_response: Any,
                      context: RequestContext, root_value: Any,
                      request_data: Any) -> ExecutionResult:
        """The operation through strawberry's pipeline, by way of the response cache."""
        async def execute() -> ExecutionResult:
            return await GraphQL.execute_single(self, request, request_adapter, sub_response,
                                                context, root_value, request_data)
        return await self._answer(request_data.query, request_data.operation_name,
                                  request_data.variables, context, sub_response, execute)

    async def _answer(self, query: str | None, operation_name: str | None, variables: Any,
                      context: RequestContext, sub_response: Any,
                      execute: Callable[[], Awaitable[ExecutionResult]]) -> ExecutionResult:
        """The operation's answer from the response cache, or executed (and then kept)."""
        cache = self.cache
        key = None if cache is None or not query else cache_key(
            query, operation_name, variables, context.viewer)
        if key is None:
            return await execute()
        entry = cache.lookup(key)
        sub_response.headers[CACHE_HEADER] = "miss" if entry is None else "hit"
        if entry is not None:
            REQUESTS.labels(entry.label).inc()
            return ExecutionResult(data=entry.data, errors=None)
        ticket = cache.ticket()
        result = await execute()
        if result.errors is None and result.data is not None:
            cache.store(key, ticket, result.data, context.reads, context.operation_label)
        return result

    def _refused(self, error: GraphQLError) -> ExecutionResult:
        errors = [error]
        self.schema.process_errors(errors)
        return ExecutionResult(data=None, errors=errors)

    def should_render_graphql_ide(self, request: Any) -> bool:
        """GraphiQL for a browser's GET without a query, nor a persisted query's hash."""
        return super().should_render_graphql_ide(request) and \
            request.query_params.get("extensions") is None

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        """GraphiQL, whose scripts and styles this server serves itself."""
        return HTMLResponse(GRAPHIQL_PAGE)
