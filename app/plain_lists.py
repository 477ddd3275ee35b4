"""Lists of plain objects completed in one pass, not field by field.

graphql-core completes a list of 30 usage edges by executing ~120 fields one at a time, each
with its resolve info, argument check, awaitable test and strawberry wrapper: 0.8 ms of the
request's 1.9 ms of CPU (profiled on bench/api.py's query (b)). When every field selected under
the list's items is a plain attribute (strawberry's basic field: no resolver, no arguments, no
permission, no extension) of a scalar, enum or plain object, the answer is fully determined by
attribute reads and the scalars' serializers: this context plans the selection once per list
and builds each item's dict directly. Anything else (resolvers, interfaces, @defer or @stream,
middleware, a null or a serializer error) goes the library's way, so results and errors are
those graphql-core gives; tests/app/test_plain_lists.py compares the two on the schema.

A seam into graphql-core's ExecutionContext (complete_iterable_value, collect_subfields) and
strawberry's marker of basic fields: both versions are pinned in pyproject.toml, and
check_seam() runs at start; if either changed, lists go the library's way with a warning.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Iterable
from operator import attrgetter
from typing import Any

from graphql import (
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLSchema,
    is_leaf_type,
    is_non_null_type,
    is_object_type,
)
from graphql.pyutils import Path, Undefined
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

logger = logging.getLogger(__name__)

# Expected parameters of the two graphql-core methods this module builds on.
COMPLETE_ITERABLE_PARAMETERS = ("self", "item_type", "field_details_list", "info", "path", "items",
                                "position_context")
COLLECT_SUBFIELDS_PARAMETERS = ("self", "return_type", "field_details_list")

# An entry of a plan: (response key, reader of the value, completion of the value, non-null,
# nested). The completion is a leaf's coerce_output_value, a nested Plan (nested: True), or
# None for __typename (whose reader is None).
Entry = tuple[str, Callable[[Any], Any] | None, Any, bool, bool]


class NotPlain(Exception):
    """This list, or one of its items, needs graphql-core's own completion."""


class Plan:
    """How to turn one object of a type into its response dict, for one selection."""

    __slots__ = ("type_name", "is_type_of", "entries")

    def __init__(self, object_type: GraphQLObjectType, entries: list[Entry]) -> None:
        self.type_name = object_type.name
        self.is_type_of = object_type.is_type_of
        self.entries = entries

    def complete(self, source: Any, info: GraphQLResolveInfo) -> dict[str, Any]:
        """The response dict of source; NotPlain where graphql-core must say what went wrong."""
        if self.is_type_of is not None and self.is_type_of(source, info) is not True:
            raise NotPlain
        result = {}
        for key, read, completion, non_null, nested in self.entries:
            if read is None:
                result[key] = self.type_name
                continue
            value = read(source)
            if value is None or value is Undefined:
                if non_null:
                    raise NotPlain
                result[key] = None
            elif nested:
                result[key] = completion.complete(value, info)
            else:
                coerced = completion(value)
                if coerced is None or coerced is Undefined:
                    raise NotPlain
                result[key] = coerced
        return result


def basic_field_reader(field: Any) -> Callable[[Any], Any] | None:
    """The field's value from its source, if the field is one of strawberry's basic fields."""
    resolve = field.resolve
    if field.args or resolve is None or getattr(resolve, "_is_default", False) is not True:
        return None
    definition = field.extensions.get("strawberry-definition")
    if definition is not None and definition.default_resolver is getattr:
        return attrgetter(definition.python_name)  # what strawberry's get_result does, inlined
    return lambda source: resolve(source, None)


class PlainListExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's execution context, with plain lists completed in one pass."""

    enabled = True

    def complete_iterable_value(
        self, item_type: GraphQLOutputType, field_details_list: Any, info: GraphQLResolveInfo,
        path: Path, items: Iterable[Any], position_context: Any,
    ) -> Any:
        """The completed list: in one pass if its items are plain, else graphql-core's way."""
        middleware = self.middleware_manager  # strawberry's, empty unless an extension resolves
        if self.enabled and isinstance(items, list) and (middleware is None or
                                                        not middleware.middlewares):
            non_null = is_non_null_type(item_type)
            named = item_type.of_type if non_null else item_type  # type: ignore[union-attr]
            if is_object_type(named) and self.get_stream_usage(field_details_list, path) is None:
                plan = self._plan(named, field_details_list)
                if plan is not None:
                    try:
                        return [self._item(plan, item, non_null, info) for item in items]
                    except NotPlain:
                        pass
        return super().complete_iterable_value(item_type, field_details_list, info, path, items,
                                               position_context)

    def _item(self, plan: Plan, item: Any, non_null: bool, info: GraphQLResolveInfo) -> Any:
        if item is None or item is Undefined:
            if non_null:
                raise NotPlain
            return None
        if isinstance(item, Exception) or self.is_awaitable(item):
            raise NotPlain
        return plan.complete(item, info)

    def _plan(self, object_type: GraphQLObjectType, field_details_list: Any) -> Plan | None:
        grouped_field_set, defer_usages, _ = self.collect_subfields(object_type, field_details_list)
        if defer_usages:
            return None
        entries: list[Entry] = []
        for key, details in grouped_field_set.items():
            if any(detail.defer_usage is not None for detail in details):
                return None
            name = details[0].node.name.value
            if name == "__typename":
                entries.append((key, None, None, True, False))
                continue
            field = object_type.fields.get(name)
            read = basic_field_reader(field) if field is not None else None
            if read is None:
                return None
            non_null = is_non_null_type(field.type)
            named = field.type.of_type if non_null else field.type
            if is_leaf_type(named):
                entries.append((key, read, named.coerce_output_value, non_null, False))
            elif is_object_type(named):
                nested = self._plan(named, details)
                if nested is None:
                    return None
                entries.append((key, read, nested, non_null, True))
            else:
                return None
        return Plan(object_type, entries)


def _parameters(function: Callable[..., Any]) -> tuple[str, ...]:
    return tuple(inspect.signature(function).parameters)


def check_seam(schema: GraphQLSchema, plain_type: str, plain_field: str) -> bool:
    """Whether graphql-core and strawberry still have what this module builds on; if not,
    plain lists are switched off, loudly (correct, only slower)."""
    base = StrawberryGraphQLCoreExecutionContext
    problems = []
    if _parameters(base.complete_iterable_value) != COMPLETE_ITERABLE_PARAMETERS:
        problems.append("ExecutionContext.complete_iterable_value changed its parameters")
    if _parameters(base.collect_subfields) != COLLECT_SUBFIELDS_PARAMETERS:
        problems.append("ExecutionContext.collect_subfields changed its parameters")
    object_type = schema.get_type(plain_type)
    field = object_type.fields.get(plain_field) if isinstance(object_type, GraphQLObjectType) else None
    if field is None or basic_field_reader(field) is None:
        problems.append(f"strawberry no longer marks {plain_type}.{plain_field} as a basic field")
    PlainListExecutionContext.enabled = not problems
    for problem in problems:
        logger.warning("plain list completion is off (slower, still correct): %s", problem)
    return not problems
