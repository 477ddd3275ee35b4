"""The API application: GraphQL (and GraphiQL) at /graphql, health, readiness and metrics."""

from __future__ import annotations

import asyncio
import gc
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import orjson
import psycopg
import psycopg_pool
from cross_web import HTTPException  # strawberry's own HTTP error type (its dependency)
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.websockets import WebSocket
from graphql import GraphQLError
from strawberry.asgi import GraphQL
from strawberry.schema.exceptions import CannotGetOperationTypeError
from strawberry.types import ExecutionResult

from app.authentication import install_authentication
from app.export import EXPORT_PATH, UsageExport
from app.context import RequestContext
from app.database import Database
from app.errors import UserInputError
from app.graphql_over_http import http_error, is_request_error, response_media_type, status_code
from app.limits import ClientDisconnects, RequestSizeLimit
from app.persisted_queries import PersistedQueries
from app.metrics import metrics_response
from app.schema import Schema, build_schema
from app.security_headers import SecurityHeaders
from app.viewer import ADMIN
from simusage.migration import head_revision
from simusage.settings import Settings, get_settings

STATIC = Path(__file__).resolve().parent / "static"
GRAPHIQL_PAGE = (STATIC / "graphiql" / "index.html").read_text()
DASHBOARD_PAGE = (STATIC / "dashboard" / "index.html").read_text()
READINESS_TIMEOUT_SECONDS = 2.0


class GraphQLEndpoint(GraphQL):
    """Strawberry's ASGI view with orjson both ways, the vendored GraphiQL, and our context.

    A plain ASGI route rather than strawberry's FastAPI router: the router resolves the
    context through FastAPI's dependency injection, about 0.2 ms a request (15 %) for
    nothing this API uses.
    """

    def __init__(self, schema: Schema, settings: Settings, database: Database) -> None:
        super().__init__(schema, graphql_ide="graphiql", subscription_protocols=())
        self.database = database
        self.max_nodes = settings.api_max_nodes
        self.auth_off = settings.auth == "off"
        self.persisted = PersistedQueries(settings.api_persisted_queries,
                                          settings.api_persisted_query_bytes)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """strawberry's ASGI entry, with its HTTP refusals as GraphQL error bodies."""
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope=scope, receive=receive)
        try:
            response = await self.run(request)
        except HTTPException as error:
            response = http_error(error.status_code, error.reason, request.headers.get("accept"))
        await response(scope, receive, send)

    async def get_context(self, request: Request | WebSocket, response: Any) -> RequestContext:
        """The request's context; its viewer comes from the authentication middleware."""
        # Issue 6's middleware decides who asks. Without a viewer the request is refused,
        # unless access control is off: never open by default.
        viewer = getattr(request.state, "viewer", None)
        if viewer is None:
            if not self.auth_off:
                raise HTTPException(401, "an API key is required: Authorization: Bearer <key>")
            viewer = ADMIN
        # process_result, which sees only the request, chooses the response's media type.
        request.state.sub_response = response
        return RequestContext(viewer, self.database, self.max_nodes)

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
                return await super().execute_single(request, request_adapter, sub_response,
                                                    context, root_value, request_data)
            except HTTPException as error:
                if not isinstance(error.__cause__, CannotGetOperationTypeError):
                    raise
                problem = "operationName names no operation of the document"
        return self._refused(UserInputError(problem))

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


async def readiness(database: Database, head: str) -> JSONResponse:
    """200 when the database answers and is migrated to the code's head revision, else 503."""
    try:
        revision = await asyncio.wait_for(database.migration_revision(), READINESS_TIMEOUT_SECONDS)
    except (TimeoutError, psycopg.Error, psycopg_pool.PoolTimeout) as error:
        reason = f"database unreachable: {type(error).__name__}"
        return JSONResponse({"status": "unavailable", "reason": reason}, status_code=503)
    if revision != head:
        reason = f"database at migration {revision}, code expects {head}: run simusage migrate"
        return JSONResponse({"status": "unavailable", "reason": reason}, status_code=503)
    return JSONResponse({"status": "ready", "revision": revision})


def create_app(settings: Settings) -> FastAPI:
    """The ASGI application of the API."""
    database = Database(settings)
    schema = build_schema(settings.api_max_tokens, settings.api_max_depth, settings.api_max_aliases,
                          settings.metrics_operation_names, settings.api_max_cost)
    head = head_revision()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await database.open()
        # The 120,000 objects of the loaded modules and schema never die: frozen, the rare
        # full collections skip them (measured: longest pause 70 ms before, 13 ms after).
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            await database.close()

    app = FastAPI(
        title="simusage", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None
    )
    app.state.database = database
    app.add_route("/graphql", GraphQLEndpoint(schema, settings, database), methods=["GET", "POST"])
    export = UsageExport(database, settings.api_max_nodes, settings.auth == "off")
    app.add_route(EXPORT_PATH, export.respond, methods=["GET"])
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/")
    async def dashboard() -> Response:  # a client of /graphql only: no data behind this route
        return HTMLResponse(DASHBOARD_PAGE)

    @app.get("/healthz")
    async def healthz() -> Response:
        return JSONResponse({"status": "ok"})

    @app.get("/readyz")
    async def readyz() -> Response:
        return await readiness(database, head)

    if not settings.metrics_port:  # else served on its own address by `simusage serve`
        @app.get("/metrics")
        async def metrics(request: Request) -> Response:
            return metrics_response(request)

    # Starlette runs the last added middleware first: security headers, CORS, then the size
    # limit, then authentication, so that refusals too carry the headers a browser reads.
    install_authentication(app, settings, database.connection)
    app.add_middleware(RequestSizeLimit, max_bytes=settings.api_max_request_bytes)
    if settings.cors_origin_list:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origin_list,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
            max_age=600,
        )
    app.add_middleware(SecurityHeaders)
    app.add_middleware(ClientDisconnects)
    return app


def create_app_from_environment() -> FastAPI:
    """The application for uvicorn's factory mode: settings from the environment."""
    return create_app(get_settings())
