"""The chunk parser's fast path agreeing with the reference definition of an event."""

from __future__ import annotations

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.chunk_parser import FastParser, too_old
from ingest.events import Event, parse_event
from tests.ingest.helpers import sum_hourly
from tests.ingest.test_events import INVALID, VALID


def parse_chunk(values: list, parser: FastParser | None = None) -> tuple[list, list]:
    """(events sorted, rejections by index): a chunk with bad values may list its events out of
    order, which no total depends on."""
    times, sims, counts, rejected, hourly = [], [], [], [], {}
    (parser or FastParser()).parse(values, times, sims, counts, rejected, hourly)
    assert hourly == sum_hourly(times, sims, counts)
    return sorted(zip(times, sims, counts)), rejected


def reference_parse(values: list, earliest_us: int = 0) -> tuple[list, list]:
    events, rejected = [], []
    for index, value in enumerate(values):
        event = parse_event(value)
        if isinstance(event, Event) and event.time_us < earliest_us:
            rejected.append((index, too_old(event.time_us, earliest_us)))
        elif isinstance(event, Event):
            events.append((event.time_us, event.sim_card_id, event.bytes_used))
        else:
            rejected.append((index, event))
    return sorted(events), rejected


def test_fast_path_handles_a_chunk_of_reference_values() -> None:
    values = [v for v, *_ in VALID] + [v for v, _ in INVALID] + [v for v, *_ in VALID]
    assert parse_chunk(values) == reference_parse(values)
    canonical = [
        b'{"sim-card-id": "89440001", "bytes-used": 12, "date": "2020-02-01T10:15:00Z"}',
        b'{"sim-card-id": "89440002", "bytes-used": "34", "date": "2020-02-00T10:16:00Z"}',
        b'{"sim-card-id":"89440003","bytes-used":56,"date":"2020-02-01T10:17:00Z"}',
    ]
    events, rejected = parse_chunk(canonical)
    assert [(sim, count) for _, sim, count in events] == [("89440001", 12), ("89440003", 56)]
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
        assert parse_chunk(values, parser) == reference_parse(values)


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


# Hostile fields a producer could put anywhere in an otherwise canonical event.
hostile = st.one_of(
    st.integers(1, 1200).map(lambda depth: "[" * depth + "]" * depth),
    st.integers(0, 70).map(lambda depth: '{"a": ' * depth + "1" + "}" * depth),
    st.sampled_from(["9223372036854775807", "9223372036854775808", "18446744073709551616",
                     "-1", "1e308", "1e309", "0.0", '"\\u0000"', '"\\ud800"', '"\ufeff1"',
                     '"0000000000000000001025"', '"1099511627776"', '"01099511627777"']),
    st.text(max_size=30).map(lambda text: orjson.dumps(text).decode()),
    st.integers(1, 200_000).map(lambda size: '"' + "9" * size + '"'),
)
field_names = st.sampled_from(["sim-card-id", "bytes-used", "date", "extra"])


@st.composite
def hostile_event(draw) -> bytes:
    fields = {"sim-card-id": '"89440001"', "bytes-used": str(draw(st.integers(0, 2**40))),
              "date": '"2020-02-01T10:15:00Z"'}
    items = list(fields.items())
    for _ in range(draw(st.integers(0, 2))):
        name = draw(field_names)
        if draw(st.booleans()):
            items.append((name, draw(hostile)))  # a duplicate key, or an extra field
        else:
            items = [(key, draw(hostile) if key == name else text) for key, text in items]
    value = "{" + ", ".join(f'"{key}": {text}' for key, text in items) + "}"
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "latin-1"]))
    return value.encode(encoding, "replace")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(hostile_event(), near_canonical()), min_size=1, max_size=12))
def test_hostile_fields_never_escape_the_parser_and_agree(values: list) -> None:
    events, rejected = parse_chunk(values)
    assert (events, rejected) == reference_parse(values)
    assert len(events) + len(rejected) == len(values)
    assert all(len(why.detail) <= 200 for _, why in rejected)


def test_an_unexpected_error_in_one_record_rejects_only_that_record(monkeypatch) -> None:
    good = b'{"sim-card-id": "1", "bytes-used": 1, "date": "2020-02-01T00:00:00+01:00"}'
    poison = b'{"sim-card-id": "2", "bytes-used": 2, "date": "2020-02-01T00:00:00+01:00"}'

    def parse_or_fail(value):
        if value == poison:
            raise RecursionError("maximum recursion depth exceeded")
        return parse_event(value)

    monkeypatch.setattr("ingest.chunk_parser.parse_event", parse_or_fail)
    events, rejected = parse_chunk([good, poison, good])
    assert [sim for _, sim, _ in events] == ["1", "1"]
    assert [(index, why.reason) for index, why in rejected] == [(1, "unexpected")]
    assert "RecursionError" in rejected[0][1].detail


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(canonical_shaped(), near_canonical()), min_size=1, max_size=30),
       st.integers(0, 7_000_000_000_000_000))
def test_events_before_the_raw_rows_kept_are_too_old_and_agree(values: list, earliest_us: int) -> None:
    parser = FastParser()
    parser.earliest_us = earliest_us
    events, rejected = parse_chunk(values, parser)
    assert (events, rejected) == reference_parse(values, earliest_us)
    assert all(time_us >= earliest_us for time_us, _, _ in events)
