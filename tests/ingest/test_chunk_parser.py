"""The chunk parser's fast path agreeing with the reference definition of an event."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.chunk_parser import FastParser
from ingest.events import Event, parse_event
from tests.ingest.helpers import sum_hourly
from tests.ingest.test_events import INVALID, VALID


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
