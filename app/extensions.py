"""Schema extensions: request limits, parse and validation caches, error codes and metrics.

Strawberry's QueryDepthLimiter and MaxAliasesLimiter build a new validation rule class per
request, and the validation cache is keyed by the rule classes, so with them it never hits
(strawberry issue 4635, about +1.2 ms a request). The rules here are built once per schema.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from time import perf_counter

from graphql import ASTValidationRule, ValuesOfCorrectTypeRule, specified_rules
from strawberry.extensions import AddValidationRules, SchemaExtension
from strawberry.extensions.max_aliases import create_validator as alias_limit
from strawberry.extensions.query_depth_limiter import create_validator as depth_limit
from strawberry.types.execution import PreExecutionError

from app.errors import ValuesOfCorrectTypeWithCode, code_of, coded
from app.metrics import ERRORS, LATENCY, REQUESTS, operation_label


def validation_rules(max_depth: int, max_aliases: int) -> tuple[type[ASTValidationRule], ...]:
    """GraphQL's standard rules (literal values coded BAD_USER_INPUT) plus depth and aliases."""
    standard = tuple(
        ValuesOfCorrectTypeWithCode if rule is ValuesOfCorrectTypeRule else rule
        for rule in specified_rules
    )
    return (*standard, depth_limit(max_depth, None, None), alias_limit(max_aliases))


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


class ObservedOperation(SchemaExtension):
    """Give every error a code (hiding server internals) and count operations and errors."""

    def on_operation(self) -> Iterator[None]:
        """Time the operation, then rewrite and count its errors."""
        started = perf_counter()
        yield
        context = self.execution_context
        result = context.result
        if result is not None and result.errors:
            before_execution = isinstance(result, PreExecutionError)
            result.errors = [coded(error, before_execution) for error in result.errors]
            for error in result.errors:
                ERRORS.labels(code_of(error)).inc()
        operation = operation_label(context.operation_name)
        REQUESTS.labels(operation).inc()
        LATENCY.labels(operation).observe(perf_counter() - started)
