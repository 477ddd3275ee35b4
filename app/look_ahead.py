"""The usage page a field's selection will read, known before the field itself resolves.

`simCard(id)` and `organization(id)` must look their subject up before graphql-core runs
their subfields (the answer may be null), so the page came second, a round trip later. Read
from the selection, the first `usage` subfield's arguments name its dense page before that:
the look-up and the page become one statement (app/queries/subject_pages.py), primed into
the loaders the subfield then reads. Arguments that do not build a series (they fail later,
where the client expects the error) or a skipEmpty page just take the two statements.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime
from importlib.metadata import version
from typing import Any

from graphql import (
    FieldNode,
    GraphQLObjectType,
    VariableNode,
    get_argument_values,
    get_named_type,
)
from graphql.execution.values import VariableValues
from strawberry.types import Info
from strawberry.types.nodes import SelectedField

from app.compiled_operations import contains
from app.loader_keys import PageKey
from app.scalars import parse_date_time
from app.series import UsageSeries

logger = logging.getLogger(__name__)
strawberry_version = version("strawberry-graphql")
read_nodes = True  # whether Info has the seam, as check_seam found at start


def _date_time(value: Any) -> datetime:
    # A variable arrives parsed by the scalar; a literal as the text of the query.
    return value if isinstance(value, datetime) else parse_date_time(value)


def _count(value: Any) -> int | None:
    return None if value is None else int(value)  # an Int literal's text, or a variable's int


def _series(info: Info, subject: str, key: str, arguments: dict[str, Any]) -> UsageSeries:
    granularity = arguments["granularity"]  # a Granularity, or a literal's name
    return UsageSeries.build(
        info.context, subject, key, _date_time(arguments["from"]), _date_time(arguments["to"]),
        getattr(granularity, "value", granularity), arguments.get("timeZone", "UTC"),
        bool(arguments.get("skipEmpty", False)), _count(arguments.get("first")),
        arguments.get("after"), _count(arguments.get("last")), arguments.get("before"),
    )


# The coerced arguments of `usage` selections written with literals only, by node: the parsed
# document is cached, so its nodes come back request after request. Read-only to every reader.
_LITERAL_ARGUMENTS: dict[int, tuple[FieldNode, dict[str, Any]]] = {}
LITERAL_ARGUMENTS_KEPT = 1024


def _arguments_from_nodes(info: Info) -> dict[str, Any] | None:
    """The first `usage` subfield's arguments as graphql-core coerces them for the resolver,
    read from the field's nodes: strawberry's selected_fields converts the whole selection
    below the field, arguments and names, on every request (5% of query (b)'s CPU)."""
    raw = info._raw_info  # strawberry's GraphQLResolveInfo: a pinned seam, see check_seam
    named = get_named_type(raw.return_type)
    definition = named.fields.get("usage") if isinstance(named, GraphQLObjectType) else None
    if definition is None:
        return None
    for node in raw.field_nodes:
        for selection in node.selection_set.selections if node.selection_set else ():
            if isinstance(selection, FieldNode) and selection.name.value == "usage" \
                    and not selection.directives:
                kept = _LITERAL_ARGUMENTS.get(id(selection))
                if kept is not None and kept[0] is selection:
                    return kept[1]
                # Strawberry hands resolvers the coerced variables, not graphql-core's container.
                variables = VariableValues({}, raw.variable_values or {})
                arguments = get_argument_values(definition, selection, variables)
                if not any(contains(argument, VariableNode) for argument in selection.arguments):
                    if len(_LITERAL_ARGUMENTS) >= LITERAL_ARGUMENTS_KEPT:
                        _LITERAL_ARGUMENTS.clear()
                    # The node is kept with them, so that its id stays its own.
                    _LITERAL_ARGUMENTS[id(selection)] = (selection, arguments)
                return arguments
    return None


def _arguments_from_selected_fields(info: Info) -> dict[str, Any] | None:
    """The same from strawberry's public selected_fields (literals as their text)."""
    for field in info.selected_fields:
        for selection in field.selections:
            if isinstance(selection, SelectedField) and selection.name == "usage" \
                    and not selection.directives:
                return selection.arguments
    return None


def usage_page_key(info: Info, subject: str, key: str) -> PageKey | None:
    """The dense page the field's first `usage` subfield will read, if its arguments say."""
    try:
        arguments = _arguments_from_nodes(info) if read_nodes else \
            _arguments_from_selected_fields(info)
        return None if arguments is None else _series(info, subject, key, arguments).page_key()
    except Exception:  # noqa: BLE001 - the subfield reports it, to the client
        return None


def check_seam() -> bool:
    """Whether strawberry's Info still carries graphql-core's resolve info; if not, the
    look-ahead reads strawberry's selected_fields, loudly (correct, only slower)."""
    global read_nodes
    read_nodes = "_raw_info" in {field.name for field in dataclasses.fields(Info)}
    if not read_nodes:
        logger.warning("look-ahead through strawberry's selected_fields (slower): Info has no "
                       "_raw_info in strawberry %s", strawberry_version)
    return read_nodes


async def look_up_with_usage_page(info: Info, subject: str, key: str) -> None:
    """Look the subject up together with its usage page, when the selection names one; the
    look-up and the page are then in the request's loaders."""
    page_key = usage_page_key(info, subject, key)
    if page_key is not None:
        await info.context.loaders.subjects_with_pages.load(page_key)
