"""The customer's calendar, pure: IANA time zones, and the grids of local days and months.

Usage is aggregated by UTC hour, so a local bucket is exact only if it starts on a whole UTC
hour: a zone is answered wherever its offset is a whole number of hours (Europe/Lisbon,
America/Sao_Paulo), and refused where it is not (Asia/Kolkata at +05:30), saying why.
"""

from __future__ import annotations

import bisect
import functools
import re
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, tzinfo

from app.errors import UserInputError
from app.scalars import WallClockDateTime
from simusage.storage import HOUR_SECONDS

UTC_ZONE = "UTC"
DAILY = "DAILY"
MONTHLY = "MONTHLY"
# A calendar grid is computed bucket by bucket (each start is a zone look-up): bounded, 27 years
# of local days or any number of months the DateTime range holds.
MAX_CALENDAR_BUCKETS = 10_000
# IANA names are ASCII words joined by slashes: a client's string is checked before any look-up.
_ZONE_NAME = re.compile(r"[A-Za-z0-9_+-]{1,30}(?:/[A-Za-z0-9_+-]{1,30}){0,2}")
WHOLE_HOUR_EXAMPLES = "UTC, Europe/Lisbon, America/Sao_Paulo, Australia/Sydney"


@functools.lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones()) | {UTC_ZONE}


@functools.lru_cache(maxsize=1024)  # only names that exist are cached: at most the IANA list
def time_zone(name: str | None) -> tzinfo:
    """The zone of an IANA name; UTC (also for null) is datetime.UTC, written with a Z."""
    if name is None or name == UTC_ZONE:
        return UTC
    if not _ZONE_NAME.fullmatch(name) or name not in _zone_names():
        raise UserInputError(
            f"timeZone {name[:64]!r} is not an IANA time zone name such as Europe/Lisbon"
        )
    return zoneinfo.ZoneInfo(name)


def _unsupported(zone: tzinfo, instant: datetime) -> UserInputError:
    offset = instant.astimezone(zone).strftime("%z")
    return UserInputError(
        f"timeZone {zone} is not supported here: its offset {offset[:3]}:{offset[3:]} at "
        f"{instant.astimezone(UTC):%Y-%m-%dT%H:%MZ} is not a whole number of hours, and usage is "
        f"aggregated by UTC hour, so its local hours and days cannot be answered exactly; use a "
        f"zone with whole-hour offsets ({WHOLE_HOUR_EXAMPLES})"
    )


def check_whole_hours(zone: tzinfo, instants: Sequence[datetime]) -> None:
    """Refuse the zone where its offset at one of the instants is not a whole number of hours."""
    for instant in instants:
        try:
            offset = instant.astimezone(zone).utcoffset()
        except OverflowError:
            raise UserInputError(f"{instant.isoformat()} is out of range in {zone}") from None
        if offset is not None and offset.total_seconds() % HOUR_SECONDS:
            raise _unsupported(zone, instant)


def whole_interval(start: datetime, end: datetime, zone: tzinfo, step: int, rule: str) -> tuple[int, int]:
    """[start, end) in epoch seconds, checked: the zone's offsets whole hours there, both ends
    multiples of step (rule says so in words), start first."""
    check_whole_hours(zone, (start, end))
    bounds = []
    for name, value in (("from", start), ("to", end)):
        seconds = int(value.timestamp())
        if value.microsecond or seconds % step:
            raise UserInputError(f"{name} must be {rule}, got {value.isoformat()}")
        bounds.append(seconds)
    if bounds[0] >= bounds[1]:
        raise UserInputError("from must be earlier than to: the interval is [from, to)")
    return bounds[0], bounds[1]


def in_zone(value: datetime, zone: tzinfo) -> datetime:
    """An argument read in the zone: a DateTime written without offset is local wall time."""
    if not isinstance(value, WallClockDateTime) or zone is UTC:
        return value
    # fold=0: a wall time the clocks skipped is read with the offset before the change, which
    # is the first instant after the gap (the start of a day that begins at 01:00).
    return datetime(value.year, value.month, value.day, value.hour, value.minute, value.second,
                    value.microsecond, tzinfo=zone)


def _month_number(day: date) -> int:
    return day.year * 12 + day.month - 1


