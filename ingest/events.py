"""What a usage record's value must be: validation and parsing, pure.

A value is accepted only as a JSON object with these three fields (others are ignored, so that
a producer may add fields without stopping billing; the three are checked strictly):

- ``sim-card-id``: a string of 1 to 32 ASCII digits (a JSON number would lose leading zeros);
- ``bytes-used``: a JSON integer or a string of ASCII decimal digits, 0 to 2^40 (no sign,
  spaces, fraction, exponent, float or boolean);
- ``date``: an instant ``YYYY-MM-DDTHH:MM[:SS[.fraction]]`` with ``Z`` or an offset
  (``+HH:MM``, ``+HHMM``, ``+HH``); a real calendar date (day 00 is not one), UTC from 1970
  to 2200 (a usage event outside is a broken clock, not a late event).

Everything else is a ``Rejection`` with a reason code from ``REASONS`` (dead-letter header
and metric label) and a human detail.

``parse_event`` is the one reference definition; ``ingest.chunk_parser`` takes the values of
the canonical shape the producers send much faster, and the property tests check that both
agree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import orjson

MAX_BYTES_USED = 2**40
MICROSECONDS_PER_SECOND = 1_000_000
HOUR_US = 3600 * MICROSECONDS_PER_SECOND
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)  # exclusive
EARLIEST_US = 0
LATEST_US = (LATEST - EARLIEST) // timedelta(microseconds=1)
_UNIX_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()

REASONS = (
    "no-value",
    "not-json",
    "not-object",
    "sim-card-id-missing",
    "sim-card-id-invalid",
    "bytes-used-missing",
    "bytes-used-invalid",
    "bytes-used-out-of-range",
    "date-missing",
    "date-invalid",
    "date-no-timezone",
    "date-out-of-range",
)


@dataclass(frozen=True, slots=True)
class Event:
    """One accepted usage: when (microseconds since 1970-01-01 UTC), which card, how much."""

    time_us: int
    sim_card_id: str
    bytes_used: int

    @property
    def time(self) -> datetime:
        """The event time as an aware UTC datetime."""
        return EARLIEST + timedelta(microseconds=self.time_us)


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a value is not an event: a reason code of REASONS and a human detail."""

    reason: str
    detail: str


SIM_CARD_ID = re.compile(r"[0-9]{1,32}")
DECIMAL = re.compile(r"[0-9]{1,13}")
INSTANT = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2})"
    r"(?::([0-9]{2})(?:[.,]([0-9]{1,9}))?)?"
    r"(?:(Z|z)|([+-])([0-9]{2})(?::?([0-9]{2}))?)"
)
# A date-time with no zone at all: said so, rather than "invalid".
NAIVE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[Tt ][0-9:.,]*)?")


def day_us_of(year: int, month: int, day: int) -> int | None:
    """Microseconds from 1970-01-01 to that day's midnight, or None if it is not a real day."""
    try:
        ordinal = date(year, month, day).toordinal()
    except ValueError:
        return None
    return (ordinal - _UNIX_EPOCH_ORDINAL) * 86_400 * MICROSECONDS_PER_SECOND


def parse_instant(text: str) -> int | Rejection:
    """Microseconds since 1970-01-01 UTC of an ISO 8601 instant, or why it is not one."""
    match = INSTANT.fullmatch(text)
    if match is None:
        if NAIVE.fullmatch(text):
            return Rejection("date-no-timezone", f"date {text!r} has no Z or offset")
        return Rejection("date-invalid", f"date {text!r} is not an ISO 8601 instant")
    year, month, day, hour, minute, second, fraction, zulu, sign, off_h, off_m = match.groups()
    day_us = day_us_of(int(year), int(month), int(day))
    hour_i, minute_i, second_i = int(hour), int(minute), int(second or 0)
    if day_us is None or hour_i > 23 or minute_i > 59 or second_i > 59:
        return Rejection("date-invalid", f"date {text!r} is not a real date and time")
    offset_s = 0
    if zulu is None:
        off_h_i, off_m_i = int(off_h), int(off_m or 0)
        if off_h_i > 23 or off_m_i > 59:
            return Rejection("date-invalid", f"date {text!r} has an impossible offset")
        offset_s = (off_h_i * 3600 + off_m_i * 60) * (1 if sign == "+" else -1)
    micros = int((fraction or "0")[:6].ljust(6, "0"))
    time_us = (
        day_us
        + ((hour_i * 60 + minute_i) * 60 + second_i - offset_s) * MICROSECONDS_PER_SECOND
        + micros
    )
    if not EARLIEST_US <= time_us < LATEST_US:
        return Rejection("date-out-of-range", f"date {text!r} is outside 1970..2200 UTC")
    return time_us


def parse_bytes_used(value: object) -> int | Rejection:
    """The byte count of a JSON integer or decimal string, or why it is not one."""
    if type(value) is int:  # not bool, which is an int subclass
        number = value
    elif isinstance(value, str) and DECIMAL.fullmatch(value):
        number = int(value)
    elif isinstance(value, str) and value.isascii() and value.isdigit():
        return Rejection("bytes-used-out-of-range", f"bytes-used {value!r} is above 2^40")
    else:
        return Rejection(
            "bytes-used-invalid",
            f"bytes-used must be a non-negative integer or decimal string, got {value!r:.40}",
        )
    if not 0 <= number <= MAX_BYTES_USED:
        return Rejection("bytes-used-out-of-range", f"bytes-used {number} is not in 0..2^40")
    return number


def parse_document(document: object) -> Event | Rejection:
    """The event of an already-decoded JSON document, or why it is not one."""
    if not isinstance(document, dict):
        return Rejection("not-object", f"expected a JSON object, got {type(document).__name__}")
    sim_card_id = document.get("sim-card-id")
    if sim_card_id is None:
        return Rejection("sim-card-id-missing", "no sim-card-id")
    if not isinstance(sim_card_id, str) or not SIM_CARD_ID.fullmatch(sim_card_id):
        return Rejection(
            "sim-card-id-invalid", f"sim-card-id must be 1 to 32 digits, got {sim_card_id!r:.40}"
        )
    if "bytes-used" not in document or document["bytes-used"] is None:
        return Rejection("bytes-used-missing", "no bytes-used")
    bytes_used = parse_bytes_used(document["bytes-used"])
    if isinstance(bytes_used, Rejection):
        return bytes_used
    when = document.get("date")
    if when is None:
        return Rejection("date-missing", "no date")
    if not isinstance(when, str):
        return Rejection("date-invalid", f"date must be a string, got {when!r:.40}")
    time_us = parse_instant(when)
    if isinstance(time_us, Rejection):
        return time_us
    return Event(time_us, sim_card_id, bytes_used)


def parse_event(value: bytes | bytearray | memoryview | None) -> Event | Rejection:
    """The event of a record value, or why it is not one: the reference definition."""
    if value is None:
        return Rejection("no-value", "the record has no value")
    try:
        document = orjson.loads(value)
    except orjson.JSONDecodeError as error:
        return Rejection("not-json", f"not JSON: {error}")
    return parse_document(document)
