"""What a record value must be to count as usage: the reference definition."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from ingest.events import REASONS, Event, Rejection, parse_event


VALID = [
    # as the reference producer sends it
    (b'{"sim-card-id": "89440001", "bytes-used": 1024, "date": "2020-02-18T00:00:00Z"}',
     "89440001", 1024, "2020-02-18T00:00:00+00:00"),
    # as the specification writes it: bytes-used a string
    (b'{"sim-card-id": "89440001", "bytes-used": "1024", "date": "2022-02-18T00:00:00Z"}',
     "89440001", 1024, "2022-02-18T00:00:00+00:00"),
    # compact JSON, other key order, an unknown extra field (ignored), leading zeros in a string
    (b'{"date":"2022-02-18T10:15:30Z","bytes-used":"007","sim-card-id":"1","network":"4g"}',
     "1", 7, "2022-02-18T10:15:30+00:00"),
    # offsets, fractions, minute precision, lowercase t and z
    (b'{"sim-card-id": "2", "bytes-used": 0, "date": "2022-02-18T01:30:00+01:30"}',
     "2", 0, "2022-02-18T00:00:00+00:00"),
    (b'{"sim-card-id": "2", "bytes-used": 5, "date": "2022-02-17T23:00:00-0100"}',
     "2", 5, "2022-02-18T00:00:00+00:00"),
    (b'{"sim-card-id": "2", "bytes-used": 5, "date": "2022-02-18T05:00:00+05"}',
     "2", 5, "2022-02-18T00:00:00+00:00"),
    (b'{"sim-card-id": "2", "bytes-used": 5, "date": "2022-02-18T00:00:00.123456789Z"}',
     "2", 5, "2022-02-18T00:00:00.123456+00:00"),
    (b'{"sim-card-id": "2", "bytes-used": 5, "date": "2022-02-18T00:00:00,5Z"}',
     "2", 5, "2022-02-18T00:00:00.5+00:00"),
    (b'{"sim-card-id": "2", "bytes-used": 5, "date": "2022-02-18T00:00Z"}',
     "2", 5, "2022-02-18T00:00:00+00:00"),
    (b'{"sim-card-id": "2", "bytes-used": 5, "date": "2022-02-18t00:00:00z"}',
     "2", 5, "2022-02-18T00:00:00+00:00"),
    # the largest count, the longest id, a leap day
    (b'{"sim-card-id": "12345678901234567890123456789012", "bytes-used": 1099511627776, '
     b'"date": "2024-02-29T23:59:59Z"}',
     "12345678901234567890123456789012", 2**40, "2024-02-29T23:59:59+00:00"),
]


@pytest.mark.parametrize(("value", "sim", "used", "instant"), VALID)
def test_valid_values_are_events(value: bytes, sim: str, used: int, instant: str) -> None:
    event = parse_event(value)
    expected = datetime.fromisoformat(instant)
    assert event == Event(event.time_us, sim, used)
    assert event.time == expected


INVALID = [
    (None, "no-value"),
    (b"", "not-json"),
    (b"not json", "not-json"),
    (b'{"sim-card-id": "1", "bytes-used": 1, "date": "2020-02-01T00:00:00Z"', "not-json"),
    (b"\xff\xfe{}", "not-json"),
    (b"[]", "not-object"),
    (b'["89440001", 12, "2020-02-01T00:00:00Z"]', "not-object"),
    (b'"a string"', "not-object"),
    (b"null", "not-object"),
    (b'{"bytes-used": 1, "date": "2020-02-01T00:00:00Z"}', "sim-card-id-missing"),
    (b'{"sim-card-id": null, "bytes-used": 1, "date": "2020-02-01T00:00:00Z"}', "sim-card-id-missing"),
    (b'{"sim-card-id": "", "bytes-used": 1, "date": "2020-02-01T00:00:00Z"}', "sim-card-id-invalid"),
    (b'{"sim-card-id": 89440001, "bytes-used": 1, "date": "2020-02-01T00:00:00Z"}', "sim-card-id-invalid"),
    (b'{"sim-card-id": "8944-0001", "bytes-used": 1, "date": "2020-02-01T00:00:00Z"}', "sim-card-id-invalid"),
    (b'{"sim-card-id": "123456789012345678901234567890123", "bytes-used": 1, "date": "2020-02-01T00:00:00Z"}',
     "sim-card-id-invalid"),
    ('{"sim-card-id": "\u0663", "bytes-used": 1, "date": "2020-02-01T00:00:00Z"}'.encode(), "sim-card-id-invalid"),
    (b'{"sim-card-id": "1", "date": "2020-02-01T00:00:00Z"}', "bytes-used-missing"),
    (b'{"sim-card-id": "1", "bytes-used": null, "date": "2020-02-01T00:00:00Z"}', "bytes-used-missing"),
    (b'{"sim-card-id": "1", "bytes-used": -1, "date": "2020-02-01T00:00:00Z"}', "bytes-used-out-of-range"),
    (b'{"sim-card-id": "1", "bytes-used": "-1", "date": "2020-02-01T00:00:00Z"}', "bytes-used-invalid"),
    (b'{"sim-card-id": "1", "bytes-used": 12.5, "date": "2020-02-01T00:00:00Z"}', "bytes-used-invalid"),
    (b'{"sim-card-id": "1", "bytes-used": 1024.0, "date": "2020-02-01T00:00:00Z"}', "bytes-used-invalid"),
    (b'{"sim-card-id": "1", "bytes-used": 1e3, "date": "2020-02-01T00:00:00Z"}', "bytes-used-invalid"),
    (b'{"sim-card-id": "1", "bytes-used": "1e3", "date": "2020-02-01T00:00:00Z"}', "bytes-used-invalid"),
    (b'{"sim-card-id": "1", "bytes-used": " 12", "date": "2020-02-01T00:00:00Z"}', "bytes-used-invalid"),
    (b'{"sim-card-id": "1", "bytes-used": "", "date": "2020-02-01T00:00:00Z"}', "bytes-used-invalid"),
    (b'{"sim-card-id": "1", "bytes-used": "+5", "date": "2020-02-01T00:00:00Z"}', "bytes-used-invalid"),
    (b'{"sim-card-id": "1", "bytes-used": true, "date": "2020-02-01T00:00:00Z"}', "bytes-used-invalid"),
    (b'{"sim-card-id": "1", "bytes-used": [1], "date": "2020-02-01T00:00:00Z"}', "bytes-used-invalid"),
    (b'{"sim-card-id": "1", "bytes-used": 1099511627777, "date": "2020-02-01T00:00:00Z"}', "bytes-used-out-of-range"),
    (b'{"sim-card-id": "1", "bytes-used": "99999999999999999999", "date": "2020-02-01T00:00:00Z"}',
     "bytes-used-out-of-range"),
    (b'{"sim-card-id": "1", "bytes-used": 1}', "date-missing"),
    (b'{"sim-card-id": "1", "bytes-used": 1, "date": 1580515200}', "date-invalid"),
    (b'{"sim-card-id": "1", "bytes-used": 1, "date": "2020-02-00T10:15:00Z"}', "date-invalid"),
    (b'{"sim-card-id": "1", "bytes-used": 1, "date": "2021-02-29T10:15:00Z"}', "date-invalid"),
    (b'{"sim-card-id": "1", "bytes-used": 1, "date": "2020-13-01T10:15:00Z"}', "date-invalid"),
    (b'{"sim-card-id": "1", "bytes-used": 1, "date": "2020-02-01T24:00:00Z"}', "date-invalid"),
    (b'{"sim-card-id": "1", "bytes-used": 1, "date": "2020-02-01T23:59:60Z"}', "date-invalid"),
    (b'{"sim-card-id": "1", "bytes-used": 1, "date": "2020-02-01T10:15:00+24:00"}', "date-invalid"),
    (b'{"sim-card-id": "1", "bytes-used": 1, "date": "2020-02-01 10:15:00 Z"}', "date-invalid"),
    (b'{"sim-card-id": "1", "bytes-used": 1, "date": "yesterday"}', "date-invalid"),
    (b'{"sim-card-id": "1", "bytes-used": 1, "date": "2020-02-01T10:15:00"}', "date-no-timezone"),
    (b'{"sim-card-id": "1", "bytes-used": 1, "date": "2020-02-01"}', "date-no-timezone"),
    (b'{"sim-card-id": "1", "bytes-used": 1, "date": "1969-12-31T23:59:59Z"}', "date-out-of-range"),
    (b'{"sim-card-id": "1", "bytes-used": 1, "date": "2200-01-01T00:00:00Z"}', "date-out-of-range"),
    # ambiguous: which card, which count would be billed depends on the JSON parser
    (b'{"sim-card-id": "1", "bytes-used": 1, "date": "2020-02-01T00:00:00Z", "sim-card-id": "2"}',
     "duplicate-field"),
    (b'{"sim-card-id": "1", "bytes-used": 1, "bytes-used": 1, "date": "2020-02-01T00:00:00Z"}',
     "duplicate-field"),
    # the same key, once escaped: equal once decoded
    (rb'{"sim-card-id": "1", "bytes-\u0075sed": 5, "bytes-used": 1, "date": "2020-02-01T00:00:00Z"}',
     "duplicate-field"),
    (b'{"sim-card-id": "1", "bytes-used": 1, "date": "2020-02-01T00:00:00Z", "x": {"a": 1, "a": 2}}',
     "duplicate-field"),
    (b'{"sim-card-id": "1", "bytes-used": 1, "date": "2020-02-01T00:00:00Z", "x": ' + b"[" * 64
     + b"]" * 64 + b"}", "too-deep"),
]


@pytest.mark.parametrize(("value", "reason"), INVALID)
def test_invalid_values_are_rejected_with_their_reason(value: bytes | None, reason: str) -> None:
    rejection = parse_event(value)
    assert isinstance(rejection, Rejection)
    assert rejection.reason == reason
    assert rejection.reason in REASONS and rejection.detail


def test_every_reason_is_exercised() -> None:
    # "unexpected" and "too-old" are the parser's: for an exception out of this definition, and
    # for events before the raw rows kept (test_chunk_parser)
    assert {reason for _, reason in INVALID} == set(REASONS) - {"unexpected", "too-old"}


def test_nesting_just_under_the_limit_is_allowed_in_ignored_fields() -> None:
    value = (b'{"sim-card-id": "1", "bytes-used": 1, "date": "2020-02-01T00:00:00Z", "x": '
             + b"[" * 63 + b"]" * 63 + b"}")
    assert isinstance(parse_event(value), Event)


def test_leading_zeros_in_bytes_used_are_read_by_value() -> None:
    def used(text: str):
        return parse_event(orjson.dumps({"sim-card-id": "1", "bytes-used": text,
                                         "date": "2020-02-01T00:00:00Z"}))
    assert used("00000000001025").bytes_used == 1025
    assert used("0" * 10_000 + "1099511627776").bytes_used == 2**40
    assert used("0" * 10_000).bytes_used == 0
    assert used("0" * 10_000 + "1099511627777").reason == "bytes-used-out-of-range"
    assert used("0" * 10_000 + "1" * 14).reason == "bytes-used-out-of-range"


HOSTILE_FIELDS = [
    "[" * 1000 + "]" * 1000,  # nested just under orjson's own limit
    '"' + "7" * 600_000 + '"',
    '"' + "x" * 600_000 + '"',
    '"' + "\\u0000" * 1000 + '"',
    "1" + "0" * 5000,
    "18446744073709551616",
    "-9223372036854775809",
    "{" + ", ".join(f'"k{i}": {{}}' for i in range(20_000)) + "}",
]


@pytest.mark.parametrize("field", ["sim-card-id", "bytes-used", "date"])
@pytest.mark.parametrize("hostile", HOSTILE_FIELDS, ids=range(len(HOSTILE_FIELDS)))
def test_any_field_gives_a_bounded_rejection(field: str, hostile: str) -> None:
    fields = {"sim-card-id": '"1"', "bytes-used": "1", "date": '"2020-02-01T00:00:00Z"'}
    fields[field] = hostile
    value = ("{" + ", ".join(f'"{name}": {text}' for name, text in fields.items()) + "}").encode()
    rejection = parse_event(value)
    assert isinstance(rejection, Rejection), rejection
    assert rejection.reason in REASONS
    assert 0 < len(rejection.detail) <= 200


def test_event_time_is_utc() -> None:
    event = parse_event(orjson.dumps(
        {"sim-card-id": "1", "bytes-used": 1, "date": "2020-02-01T10:15:00+02:00"}
    ))
    assert event.time == datetime(2020, 2, 1, 8, 15, tzinfo=UTC)
    assert event.time_us == int(datetime(2020, 2, 1, 8, 15, tzinfo=UTC).timestamp()) * 1_000_000
