"""The contract's two custom scalars: DateTime (RFC 3339, with an offset out) and BigInt (decimal string out)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import NewType, NoReturn

import strawberry

DateTime = NewType("DateTime", datetime)
BigInt = NewType("BigInt", int)

# RFC 3339 plus the contract's two conveniences: a bare date, and a date-time without offset.
# Seconds are optional because operators write 2022-02-10T00:00Z (see the README).
# Python's fromisoformat alone would also take week dates and other ISO 8601 forms.
_DATE_TIME = re.compile(
    r"\d{4}-\d{2}-\d{2}"
    r"(?:[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:[Zz]|[+-]\d{2}:\d{2})?)?"
)

BIG_INT_MIN = -(2**63)


class WallClockDateTime(datetime):
    """A DateTime written without offset: UTC, unless its field reads it in a time zone."""

BIG_INT_MAX = 2**63 - 1


# The texts of recent UTC instants: bucket starts repeat from request to request, and isoformat
# was 4% of a request's CPU (30 of them in query (b)). Only UTC values are looked up and stored:
# datetimes of one instant in other zones compare equal, and their text differs.
_UTC_TEXTS: dict[datetime, str] = {}
UTC_TEXTS_KEPT = 2048  # a few dashboards' worth; an export of years streams past them


def serialize_date_time(value: datetime) -> str:
    """RFC 3339: in UTC with a Z (2022-02-10T00:00:00Z), or with the offset of the value's zone."""
    tzinfo = value.tzinfo
    if tzinfo is UTC:
        text = _UTC_TEXTS.get(value)
        if text is None:
            if len(_UTC_TEXTS) >= UTC_TEXTS_KEPT:
                _UTC_TEXTS.clear()
            text = _UTC_TEXTS[value] = value.isoformat()[:-6] + "Z"  # it ends with +00:00
        return text
    if tzinfo is None:
        raise ValueError("DateTime cannot represent a naive datetime")
    return value.isoformat()


def parse_date_time(value: object) -> datetime:
    """An aware UTC datetime from a date, a date-time without offset (UTC wall time, marked as
    such for fields with a timeZone) or one with an offset."""
    if not isinstance(value, str):
        _refuse_date_time()
    return _parsed_text(value)


def _refuse_date_time() -> NoReturn:
    raise ValueError(
        "DateTime must be an RFC 3339 string such as 2022-02-10T00:00:00Z, "
        "a date-time without offset (read as UTC) or a date (2022-02-10, midnight UTC)"
    )


# A literal of a query text is parsed by the look-ahead, by graphql-core and by strawberry,
# request after request: the texts of the last ones are kept (a refusal is not).
@lru_cache(maxsize=4096)
def _parsed_text(value: str) -> datetime:
    if not _DATE_TIME.fullmatch(value):
        _refuse_date_time()
    text = value[:-1] + "+00:00" if value[-1] in "Zz" else value
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return WallClockDateTime(day.year, day.month, day.day, tzinfo=UTC)
        parsed = datetime.fromisoformat(text)
    except ValueError:
        # Python's own message ("day is out of range for month") is not the API's to show.
        raise ValueError(
            f"DateTime {value!r} is not a real date and time: months run 1-12, days within "
            "their month, hours 0-23, minutes and seconds 0-59, offsets within ±23:59"
        ) from None
    if parsed.tzinfo is None:
        return WallClockDateTime(
            parsed.year, parsed.month, parsed.day, parsed.hour, parsed.minute, parsed.second,
            parsed.microsecond, tzinfo=UTC,
        )
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"DateTime {value!r} is out of range") from None


def serialize_big_int(value: int) -> str:
    """The decimal string of a 64-bit integer."""
    return str(int(value))


def parse_big_int(value: object) -> int:
    """A 64-bit integer from a decimal string or a JSON integer (never a float or a boolean)."""
    if isinstance(value, bool):
        raise ValueError("BigInt must be an integer or a string of decimal digits, not a boolean")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and re.fullmatch(r"-?[0-9]{1,19}", value):
        number = int(value)
    else:
        raise ValueError("BigInt must be an integer or a string of decimal digits")
    if not BIG_INT_MIN <= number <= BIG_INT_MAX:
        raise ValueError("BigInt must fit in 64 bits")
    return number


DATE_TIME_SCALAR = strawberry.scalar(
    name="DateTime",
    description=(
        "A point in time, RFC 3339 with an offset on output (2022-02-10T00:00:00Z).\n"
        "Input also accepts a bare date (2022-02-10, read as its midnight) and a date-time\n"
        "without offset, both in UTC or in the field's timeZone where it has one."
    ),
    serialize=serialize_date_time,
    parse_value=parse_date_time,
    specified_by_url="https://datatracker.ietf.org/doc/html/rfc3339",
)

BIG_INT_SCALAR = strawberry.scalar(
    name="BigInt",
    description="A 64-bit integer, serialized as a decimal string so that no client loses precision.",
    serialize=serialize_big_int,
    parse_value=parse_big_int,
)

# For StrawberryConfig(scalar_map=...): annotations use the NewTypes above.
SCALARS = {DateTime: DATE_TIME_SCALAR, BigInt: BIG_INT_SCALAR}
