"""Strawberry resolvers called the way strawberry's own wrapper calls them, without its layers.

Strawberry wraps every resolver in five calls (its info, field extensions, argument conversion,
result, the resolver object) and converts the arguments on every call: for query (b)'s three
resolvers that was 10% of the request's CPU (py-spy). For a field without field extensions or
exception handlers the wrapper reduces to: convert the arguments (strawberry's own
convert_arguments), add self, root or parent and info as the resolver asks, call it. A compiled
plan (app/compiled_operations.py) calls that directly, and converts literal arguments once when
their values are immutable.

A seam into strawberry's internals (the resolver's reserved parameters, the schema converter's
scalar registry and exception handlers): strawberry is pinned in pyproject.toml and check_seam()
runs at start; if anything it reads has changed, plans call strawberry's wrapper, with a warning.
"""

from __future__ import annotations

import datetime
import enum
import inspect
import logging
from collections.abc import Callable
from typing import Any

from graphql import GraphQLField
from strawberry.types.arguments import convert_arguments
from strawberry.types.fields.resolver import StrawberryResolver

logger = logging.getLogger(__name__)

IMMUTABLE = (str, int, float, bool, type(None), enum.Enum, datetime.datetime, datetime.date)
RESOLVER_ATTRIBUTES = ("self_parameter", "parent_parameter", "root_parameter", "info_parameter",
                       "wrapped_func")
CONVERT_PARAMETERS = ("value", "arguments", "scalar_registry", "config", "info")
enabled = True  # as check_seam found at start


class DirectResolver:
    """One strawberry field's resolver, called as strawberry's wrapper would call it."""

    __slots__ = ("field", "function", "pass_self", "sources", "infos", "info_class",
                 "scalar_registry", "config", "converted")

    def __init__(self, field: Any, schema: Any, literal_arguments: dict[str, Any] | None) -> None:
        resolver = field.base_resolver
        self.field, self.function = field, resolver.wrapped_func
        self.pass_self = resolver.self_parameter is not None
        self.sources = [parameter.name for parameter in
                        (resolver.parent_parameter, resolver.root_parameter) if parameter]
        self.infos = [resolver.info_parameter.name] if resolver.info_parameter else []
        self.info_class = schema.config.info_class
        self.scalar_registry = schema.schema_converter.scalar_registry
        self.config = schema.config
        self.converted = None
        if literal_arguments is not None:
            converted = self._convert(literal_arguments, None)
            if all(isinstance(value, IMMUTABLE) for value in converted.values()):
                self.converted = converted  # shared by every request: nothing in it can change

    def _convert(self, arguments: dict[str, Any], info: Any) -> dict[str, Any]:
        return convert_arguments(arguments, self.field.arguments,
                                 scalar_registry=self.scalar_registry, config=self.config,
                                 info=info)

    def __call__(self, source: Any, info: Any, arguments: dict[str, Any]) -> Any:
        """The resolver's value (or awaitable) for graphql-core's coerced arguments."""
        strawberry_info = self.info_class(_raw_info=info, _field=self.field)
        converted = self.converted
        kwargs = dict(converted) if converted is not None else \
            self._convert(arguments, strawberry_info)
        for name in self.sources:
            kwargs[name] = source
        for name in self.infos:
            kwargs[name] = strawberry_info
        return self.function(source, **kwargs) if self.pass_self else self.function(**kwargs)


def direct_resolver(definition: GraphQLField, schema: Any,
                    literal_arguments: dict[str, Any] | None) -> DirectResolver | None:
    """The direct call of the field's resolver, or None where strawberry's wrapper must run."""
    field = definition.extensions.get("strawberry-definition")
    if not enabled or field is None or field.base_resolver is None or field.extensions:
        return None
    if schema.schema_converter._get_field_exception_handlers(field):
        return None
    return DirectResolver(field, schema, literal_arguments)


def _parameters(function: Callable[..., Any]) -> tuple[str, ...]:
    return tuple(inspect.signature(function).parameters)


def check_seam(schema: Any, type_name: str, field_name: str) -> bool:
    """Whether strawberry still has what direct calls read (on one field of the schema that
    has a resolver); if not, they are off, loudly (correct, only slower)."""
    global enabled
    definition = schema._schema.get_type(type_name).fields[field_name]
    field = definition.extensions.get("strawberry-definition")
    resolver = getattr(field, "base_resolver", None)
    problems = [f"the resolver of {type_name}.{field_name} has no {name}"
                for name in RESOLVER_ATTRIBUTES if not hasattr(resolver, name)]
    if not isinstance(resolver, StrawberryResolver) or not hasattr(field, "arguments"):
        problems.append(f"{type_name}.{field_name} has no strawberry resolver")
    if _parameters(convert_arguments) != CONVERT_PARAMETERS:
        problems.append("convert_arguments changed its parameters")
    converter = getattr(schema, "schema_converter", None)
    if not hasattr(converter, "scalar_registry") or \
            not hasattr(converter, "_get_field_exception_handlers"):
        problems.append("the schema converter has no scalar registry or exception handlers")
    if not hasattr(schema.config, "info_class"):
        problems.append("the schema's config has no info_class")
    enabled = not problems
    for problem in problems:
        logger.warning("direct resolver calls are off (slower, still correct): %s", problem)
    return enabled
