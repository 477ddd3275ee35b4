"""One request's run of a compiled operation (app/compiled_operations.py): resolvers called as
graphql-core calls them, gathered per object and per list, values completed by their plans."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from graphql import GraphQLResolveInfo, get_argument_values
from graphql.execution.values import VariableValues
from graphql.pyutils import Path, Undefined
from strawberry.execution import optimized_is_awaitable

if TYPE_CHECKING:
    from app.compiled_operations import CompiledOperation, FieldPlan, ObjectPlan


class Fallback(Exception):
    """graphql-core must run this request: it says what went wrong, where."""


async def _settled(waits: list[Awaitable[Any]]) -> list[Any]:
    """Every value, once all have settled (none is left running); Fallback if one failed."""
    if not waits:
        return []
    if len(waits) == 1:
        return [await waits[0]]
    values = await asyncio.gather(*waits, return_exceptions=True)
    if any(isinstance(value, BaseException) for value in values):
        raise Fallback
    return values


class Run:
    """The state of one run: the operation, the request's context, its coerced variables."""

    __slots__ = ("operation", "context", "variables")

    def __init__(self, operation: CompiledOperation, context: Any,
                 variables: VariableValues) -> None:
        self.operation, self.context, self.variables = operation, context, variables

    def _resolve(self, plan: ObjectPlan, field: FieldPlan, source: Any, path: Path) -> Any:
        operation = self.operation
        # Strawberry's resolvers are handed the coerced variables as a plain dict, as here.
        info = GraphQLResolveInfo(
            field.nodes[0].name.value, field.nodes, field.definition.type, plan.type, path,
            operation.schema, operation.fragments, None, operation.operation,
            self.variables.coerced, self.context, optimized_is_awaitable, None, None)
        arguments = field.arguments
        if arguments is None:
            arguments = get_argument_values(field.definition, field.nodes[0], self.variables)
        if field.direct is not None:
            return field.direct(source, info, arguments)
        return field.resolve(source, info, **arguments)

    async def object(self, plan: ObjectPlan, source: Any, path: Path | None) -> dict[str, Any]:
        """The response dict of source: its resolvers started together, then completed."""
        fields = plan.fields
        values: list[Any] = [None] * len(fields)
        waits: list[tuple[int, FieldPlan, Any, Path]] = []
        try:
            for index, field in enumerate(fields):
                if type(field) is str:
                    values[index] = plan.type_name
                    continue
                field_path = None
                if field.read is not None:
                    value = field.read(source)
                else:
                    field_path = Path(path, field.key, plan.type_name)
                    value = self._resolve(plan, field, source, field_path)
                nested = field.object_plan
                if optimized_is_awaitable(value) or (nested is not None and not nested.plain):
                    waits.append((index, field, value, field_path or Path(path, field.key,
                                                                          plan.type_name)))
                else:
                    values[index] = complete_plain(field, value)
        except BaseException:
            for _, _, value, _ in waits:  # resolvers started but never to be awaited
                getattr(value, "close", lambda: None)()
            raise
        if waits:
            settled = await _settled([self.complete(field, value, field_path)
                                      for _, field, value, field_path in waits])
            for (index, *_), value in zip(waits, settled):
                values[index] = value
        return {field if type(field) is str else field.key: value
                for field, value in zip(fields, values)}

    async def complete(self, field: FieldPlan, value: Any, path: Path | None) -> Any:
        """A resolved (or awaited) value completed by its field's plan."""
        if optimized_is_awaitable(value):
            value = await value
        plan = field.object_plan
        if plan is None or plan.plain:
            return complete_plain(field, value)
        if value is None or value is Undefined:
            if field.non_null:
                raise Fallback
            return None
        if not field.is_list:
            return await self.object(plan, _checked(plan, value), path)
        items = _items(value)
        for item in items:
            if item is None:
                if field.item_non_null:
                    raise Fallback
            else:
                _checked(plan, item)
        return await _settled([
            _none() if item is None else self.object(plan, item, Path(path, number, None))
            for number, item in enumerate(items)])


async def _none() -> None:
    return None


def _items(value: Any) -> list[Any] | tuple[Any, ...]:
    if not isinstance(value, (list, tuple)):
        raise Fallback  # another iterable: graphql-core's way
    return value


def _checked(plan: ObjectPlan, value: Any) -> Any:
    """The value, if it is an object of the plan's type (and not an error or a promise)."""
    if isinstance(value, Exception) or optimized_is_awaitable(value):
        raise Fallback
    is_type_of = plan.is_type_of
    if is_type_of is not None and is_type_of(value, None) is not True:
        raise Fallback
    return value


def _item(value: Any, leaf: Any, nested: ObjectPlan | None, non_null: bool) -> Any:
    """One completed value of a plain field (or list item). A leaf's serializer refuses an
    error object or a promise by raising: that is a Fallback too."""
    if value is None:
        if non_null:
            raise Fallback
        return None
    if leaf is not None:
        serialized = leaf(value)
        if serialized is None or serialized is Undefined:
            raise Fallback
        return serialized
    return nested.complete(_checked(nested, value))


def complete_plain(field: FieldPlan, value: Any) -> Any:
    """A value whose completion calls no resolver: a leaf, a plain object, or a list of them."""
    if value is Undefined:
        raise Fallback
    if not field.is_list or value is None:
        return _item(value, field.leaf, field.object_plan, field.non_null)
    leaf, nested, non_null = field.leaf, field.object_plan, field.item_non_null
    return [_item(item, leaf, nested, non_null) for item in _items(value)]


def plain_completion(plan: ObjectPlan) -> Callable[[Any], dict[str, Any]]:
    """The response dict of an object whose fields are all basic attributes, as a function
    generated once per plan: its fields unrolled, no loop (it completes every bucket of every
    page)."""
    namespace: dict[str, Any] = {"Fallback": Fallback, "Undefined": Undefined, "_item": _item,
                                 "_items": _items, "_checked": _checked}
    lines, keys = ["def complete(source):"], []
    for number, field in enumerate(plan.fields):
        value = f"value{number}"
        if isinstance(field, str):  # __typename
            keys.append(f"{field!r}: {value}")
            namespace[f"name{number}"] = plan.type_name
            lines.append(f"    {value} = name{number}")
            continue
        keys.append(f"{field.key!r}: {value}")  # a GraphQL name: letters, digits, underscores
        read, leaf, nested = field.read, field.leaf, field.object_plan
        non_null, is_list, item_non_null = field.non_null, field.is_list, field.item_non_null
        namespace.update({f"read{number}": read, f"leaf{number}": leaf,
                          f"nested{number}": nested})
        lines += [f"    {value} = read{number}(source)",
                  f"    if {value} is None:",
                  "        raise Fallback" if non_null else "        pass"]
        if is_list:
            lines.append(f"    else: {value} = [_item(item, leaf{number}, nested{number}, "
                         f"{item_non_null}) for item in _items({value})]")
        elif leaf is not None:
            lines += [f"    else:",
                      f"        {value} = leaf{number}({value})",
                      f"        if {value} is None or {value} is Undefined:",
                      "            raise Fallback"]
        else:
            lines.append(f"    else: {value} = nested{number}.complete("
                         f"_checked(nested{number}, {value}))")
    lines.append("    return {" + ", ".join(keys) + "}")
    exec("\n".join(lines), namespace)  # noqa: S102 - the text is ours: names and indices
    return namespace["complete"]
