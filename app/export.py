"""GET /export/usage.csv: one card's or organization's usage series as CSV, streamed.

The rows are the GraphQL series' buckets (`UsageSeries`, the same checks, scoping and
aggregates), read a page of 1,000 at a time, each page with its own loaders: a year of hours is
never held in memory. Bad arguments are HTTP 400 with the message GraphQL would give; a card or
organization the key may not see is 404, exactly as one that does not exist.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import datetime

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse

from app.context import RequestContext
from app.database import Database
from app.errors import UserInputError, checked_id
from app.pagination import MAX_PAGE_SIZE, cursor_of
from app.queries.usage import ORGANIZATION, SIM_CARD
from app.scalars import parse_date_time, serialize_date_time
from app.series import UsageSeries
from app.viewer import ADMIN, Viewer

EXPORT_PATH = "/export/usage.csv"
_FILE_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
GRANULARITIES = ("HOURLY", "DAILY", "MONTHLY")
HEADER = "start,bytes_used,event_count\n"


def _subject(parameters) -> tuple[str, str]:
    organization, card = parameters.get("organization"), parameters.get("simCard")
    if (organization is None) == (card is None):
        raise UserInputError("pass exactly one of organization and simCard")
    if card is not None:
        return SIM_CARD, checked_id(card, "simCard")
    return ORGANIZATION, checked_id(organization, "organization")


def _argument(parameters, name: str) -> str:
    value = parameters.get(name)
    if value is None:
        raise UserInputError(f"{name} is required")
    return value


class UsageExport:
    """The export endpoint over the API's database, with its node budget."""

    def __init__(self, database: Database, max_nodes: int, auth_off: bool) -> None:
        self.database = database
        self.max_nodes = max_nodes
        self.auth_off = auth_off

    def _series(self, viewer: Viewer, subject: str, key: str, arguments: dict,
                after: str | None) -> UsageSeries:
        context = RequestContext(viewer, self.database, self.max_nodes)
        return UsageSeries.build(context, subject, key, after=after, first=MAX_PAGE_SIZE,
                                 last=None, before=None, skip_empty=False, **arguments)

    async def respond(self, request: Request) -> Response:
        """The CSV of the asked series, or a plain-text refusal."""
        viewer = request.scope.get("state", {}).get("viewer")
        if viewer is None:
            if not self.auth_off:
                return PlainTextResponse("an API key is required: Authorization: Bearer <key>\n", 401)
            viewer = ADMIN
        parameters = request.query_params
        try:
            subject, key = _subject(parameters)
            granularity = _argument(parameters, "granularity")
            if granularity not in GRANULARITIES:
                raise UserInputError(f"granularity must be one of {', '.join(GRANULARITIES)}")
            bounds = {}
            for name in ("from", "to"):
                try:
                    bounds[name] = parse_date_time(_argument(parameters, name))
                except ValueError as error:
                    raise UserInputError(f"{name}: {error}") from None
            arguments = {"start": bounds["from"], "end": bounds["to"], "granularity": granularity,
                         "zone_name": parameters.get("timeZone")}
            first = self._series(viewer, subject, key, arguments, None)
            if first.grid.count > self.max_nodes:
                raise UserInputError(f"an export holds at most {self.max_nodes:,} buckets, this "
                                     f"one {first.grid.count:,}: ask for a shorter interval")
        except UserInputError as error:
            return PlainTextResponse(f"{error.message}\n", 400)
        context = first.context
        visible = (await context.visible_card(key) is not None if subject == SIM_CARD
                   else await context.sees_organization(key))
        if not visible:
            return PlainTextResponse(f"no {subject.replace('_', ' ')} {key!r}\n", 404)
        # HTTP headers are Latin-1: an id in any other script (or with a quote) would fail.
        name = f"usage-{_FILE_NAME_UNSAFE.sub('_', key)}-{granularity.lower()}.csv"
        return StreamingResponse(
            self._rows(viewer, subject, key, arguments, first), media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    async def _rows(self, viewer: Viewer, subject: str, key: str, arguments: dict,
                    series: UsageSeries) -> AsyncIterator[str]:
        yield HEADER
        zone = series.zone
        while True:
            buckets = await series.buckets()
            # Not through the API's caches of times and cursors: an export's many one-off
            # buckets would push out what other requests reuse, and grow its memory with them.
            yield "".join(
                f"{serialize_date_time(datetime.fromtimestamp(bucket.start, zone))},"
                f"{bucket.bytes_used},{bucket.event_count}\n"
                for bucket in buckets
            )
            if not await series.has_next_page():
                return
            after = cursor_of(series.kind, buckets[-1].start)
            series = self._series(viewer, subject, key, arguments, after)
