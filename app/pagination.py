"""Relay pagination, pure: opaque keyset cursors, page sizes, and slices of a bucket grid.

A usage series is a grid of bucket start times [start, end): stepped by the granularity, or
(local days and months) a CalendarGrid of uneven steps with the same interface.
Cursors hold a bucket time (or an id), never an offset, so a page stays the same page while
new data arrives. Times are whole epoch seconds: integer arithmetic cannot overflow a datetime.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from app.calendar import CalendarGrid
from app.errors import UserInputError

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000

CURSOR_VERSION = "1"
HOURLY_CURSOR = "usage-hourly"
DAILY_CURSOR = "usage-daily"
MONTHLY_CURSOR = "usage-monthly"
SIM_CARD_CURSOR = "sim-card"
ORGANIZATION_CURSOR = "organization"
OWNERSHIP_CURSOR = "ownership"
# A bucket time is a (possibly negative) count of epoch seconds, the start of an ownership
# period one of epoch microseconds (periods start at any instant); ids are stored as they are.
_TIME_VALUE = re.compile(r"-?[0-9]{1,12}")
_INSTANT_VALUE = re.compile(r"-?[0-9]{1,18}")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CURSOR_TEXT = re.compile(r"[A-Za-z0-9_-]{1,400}")


def cursor_of(kind: str, value: str | int) -> str:
    """An opaque cursor: URL-safe base64 of version, kind and value."""
    payload = f"{CURSOR_VERSION}:{kind}:{value}".encode()
    return base64.urlsafe_b64encode(payload).decode("ascii").rstrip("=")


# The same bucket times recur in request after request: a page of 30 cursors is 30 look-ups.
encode_cursor = functools.lru_cache(maxsize=65536)(cursor_of)


def decode_cursor(cursor: str, kind: str) -> str:
    """The value of a cursor of this kind; a corrupt or foreign cursor is the client's error."""
    if not _CURSOR_TEXT.fullmatch(cursor):
        raise UserInputError(f"invalid cursor {cursor[:40]!r}: use a cursor this API returned")
    try:
        payload = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise UserInputError(f"invalid cursor {cursor!r}: use a cursor this API returned") from None
    version, _, rest = payload.partition(":")
    cursor_kind, _, value = rest.partition(":")
    if version != CURSOR_VERSION or not cursor_kind:
        raise UserInputError(f"invalid cursor {cursor!r}: use a cursor this API returned")
    if cursor_kind != kind:
        raise UserInputError(
            f"cursor {cursor!r} belongs to a {cursor_kind} list, not to this {kind} list"
        )
    if not value.isprintable():  # a forged cursor around a NUL: never sent to the database
        raise UserInputError(f"invalid cursor {cursor[:40]!r}: use a cursor this API returned")
    return value


def decode_time_cursor(cursor: str, kind: str) -> int:
    """The bucket time, in epoch seconds, of a usage cursor."""
    value = decode_cursor(cursor, kind)
    if not _TIME_VALUE.fullmatch(value):
        raise UserInputError(f"invalid cursor {cursor!r}: use a cursor this API returned")
    return int(value)


def instant_cursor(kind: str, instant: datetime) -> str:
    """The cursor of an instant, to the microsecond."""
    return encode_cursor(kind, (instant - EPOCH) // timedelta(microseconds=1))


def decode_instant_cursor(cursor: str, kind: str) -> datetime:
    """The instant of a cursor made by instant_cursor."""
    value = decode_cursor(cursor, kind)
    if not _INSTANT_VALUE.fullmatch(value):
        raise UserInputError(f"invalid cursor {cursor!r}: use a cursor this API returned")
    try:
        return EPOCH + timedelta(microseconds=int(value))
    except OverflowError:  # a forged value beyond the years datetime holds
        raise UserInputError(f"invalid cursor {cursor!r}: use a cursor this API returned") from None


def page_size(first: int | None, last: int | None) -> tuple[int, bool]:
    """The page size and whether the page is taken from the end (last) of the list."""
    if first is not None and last is not None:
        raise UserInputError("pass either first or last, not both")
    size, name = (last, "last") if last is not None else (first, "first")
    if size is None:
        return DEFAULT_PAGE_SIZE, False
    if size < 0:
        raise UserInputError(f"{name} must not be negative")
    if size > MAX_PAGE_SIZE:
        raise UserInputError(f"{name} must be at most {MAX_PAGE_SIZE}")
    return size, last is not None


@dataclass(frozen=True)
class Grid:
    """Bucket start times start, start + step, ... up to end (exclusive), in epoch seconds."""

    start: int
    end: int
    step: int

    @property
    def count(self) -> int:
        """How many buckets the grid has."""
        return (self.end - self.start) // self.step

    def index_after(self, time: int) -> int:
        """Index of the first bucket strictly after time (count if none)."""
        if time < self.start:
            return 0
        return min(self.count, (time - self.start) // self.step + 1)

    def index_before(self, time: int) -> int:
        """Index of the first bucket at or after time: the buckets before time are [0, index)."""
        if time <= self.start:
            return 0
        return min(self.count, -((self.start - time) // self.step))

    def time(self, index: int) -> int:
        """Start time of the bucket at index."""
        return self.start + index * self.step

    def starts(self, lower: int, upper: int) -> range:
        """The bucket starts in [lower, upper), both bucket starts."""
        return range(lower, upper, self.step)


@dataclass(frozen=True)
class Slice:
    """The buckets that after/before leave, [lower, upper), and the page to take from them."""

    grid: Grid | CalendarGrid
    lower: int
    upper: int
    size: int
    backward: bool

    @property
    def lower_index(self) -> int:
        """Grid index of lower."""
        return self.grid.index_before(self.lower)

    @property
    def upper_index(self) -> int:
        """Grid index of upper."""
        return self.grid.index_before(self.upper)


def slice_grid(
    grid: Grid | CalendarGrid,
    kind: str,
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
) -> Slice:
    """Apply Relay's cursors and page size to a grid (cursors are decoded and checked here)."""
    size, backward = page_size(first, last)
    low = grid.index_after(decode_time_cursor(after, kind)) if after is not None else 0
    high = grid.index_before(decode_time_cursor(before, kind)) if before is not None else grid.count
    high = max(low, high)
    return Slice(grid, grid.time(low), grid.time(high), size, backward)


@dataclass(frozen=True)
class DensePage:
    """A page of a dense grid: every bucket in [start, end), and Relay's two flags."""

    start: int
    end: int
    has_previous_page: bool
    has_next_page: bool


def dense_page(page_slice: Slice) -> DensePage:
    """The page of a grid where every bucket is an edge, zeros included."""
    low, high = page_slice.lower_index, page_slice.upper_index
    available = high - low
    taken = min(page_slice.size, available)
    grid = page_slice.grid
    if page_slice.backward:
        # Relay: with last, hasNextPage says whether buckets follow `before`.
        return DensePage(grid.time(high - taken), grid.time(high), available > taken, high < grid.count)
    # Relay: with first, hasPreviousPage says whether buckets precede `after`.
    return DensePage(grid.time(low), grid.time(low + taken), low > 0, available > taken)

