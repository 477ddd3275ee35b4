"""DateTime and BigInt as the contract describes them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.scalars import parse_big_int, parse_date_time, serialize_big_int, serialize_date_time


@pytest.mark.parametrize(("text", "expected"), [
    ("2022-02-10", datetime(2022, 2, 10, tzinfo=UTC)),
    ("2022-02-10T00:00Z", datetime(2022, 2, 10, tzinfo=UTC)),
    ("2022-02-10T03:00:00Z", datetime(2022, 2, 10, 3, tzinfo=UTC)),
    ("2022-02-10t03:00:00z", datetime(2022, 2, 10, 3, tzinfo=UTC)),
    ("2022-02-10T03:00:00", datetime(2022, 2, 10, 3, tzinfo=UTC)),
    ("2022-02-10 03:00:00.5", datetime(2022, 2, 10, 3, 0, 0, 500000, tzinfo=UTC)),
    ("2022-02-10T05:30:00+02:30", datetime(2022, 2, 10, 3, tzinfo=UTC)),
    ("2022-02-09T22:00:00-05:00", datetime(2022, 2, 10, 3, tzinfo=UTC)),
])
def test_date_time_input(text: str, expected: datetime) -> None:
    parsed = parse_date_time(text)
    assert parsed == expected and parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize("value", [
    "2020-02-00T10:15:00Z",  # the reference producer's impossible day zero
    "2022-02-30", "2022-13-01", "2022-02-10T24:00:00Z", "2022-W06-4", "20220210",
    "2022-02-10T03", "yesterday", "", 1644462000, None, "2022-02-10T03:00:00+0200",
])
def test_date_time_input_refused(value: object) -> None:
    with pytest.raises(ValueError):
        parse_date_time(value)


def test_date_time_output_is_rfc_3339_with_the_offset_of_its_zone() -> None:
    assert serialize_date_time(datetime(2022, 2, 10, tzinfo=UTC)) == "2022-02-10T00:00:00Z"
    paris = timezone(timedelta(hours=1))
    assert serialize_date_time(datetime(2022, 2, 10, 1, tzinfo=paris)) == "2022-02-10T01:00:00+01:00"
    lisbon = ZoneInfo("Europe/Lisbon")  # a bucket of a series in a zone: its offset then
    assert serialize_date_time(datetime(2024, 3, 31, tzinfo=lisbon)) == "2024-03-31T00:00:00+00:00"
    assert serialize_date_time(datetime(2024, 4, 1, tzinfo=lisbon)) == "2024-04-01T00:00:00+01:00"
    with pytest.raises(ValueError):
        serialize_date_time(datetime(2022, 2, 10))


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2030, 1, 1),
                    timezones=st.sampled_from([UTC, ZoneInfo("Europe/Lisbon"),
                                               ZoneInfo("America/Sao_Paulo")])),
       st.sampled_from([UTC, ZoneInfo("Europe/Lisbon"), ZoneInfo("Asia/Kolkata")]))
def test_the_text_of_an_instant_is_its_zones_whatever_came_before(value: datetime, other) -> None:
    # Kept texts of UTC instants never answer for the same instant in another zone.
    serialize_date_time(value.astimezone(other))
    serialize_date_time(value)
    text = serialize_date_time(value.astimezone(other))
    expected = value.astimezone(other).isoformat()
    assert text == (expected[:-6] + "Z" if other is UTC else expected)


@given(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)))
def test_date_time_round_trips(value: datetime) -> None:
    assert parse_date_time(serialize_date_time(value)) == value


@pytest.mark.parametrize(("value", "expected"), [
    ("0", 0), ("9007199254740993", 2**53 + 1), (2**53 + 1, 2**53 + 1),
    ("9223372036854775807", 2**63 - 1), ("-5", -5), (42, 42),
])
def test_big_int_input(value: object, expected: int) -> None:
    assert parse_big_int(value) == expected


@pytest.mark.parametrize("value", [
    True, 1.5, 2.0, "1.5", "1e3", "", " 1", "0x10", "9223372036854775808", 2**63, None,
])
def test_big_int_input_refused(value: object) -> None:
    with pytest.raises(ValueError):
        parse_big_int(value)


def test_big_int_output_is_a_decimal_string() -> None:
    assert serialize_big_int(2**53 + 1) == "9007199254740993"
