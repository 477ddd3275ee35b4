"""The usage page a field's selection will read, known before the field itself resolves.

`simCard(id)` and `organization(id)` must look their subject up before graphql-core runs
their subfields (the answer may be null), so the page came second, a round trip later. Read
from the selection, the first `usage` subfield's arguments name its dense page before that:
the look-up and the page become one statement (app/queries/subject_pages.py), primed into
the loaders the subfield then reads. Arguments that do not build a series (they fail later,
where the client expects the error) or a skipEmpty page just take the two statements.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from strawberry.types import Info
from strawberry.types.nodes import SelectedField

from app.loader_keys import PageKey
from app.scalars import parse_date_time
from app.series import UsageSeries


def _date_time(value: Any) -> datetime:
    # A variable arrives parsed by the scalar; a literal as the text of the query.
    return value if isinstance(value, datetime) else parse_date_time(value)


def _count(value: Any) -> int | None:
    return None if value is None else int(value)  # an Int literal's text, or a variable's int


def _series(info: Info, subject: str, key: str, usage: SelectedField) -> UsageSeries:
    arguments = usage.arguments
    granularity = arguments["granularity"]  # a variable's Granularity, or a literal's name
    return UsageSeries.build(
        info.context, subject, key, _date_time(arguments["from"]), _date_time(arguments["to"]),
        getattr(granularity, "value", granularity), arguments.get("timeZone", "UTC"),
        bool(arguments.get("skipEmpty", False)), _count(arguments.get("first")),
        arguments.get("after"), _count(arguments.get("last")), arguments.get("before"),
    )


def usage_page_key(info: Info, subject: str, key: str) -> PageKey | None:
    """The dense page the field's first `usage` subfield will read, if its arguments say."""
    for field in info.selected_fields:
        for selection in field.selections:
            if isinstance(selection, SelectedField) and selection.name == "usage" \
                    and not selection.directives:
                try:
                    return _series(info, subject, key, selection).page_key()
                except Exception:  # noqa: BLE001 - the subfield reports it, to the client
                    return None
    return None


async def look_up_with_usage_page(info: Info, subject: str, key: str) -> None:
    """Look the subject up together with its usage page, when the selection names one; the
    look-up and the page are then in the request's loaders."""
    page_key = usage_page_key(info, subject, key)
    if page_key is not None:
        await info.context.loaders.subjects_with_pages.load(page_key)
