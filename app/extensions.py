"""Schema extensions: request limits, the parse cache, validation rules built once, metrics.

Strawberry's QueryDepthLimiter and MaxAliasesLimiter build a new validation rule class per
request, and the validation cache is keyed by the rule classes, so with them it never hits
(strawberry issue 4635, about +1.2 ms a request). The rules here are built once per schema.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import lru_cache
from time import perf_counter

from graphql import (
    ASTValidationRule,
    DocumentNode,
    GraphQLError,
    OperationDefinitionNode,
    ValuesOfCorrectTypeRule,
    parse,
    specified_rules,
)
from strawberry.extensions import AddValidationRules, SchemaExtension
from strawberry.extensions.max_aliases import create_validator as alias_limit
from strawberry.extensions.query_depth_limiter import create_validator as depth_limit

from app.document_size import guarded
from app.errors import ValuesOfCorrectTypeWithCode
from app.metrics import LATENCY, REQUESTS

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


class FixedValidationRules(AddValidationRules):
    """Validate with a tuple of rules built once (replacing, not adding to, the defaults)."""

    def on_operation(self) -> Iterator[None]:
        """Install the rules before validation."""
        self.execution_context.validation_rules = tuple(self.validation_rules)
        yield


def fixed_validation_rules(rules: tuple[type[ASTValidationRule], ...]) -> Callable[[], SchemaExtension]:
    """A per-request factory of FixedValidationRules over the same rule classes."""
    rule_list = list(rules)
    return lambda: FixedValidationRules(rule_list)


class TokenLimit(SchemaExtension):
    """Refuse documents of more tokens than max_tokens while parsing, before any other work."""

    def __init__(self, max_tokens: int) -> None:
        self.max_tokens = max_tokens

    def on_operation(self) -> Iterator[None]:
        """Pass the limit to the parser."""
        self.execution_context.parse_options["max_tokens"] = self.max_tokens
        yield


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


class ParserCache(SchemaExtension):
    """Parse each distinct query text once.

    Unlike strawberry's ParserCache, a document that does not parse is left to strawberry,
    which parses it again and reports the syntax error as a result that the schema codes;
    an exception from this hook would bypass that.
    """

    def __init__(self, cached_parse: Callable[..., DocumentNode]) -> None:
        self.cached_parse = cached_parse

    def on_parse(self) -> Iterator[None]:
        """Take the document from the cache, or leave the parsing (and its error) to strawberry."""
        context = self.execution_context
        if context.query is not None:
            try:
                context.graphql_document = self.cached_parse(context.query, **context.parse_options)
            except GraphQLError:
                pass
        yield


class ObservedOperation(SchemaExtension):
    """Count operations and time them, by the label of their operation name."""

    def __init__(self, label: Callable[[str | None], str]) -> None:
        self.label = label

    def on_operation(self) -> Iterator[None]:
        """Time the operation."""
        started = perf_counter()
        yield
        operation = self.label(self.execution_context.operation_name)
        REQUESTS.labels(operation).inc()
        LATENCY.labels(operation).observe(perf_counter() - started)
