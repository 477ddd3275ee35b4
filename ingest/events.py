"""What a usage record's value must be: validation and parsing, pure.

A value is accepted only as a JSON object with these three fields (others are ignored, so that
a producer may add fields without stopping billing; the three are checked strictly):

- ``sim-card-id``: a string of 1 to 32 ASCII digits (a JSON number would lose leading zeros);
- ``bytes-used``: a JSON integer or a string of ASCII decimal digits, 0 to 2^40 by value
  (leading zeros allowed; no sign, spaces, fraction, exponent, float or boolean);
- ``date``: an instant ``YYYY-MM-DDTHH:MM[:SS[.fraction]]`` with ``Z`` or an offset
  (``+HH:MM``, ``+HHMM``, ``+HH``); a real calendar date (day 00 is not one), UTC from 1970
  to 2200 (a usage event outside is a broken clock, not a late event).

An object with a key twice (at any depth) is ambiguous and rejected (``duplicate-field``): which
of two ``sim-card-id`` a JSON parser keeps is not something to bill by. So is a document nested
deeper than ``MAX_DEPTH``. Details quote at most ``EXCERPT`` characters of a value, whatever
its size or nesting: a rejection costs about what an acceptance costs.

Everything else is a ``Rejection`` with a reason code from ``REASONS`` (dead-letter header
and metric label) and a human detail.

``parse_event`` is the one reference definition; ``ingest.chunk_parser`` takes the values of
the canonical shape the producers send much faster, and the property tests check that both
agree.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import orjson

from simusage.storage import HOUR_SECONDS, SIM_CARD_ID

MAX_BYTES_USED = 2**40
MICROSECONDS_PER_SECOND = 1_000_000
HOUR_US = HOUR_SECONDS * MICROSECONDS_PER_SECOND
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
    "duplicate-field",
    "too-deep",
    "too-old",
    "unexpected",
)
MAX_DEPTH = 64
EXCERPT = 40


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


INSTANT = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2})"
    r"(?::([0-9]{2})(?:[.,]([0-9]{1,9}))?)?"
    r"(?:(Z|z)|([+-])([0-9]{2})(?::?([0-9]{2}))?)"
)
# A date-time with no zone at all: said so, rather than "invalid".
NAIVE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[Tt ][0-9:.,]*)?")


def excerpt(value: object) -> str:
    """A short, bounded description of any decoded JSON value, for a rejection's detail."""
    if isinstance(value, str):
        shown = repr(value[:EXCERPT])[: 2 * EXCERPT]  # "\x00" is four characters
        return shown if len(value) <= EXCERPT else f"{shown}... ({len(value)} characters)"
    if isinstance(value, (list, dict)):
        return f"a JSON {'array' if isinstance(value, list) else 'object'} of {len(value)}"
    if isinstance(value, float):
        return "a number with a fraction or exponent"
    return repr(value)[:EXCERPT]  # int (at most 20 digits from orjson), bool, None


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
            return Rejection("date-no-timezone", f"date {excerpt(text)} has no Z or offset")
        return Rejection("date-invalid", f"date {excerpt(text)} is not an ISO 8601 instant")
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
    elif isinstance(value, str) and value.isascii() and value.isdigit():
        significant = value.lstrip("0")  # read by value: "0001025" is 1025
        if len(significant) > 13:
            return Rejection("bytes-used-out-of-range", f"bytes-used {excerpt(value)} is above 2^40")
        number = int(significant or "0")
    else:
        return Rejection(
            "bytes-used-invalid",
            f"bytes-used must be a non-negative integer or decimal string, got {excerpt(value)}",
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
            "sim-card-id-invalid", f"sim-card-id must be 1 to 32 digits, got {excerpt(sim_card_id)}"
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
        return Rejection("date-invalid", f"date must be a string, got {excerpt(when)}")
    time_us = parse_instant(when)
    if isinstance(time_us, Rejection):
        return time_us
    return Event(time_us, sim_card_id, bytes_used)


def parse_event(value: bytes | bytearray | memoryview | None) -> Event | Rejection:
    """The event of a record value, or why it is not one: the reference definition."""
    if value is None:
        return Rejection("no-value", "the record has no value")
    if type(value) is memoryview:
        value = value.tobytes()
    # Nesting needs as many brackets: the scan runs only past that bound, and before orjson,
    # which would build the 1,000 nested lists first.
    if value.count(b"[") + value.count(b"{") > MAX_DEPTH and _nested_deeper_than(value, MAX_DEPTH):
        return Rejection("too-deep", f"nested deeper than {MAX_DEPTH} levels")
    try:
        document = orjson.loads(value)
    except orjson.JSONDecodeError as error:
        return Rejection("not-json", f"not JSON: {str(error)[:150]}")
    # A text with no more key-ending quotes than the object has keys holds each key once.
    if isinstance(document, dict) and len(_KEY_END.findall(value)) != len(document):
        duplicate = _duplicate_key(value)
        if duplicate is not None:
            return Rejection("duplicate-field", f"the key {excerpt(duplicate)} is there twice")
    return parse_document(document)


# A string, or an unterminated one to the end: every attempt from a quote succeeds, so removing
# strings is linear in the text whatever it holds (possessive: no backtracking).
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*+(?:"|\\?\Z)')
_BRACKET_RUN = re.compile(rb"[\[{]+|[\]}]+")


def _nested_deeper_than(value: bytes | bytearray, limit: int) -> bool:
    """Whether the brackets outside strings of a text nest more than limit levels."""
    depth = 0
    for run in _BRACKET_RUN.findall(_STRING.sub(b"", value)):
        if run[0] in b"[{":
            depth += len(run)
            if depth > limit:
                return True
        else:
            depth -= len(run)
    return False


# Every key of every object ends so (and some strings holding '" :' too: an over-count only costs
# the full check).
_KEY_END = re.compile(rb'"[ \t\n\r]*:')


class _DuplicateKey(Exception):
    pass


def _pairs_without_duplicates(pairs: list) -> None:
    seen = set()
    for key, _ in pairs:
        if key in seen:
            raise _DuplicateKey(key)
        seen.add(key)


def _duplicate_key(value: bytes | bytearray) -> str | None:
    """A key some object of a JSON text (that orjson accepted, at most MAX_DEPTH deep) holds
    twice, or None. orjson keeps the last silently; the standard parser lets us see pairs."""
    try:
        _PAIRS_DECODER.decode(value.decode("utf-8"))  # orjson accepted it: UTF-8
    except _DuplicateKey as duplicate:
        return duplicate.args[0]
    return None


def _ignore(_text: str) -> None:
    """Numbers are orjson's business: no int() of a 5,000-digit literal here."""


# Built once: json.loads with arguments builds a decoder a call (most of its cost).
_PAIRS_DECODER = json.JSONDecoder(object_pairs_hook=_pairs_without_duplicates, parse_int=_ignore,
                                  parse_float=_ignore, parse_constant=_ignore)
