"""What a record value must be to count as usage, and the fast path agreeing with the reference."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.ingest.helpers import sum_hourly
from ingest.events import REASONS, Event, FastParser, Rejection, parse_event


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
]


@pytest.mark.parametrize(("value", "reason"), INVALID)
def test_invalid_values_are_rejected_with_their_reason(value: bytes | None, reason: str) -> None:
    rejection = parse_event(value)
    assert isinstance(rejection, Rejection)
    assert rejection.reason == reason
    assert rejection.reason in REASONS and rejection.detail


def test_every_reason_is_exercised() -> None:
    assert {reason for _, reason in INVALID} == set(REASONS)


def parse_chunk(values: list) -> tuple[list, list, list, list]:
    times, sims, counts, rejected, hourly = [], [], [], [], {}
    FastParser().parse(values, times, sims, counts, rejected, hourly)
    assert hourly == sum_hourly(times, sims, counts)
    return times, sims, counts, rejected


def reference_parse(values: list) -> tuple[list, list, list, list]:
    times, sims, counts, rejected = [], [], [], []
    for index, value in enumerate(values):
        event = parse_event(value)
        if isinstance(event, Event):
            times.append(event.time_us)
            sims.append(event.sim_card_id)
            counts.append(event.bytes_used)
        else:
            rejected.append((index, event))
    return times, sims, counts, rejected


def test_fast_path_handles_a_chunk_of_reference_values() -> None:
    values = [v for v, *_ in VALID] + [v for v, _ in INVALID] + [v for v, *_ in VALID]
    assert parse_chunk(values) == reference_parse(values)
    canonical = [
        b'{"sim-card-id": "89440001", "bytes-used": 12, "date": "2020-02-01T10:15:00Z"}',
        b'{"sim-card-id": "89440002", "bytes-used": "34", "date": "2020-02-00T10:16:00Z"}',
        b'{"sim-card-id":"89440003","bytes-used":56,"date":"2020-02-01T10:17:00Z"}',
    ]
    times, sims, counts, rejected = parse_chunk(canonical)
    assert (sims, counts) == (["89440001", "89440003"], [12, 56])
    assert [(index, why.reason) for index, why in rejected] == [(1, "date-invalid")]


# Values near the canonical shape, valid or not, to check that the fast path never disagrees
# with the reference definition.
digits = st.text("0123456789", min_size=0, max_size=34)
numbers = st.one_of(
    st.integers(-5, 2**41).map(str), digits, digits.map(lambda d: f'"{d}"'),
    st.sampled_from(["1.0", "true", "null", '"1e3"', '" 1"', "01", "-0", '"-1"']),
)
dates = st.builds(
    lambda y, mo, d, h, mi, s, z: f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}{z}",
    st.integers(1960, 2210), st.integers(0, 13), st.integers(0, 32), st.integers(0, 25),
    st.integers(0, 61), st.integers(0, 61), st.sampled_from(["Z", "", "+01:00", "z", " Z"]),
)
spaces = st.sampled_from(["", " ", "  "])


@st.composite
def near_canonical(draw) -> bytes:
    gap = draw(spaces)
    sim = draw(st.one_of(digits, st.just("89440001")))
    value = (
        f'{{"sim-card-id":{gap}"{sim}",{draw(spaces)}"bytes-used":{gap}{draw(numbers)},'
        f'{draw(spaces)}"date":{gap}"{draw(dates)}"}}'
    )
    if draw(st.booleans()):
        value += draw(st.sampled_from(["\n", " ", "x", ""]))
    return value.encode()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(near_canonical(), st.sampled_from([v for v, _ in INVALID])), max_size=30))
def test_fast_path_agrees_with_the_reference_definition(values: list) -> None:
    assert parse_chunk(values) == reference_parse(values)


@settings(max_examples=100, deadline=None)
@given(st.lists(near_canonical(), min_size=1, max_size=20))
def test_one_parser_keeps_agreeing_across_chunks(values: list) -> None:
    parser = FastParser()
    for _ in range(2):  # the second time from its caches
        times, sims, counts, rejected = [], [], [], []
        parser.parse(values, times, sims, counts, rejected)
        assert (times, sims, counts, rejected) == reference_parse(values)


def test_event_time_is_utc() -> None:
    event = parse_event(orjson.dumps(
        {"sim-card-id": "1", "bytes-used": 1, "date": "2020-02-01T10:15:00+02:00"}
    ))
    assert event.time == datetime(2020, 2, 1, 8, 15, tzinfo=UTC)
    assert event.time_us == int(datetime(2020, 2, 1, 8, 15, tzinfo=UTC).timestamp()) * 1_000_000


@st.composite
def canonical_shaped(draw) -> bytes:
    """Values in the shape the fast path takes, with contents valid or not (day 00, hour 24,
    2^40 + 1, a 13-digit string...)."""
    gap = draw(st.sampled_from(["", " "]))
    sim = draw(st.text("0123456789", min_size=1, max_size=32))
    number = draw(st.one_of(
        st.integers(0, 2**40 + 5).map(str),
        st.integers(0, 10**13 - 1).map(lambda n: f'"{n}"'),
        st.text("0123456789", min_size=1, max_size=13).map(lambda d: f'"{d}"'),
    ))
    date = draw(st.builds(
        lambda y, mo, d, h, mi, s: f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}Z",
        st.integers(1965, 2205), st.integers(0, 13), st.integers(0, 32), st.integers(0, 25),
        st.integers(0, 61), st.integers(0, 61),
    ))
    return (f'{{"sim-card-id":{gap}"{sim}",{gap}"bytes-used":{gap}{number},{gap}'
            f'"date":{gap}"{date}"}}').encode()


@settings(max_examples=300, deadline=None)
@given(st.lists(canonical_shaped(), min_size=1, max_size=40))
def test_fast_path_on_canonical_shapes_agrees_with_the_reference(values: list) -> None:
    assert parse_chunk(values) == reference_parse(values)
