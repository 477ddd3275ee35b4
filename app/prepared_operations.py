"""Query documents already known to be valid, executed by graphql-core without strawberry's
per-request pipeline.

Strawberry's HTTP view and its operation pipeline (request data objects, execution context,
four extension hooks, the middleware manager, result conversion) cost about 0.2 ms of a 0.9 ms
request (py-spy of bench/api.py's query (b)) and decide nothing for a document that parsed and
validated before: that work is the parse and validation caches' answer again. A document that
parses, validates without errors and selects exactly one query operation is prepared once per
text and operation name; its requests run its compiled plan (app/compiled_operations.py) or,
where there is none or it falls back, graphql-core's execute with the schema's execution
context, under the cost limit and the metrics, and their errors are coded by the schema as on
the strawberry path. Everything else (syntax and validation errors, several operations without a
name, subscriptions, persisted queries, batches, streams) takes the strawberry path, which
says what is wrong. tests/app/test_prepared_operations.py compares the two paths.
"""

from __future__ import annotations

from collections import OrderedDict
from time import perf_counter
from typing import Any, NamedTuple

from graphql import (
    DocumentNode,
    ExecutionResult as GraphQLExecutionResult,
    GraphQLError,
    OperationType,
    execute,
)
from strawberry.execution import optimized_is_awaitable
from strawberry.types import ExecutionResult

from app.compiled_operations import CompiledOperation, compile_operation
from app.compiled_runs import Fallback
from app.context import RequestContext
from app.extensions import Limits, ValidationCache
from app.metrics import COMPILED_FALLBACKS, LATENCY, REQUESTS
from app.query_cost import estimated_cost, fixed_cost, operation_of, refusal_of


class PreparedOperation(NamedTuple):
    """A valid document's one query operation, its metrics and its cost if fixed."""

    document: DocumentNode
    operation_name: str | None
    label: str
    requests: Any  # the operation's counter and histogram, looked up once
    latency: Any
    cost: int | None  # None: a page size is a variable, estimated for each request
    compiled: CompiledOperation | None  # None: graphql-core's executor runs it


# A text that cannot be prepared is remembered as such: its requests take strawberry's path.
NOT_PREPARED = None


class PreparedOperations:
    """The prepared operations of the last texts seen (LRU), and their execution."""

    def __init__(self, schema: Any, limits: Limits, validations: ValidationCache,
                 size: int) -> None:
        self.schema = schema
        self.limits = limits
        self.validations = validations
        self.size = size
        self.entries: OrderedDict[tuple[str, str | None], PreparedOperation | None] = OrderedDict()

    def get(self, query: str, operation_name: str | None) -> PreparedOperation | None:
        """The prepared operation of this text and name, or None for strawberry's path."""
        key = (query, operation_name)
        entries = self.entries
        if key in entries:
            entries.move_to_end(key)
            return entries[key]
        prepared = self._prepare(query, operation_name)
        entries[key] = prepared
        if len(entries) > self.size:
            entries.popitem(last=False)
        return prepared

    def _prepare(self, query: str, operation_name: str | None) -> PreparedOperation | None:
        limits = self.limits
        try:
            document = limits.cached_parse(query, max_tokens=limits.max_tokens)
        except GraphQLError:
            return NOT_PREPARED
        if self.validations.errors(self.schema._schema, document, limits.rules):
            return NOT_PREPARED
        operation = operation_of(document, operation_name)  # validation: names are unique
        if operation is None or operation.operation is not OperationType.QUERY:
            return NOT_PREPARED
        label = limits.label(operation.name.value if operation.name is not None else None)
        return PreparedOperation(document, operation_name, label, REQUESTS.labels(label),
                                 LATENCY.labels(label),
                                 fixed_cost(limits.cost_model, document, operation_name),
                                 compile_operation(self.schema, document, operation))

    async def execute(self, prepared: PreparedOperation, variables: dict[str, Any] | None,
                      context: RequestContext) -> ExecutionResult:
        """The operation's result, its errors coded, counted in the metrics."""
        started = perf_counter()
        schema = self.schema
        model = self.limits.cost_model
        cost = prepared.cost
        if cost is None:
            cost = estimated_cost(model.schema, prepared.document, prepared.operation_name,
                                  variables)
        result = refusal_of(model, cost)
        if result is None and prepared.compiled is not None:
            try:
                result = GraphQLExecutionResult(
                    await prepared.compiled.run(context, variables), None)
            except Fallback:
                COMPILED_FALLBACKS.inc()
                context.restart()  # graphql-core runs it again and says what went wrong
        if result is None:
            result = execute(
                schema._schema, prepared.document, context_value=context,
                variable_values=variables, operation_name=prepared.operation_name,
                executor_class=schema.execution_context_class, is_awaitable=optimized_is_awaitable,
                operation_extensions=None)
            if optimized_is_awaitable(result):
                result = await result
        if result.errors:
            schema.code_errors(result.errors, before_execution=False)
        context.operation_label = prepared.label
        prepared.requests.inc()
        prepared.latency.observe(perf_counter() - started)
        return ExecutionResult(data=result.data, errors=result.errors,
                               extensions=result.extensions)
