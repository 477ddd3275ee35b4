"""The schema's extension: request limits, the parse and validation caches, the cost limit, metrics.

Strawberry's QueryDepthLimiter and MaxAliasesLimiter build a new validation rule class per
request, and the validation cache is keyed by the rule classes, so with them it never hits
(strawberry issue 4635, about +1.2 ms a request). The rules here are built once per schema.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator
from functools import lru_cache
from time import perf_counter
from typing import NamedTuple

from graphql import (
    ASTValidationRule,
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    ValuesOfCorrectTypeRule,
    parse,
    specified_rules,
)
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document
from strawberry.extensions.max_aliases import create_validator as alias_limit
from strawberry.extensions.query_depth_limiter import create_validator as depth_limit

from app.document_size import guarded
from app.errors import ValuesOfCorrectTypeWithCode
from app.context import RequestContext
from app.metrics import LATENCY, REQUESTS
from app.query_cost import CostModel, cost_refusal

# Far above any query within the depth, alias and node limits written out by hand.
MAX_EXPANDED_FIELDS = 5000


def validation_rules(
    max_depth: int, max_aliases: int, max_fields: int = MAX_EXPANDED_FIELDS
) -> tuple[type[ASTValidationRule], ...]:
    """GraphQL's standard rules (literal values coded BAD_USER_INPUT) plus depth and aliases,
    which walk every fragment spread: they run only on documents that expand to at most
    max_fields fields, so that their cost stays linear in the document."""
    standard = tuple(
        ValuesOfCorrectTypeWithCode if rule is ValuesOfCorrectTypeRule else rule
        for rule in specified_rules
    )
    return (*standard, guarded(depth_limit(max_depth, None, None), max_fields),
            guarded(alias_limit(max_aliases), max_fields))


def cached_parser(size: int) -> Callable[..., DocumentNode]:
    """graphql-core's parse with an LRU cache of the last size documents."""
    return lru_cache(maxsize=size)(parse)


def operation_count(cached_parse: Callable[..., DocumentNode], query: str, max_tokens: int) -> int:
    """The operations a query text defines; 0 when it does not parse (strawberry says why)."""
    try:
        document = cached_parse(query, max_tokens=max_tokens)
    except GraphQLError:
        return 0
    return sum(isinstance(definition, OperationDefinitionNode) for definition in document.definitions)


class Limits(NamedTuple):
    """What RequestPipeline needs, built once per schema."""

    max_tokens: int
    rules: tuple[type[ASTValidationRule], ...]
    cached_parse: Callable[..., DocumentNode]
    label: Callable[[str | None], str]
    cost_model: CostModel


class RequestPipeline(SchemaExtension):
    """Every step the API adds to an operation, in one extension (strawberry runs each
    extension's hooks as generators of their own: six extensions cost 24 hook contexts a
    request, this one 4).

    - operation: the token limit for the parser, the validation rules built once, and the
      operation's count and duration in the metrics;
    - parse: each distinct query text parsed once (LRU). Unlike strawberry's ParserCache, a
      document that does not parse is left to strawberry, which parses it again and reports the
      syntax error as a result that the schema codes: an exception here would bypass that;
    - validate: each distinct document validated once, cached by the parsed document's
      identity (the parse cache returns the same object for the same text; hashing the
      document, as strawberry's ValidationCache does, walks it: 8 us for query (b));
    - execute: the query-cost limit (app/query_cost.py), before any resolver runs.
    """

    def __init__(self, limits: Limits, validations: ValidationCache) -> None:
        self.limits = limits
        self.validations = validations

    def on_operation(self) -> Iterator[None]:
        """Limits in, metrics out."""
        context = self.execution_context
        context.parse_options["max_tokens"] = self.limits.max_tokens
        context.validation_rules = self.limits.rules
        started = perf_counter()
        yield
        operation = self.limits.label(context.operation_name)
        if isinstance(context.context, RequestContext):
            context.context.operation_label = operation  # a cached answer counts under it too
        REQUESTS.labels(operation).inc()
        LATENCY.labels(operation).observe(perf_counter() - started)

    def on_parse(self) -> Iterator[None]:
        """Take the document from the cache, or leave the parsing (and its error) to strawberry."""
        context = self.execution_context
        if context.query is not None:
            try:
                context.graphql_document = self.limits.cached_parse(context.query,
                                                                    **context.parse_options)
            except GraphQLError:
                pass
        yield

    def on_validate(self) -> Iterator[None]:
        """The document's validation errors, from the cache."""
        context = self.execution_context
        if context.graphql_document is not None:
            context.pre_execution_errors = self.validations.errors(
                context.schema._schema, context.graphql_document, context.validation_rules)
        yield

    def on_execute(self) -> Iterator[None]:
        """Refuse a query over the cost budget; a result set before execution is strawberry's
        documented way to skip it."""
        refusal = cost_refusal(self.limits.cost_model, self.execution_context)
        if refusal is not None:
            self.execution_context.result = refusal
        yield


class ValidationCache:
    """Validation errors of the last documents, by the document object's identity."""

    def __init__(self, size: int) -> None:
        self.size = size
        # id(document): (document, rules, errors); the document is kept so its id stays its own.
        self.entries: OrderedDict[int, tuple[DocumentNode, tuple, list[GraphQLError]]] = OrderedDict()

    def errors(self, schema: GraphQLSchema, document: DocumentNode,
               rules: tuple[type[ASTValidationRule], ...]) -> list[GraphQLError]:
        """validate_document's errors of document, computed once while it stays cached."""
        key = id(document)
        entry = self.entries.get(key)
        if entry is not None and entry[0] is document and entry[1] is rules:
            self.entries.move_to_end(key)
            return entry[2]
        errors = validate_document(schema, document, rules)
        self.entries[key] = (document, rules, errors)
        if len(self.entries) > self.size:
            self.entries.popitem(last=False)
        return errors


def request_pipeline(limits: Limits, validations: ValidationCache) -> Callable[[], SchemaExtension]:
    """The per-request factory of RequestPipeline, over one validation cache."""
    return lambda: RequestPipeline(limits, validations)
