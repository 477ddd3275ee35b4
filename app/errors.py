"""GraphQL errors with a machine-readable extensions.code, and no internals leaked to clients."""

from __future__ import annotations

import logging

import psycopg
import psycopg_pool
from graphql import GraphQLError, GraphQLSyntaxError, ValuesOfCorrectTypeRule

logger = logging.getLogger(__name__)

BAD_USER_INPUT = "BAD_USER_INPUT"
PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
TOO_MANY_NODES = "TOO_MANY_NODES"
QUERY_TOO_COSTLY = "QUERY_TOO_COSTLY"
PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
PERSISTED_QUERY_NOT_SUPPORTED = "PERSISTED_QUERY_NOT_SUPPORTED"
QUERY_TIMEOUT = "QUERY_TIMEOUT"
SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
INTERNAL = "INTERNAL_SERVER_ERROR"
SUBSCRIBER_TOO_SLOW = "SUBSCRIBER_TOO_SLOW"
TOO_MANY_SUBSCRIPTIONS = "TOO_MANY_SUBSCRIPTIONS"

CODES = (
    BAD_USER_INPUT, PARSE_FAILED, VALIDATION_FAILED, TOO_MANY_NODES, QUERY_TOO_COSTLY,
    QUERY_TIMEOUT, SERVICE_UNAVAILABLE, INTERNAL, PERSISTED_QUERY_NOT_FOUND,
    PERSISTED_QUERY_NOT_SUPPORTED, SUBSCRIBER_TOO_SLOW,
    TOO_MANY_SUBSCRIPTIONS,
)


class UserInputError(GraphQLError):
    """A bad argument: the client can fix it, and the message says how."""

    def __init__(self, message: str) -> None:
        super().__init__(message, extensions={"code": BAD_USER_INPUT})


MAX_ID_LENGTH = 200


def checked_id(value: object, name: str = "id") -> str:
    """An id argument as text; a NUL, another control character or a huge id is the client's
    error, not a database one (PostgreSQL refuses NUL in text, failing the whole batch)."""
    text = str(value)
    if len(text) > MAX_ID_LENGTH:
        raise UserInputError(f"{name} must be at most {MAX_ID_LENGTH} characters")
    if not text.isprintable():
        raise UserInputError(f"{name} must not hold control characters")
    return text


class TooManySubscriptionsError(GraphQLError):
    """A connection or an API key already has as many subscriptions open as allowed."""

    def __init__(self, message: str) -> None:
        super().__init__(message, extensions={"code": TOO_MANY_SUBSCRIPTIONS})


class TooManyNodesError(GraphQLError):
    """The request asks for more buckets, cards or organizations than one request may return."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"this request would return more than {limit} nodes (buckets, SIM cards and "
            "organizations together); ask for smaller pages",
            extensions={"code": TOO_MANY_NODES},
        )


class QueryTooCostlyError(GraphQLError):
    """The query's connections may return more than a request may cost, by estimate."""

    def __init__(self, estimate: int, budget: int) -> None:
        super().__init__(
            f"this query may cost {estimate} (one per connection asked, plus its page size in "
            f"nodes, multiplied down each path), over the budget of {budget}: ask for smaller "
            "pages (first/last) or fewer nested connections",
            extensions={"code": QUERY_TOO_COSTLY, "cost": estimate, "budget": budget},
        )


class ValuesOfCorrectTypeWithCode(ValuesOfCorrectTypeRule):
    """graphql-core's rule for literal argument values, whose errors are the client's input."""

    def report_error(self, error: GraphQLError) -> None:
        """Report the error with extensions.code BAD_USER_INPUT."""
        error.extensions = {**(error.extensions or {}), "code": BAD_USER_INPUT}
        super().report_error(error)


def code_of(error: GraphQLError) -> str | None:
    """The extensions.code an error already carries, if any."""
    return (error.extensions or {}).get("code")


def _with_code(error: GraphQLError, code: str, message: str | None = None) -> GraphQLError:
    return GraphQLError(
        message or error.message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions={"code": code},
    )


def coded(error: GraphQLError, before_execution: bool) -> GraphQLError:
    """The error the client sees: a code always, and no internal detail for server faults.

    before_execution: the error came from parsing or validation, not from running the query.
    """
    if code_of(error) is not None:
        return error
    original = error.original_error
    if isinstance(error, GraphQLSyntaxError) or isinstance(original, GraphQLSyntaxError):
        return _with_code(error, PARSE_FAILED)
    if isinstance(original, psycopg.errors.QueryCanceled):
        return _with_code(
            error, QUERY_TIMEOUT, "the database did not answer within the statement timeout"
        )
    if isinstance(original, (psycopg_pool.PoolTimeout, psycopg.OperationalError)):
        return _with_code(error, SERVICE_UNAVAILABLE, "the database is unavailable, retry later")
    if _is_server_fault(original):
        return _with_code(error, INTERNAL, "internal error")
    if before_execution:
        return _with_code(error, VALIDATION_FAILED)
    if error.path is None:
        # Raised before any resolver ran: variables that do not coerce to their types,
        # or a missing or unknown operation name. All of it is the client's input.
        return _with_code(error, BAD_USER_INPUT)
    return _with_code(error, INTERNAL, "internal error")


def _is_server_fault(original: BaseException | None) -> bool:
    return original is not None and not isinstance(original, (ValueError, TypeError, GraphQLError))


def log_unexpected(errors: list[GraphQLError]) -> None:
    """Log, with traceback, the errors that are the server's fault; client errors are not."""
    for error in errors:
        if code_of(error) is None and _is_server_fault(error.original_error):
            logger.error("GraphQL resolver failed at %s", error.path, exc_info=error.original_error)