def _bucket_date(granularity: str, number: int) -> date:
    if granularity == MONTHLY:
        return date(number // 12, number % 12 + 1, 1)
    return date.fromordinal(number)


def _bucket_number(granularity: str, local: date) -> int:
    return _month_number(local) if granularity == MONTHLY else local.toordinal()


def _start_of(zone: tzinfo, day: date) -> int:
    return int(datetime.combine(day, time(), zone).timestamp())


@dataclass(frozen=True)
class CalendarGrid:
    """Buckets of uneven length (local days, months): starts boundaries[:-1], end boundaries[-1].

    Same interface as app.pagination.Grid, by bisection where Grid has arithmetic.
    """

    boundaries: tuple[int, ...]

    @property
    def start(self) -> int:
        """Start of the first bucket, epoch seconds."""
        return self.boundaries[0]

    @property
    def end(self) -> int:
        """End of the last bucket, exclusive."""
        return self.boundaries[-1]

    @property
    def count(self) -> int:
        """How many buckets the grid has."""
        return len(self.boundaries) - 1

    def index_after(self, instant: int) -> int:
        """Index of the first bucket starting strictly after instant (count if none)."""
        return bisect.bisect_right(self.boundaries, instant, 0, self.count)

    def index_before(self, instant: int) -> int:
        """Index of the first bucket starting at or after instant: the ones before are [0, index)."""
        return bisect.bisect_left(self.boundaries, instant, 0, self.count)

    def time(self, index: int) -> int:
        """Start of the bucket at index (the grid's end for count)."""
        return self.boundaries[index]

    def starts(self, lower: int, upper: int) -> Sequence[int]:
        """The bucket starts in [lower, upper)."""
        return self.boundaries[self.index_before(lower): self.index_before(upper)]


@functools.lru_cache(maxsize=256)
def calendar_grid(granularity: str, zone: tzinfo, start: datetime, end: datetime) -> CalendarGrid:
    """The local days or months of [start, end), checked: aligned in the zone, whole UTC hours."""
    try:
        return _calendar_grid(granularity, zone, start, end)
    except (OverflowError, ValueError):  # a local date before year 1 or after 9999
        raise UserInputError(
            f"from and to must lie within the years 1-9999 in {zone}"
        ) from None


def _calendar_grid(granularity: str, zone: tzinfo, start: datetime, end: datetime) -> CalendarGrid:
    unit = "the 1st of a month" if granularity == MONTHLY else "a day"
    numbers = []
    for name, value in (("from", start), ("to", end)):
        number = _bucket_number(granularity, value.astimezone(zone).date())
        if value.timestamp() != _start_of(zone, _bucket_date(granularity, number)):
            raise UserInputError(
                f"{name} must be local midnight of {unit} in {zone} for {granularity} usage, got "
                f"{value.astimezone(zone).isoformat()}"
            )
        numbers.append(number)
    if numbers[0] >= numbers[1]:
        raise UserInputError("from must be earlier than to: the interval is [from, to)")
    if numbers[1] - numbers[0] > MAX_CALENDAR_BUCKETS:
        raise UserInputError(
            f"from and to span {numbers[1] - numbers[0]:,} {granularity} buckets in {zone}; at "
            f"most {MAX_CALENDAR_BUCKETS:,} (ask for a shorter interval, or in UTC)"
        )
    boundaries = tuple(
        _start_of(zone, _bucket_date(granularity, number))
        for number in range(numbers[0], numbers[1] + 1)
    )
    for boundary in boundaries:
        if boundary % HOUR_SECONDS:
            raise _unsupported(zone, datetime.fromtimestamp(boundary, UTC))
    return CalendarGrid(boundaries)


@functools.lru_cache(maxsize=65536)
def local_time(epoch_seconds: int, zone: tzinfo) -> datetime:
    """The datetime of an epoch second in the zone, written with the zone's offset then."""
    return datetime.fromtimestamp(epoch_seconds, zone)


@functools.lru_cache(maxsize=65536)  # each subscriber of a subject asks for the same hours
def bucket_span(granularity: str, zone: tzinfo, instant: int) -> tuple[int, int]:
    """[start, end) in epoch seconds of the bucket holding instant: its hour, or its local day
    or month in the zone (UTC days and months for UTC)."""
    if granularity not in (DAILY, MONTHLY):
        start = instant - instant % HOUR_SECONDS
        return start, start + HOUR_SECONDS
    number = _bucket_number(granularity, datetime.fromtimestamp(instant, zone).date())
    return (_start_of(zone, _bucket_date(granularity, number)),
            _start_of(zone, _bucket_date(granularity, number + 1)))
