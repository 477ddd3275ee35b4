"""The parts a ranking sums: exactly the interval's hours, each once, whichever plan is taken."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from app.interval_parts import interval_parts

HOUR, DAY = 3600, 86400
ORIGIN = int(datetime(2023, 11, 1, tzinfo=UTC).timestamp())


def _hours(span: tuple[int, int]) -> range:
    return range(span[0], max(span), HOUR)


def covered(start: int, end: int) -> Counter:
    """Each hour's count in the signed sum of the parts."""
    parts = interval_parts(start, end)
    counts: Counter = Counter()
    for span in (parts.months, *parts.days, *parts.hours):
        counts.update(_hours(span))
    for span in parts.trimmed:
        counts.subtract(_hours(span))
    return +counts  # zero counts dropped; a negative count would show as missing


def check(start: int, end: int) -> None:
    parts = interval_parts(start, end)
    assert covered(start, end) == Counter(range(start, end, HOUR))
    if parts.months[0] < parts.months[1]:
        for bound in parts.months:
            moment = datetime.fromtimestamp(bound, UTC)
            assert (moment.day, moment.hour) == (1, 0)
    for span in parts.days:
        assert span[0] >= span[1] or (span[0] % DAY, span[1] % DAY) == (0, 0)
    for span in (*parts.hours, *parts.trimmed):  # the ragged ends are read by the hour
        assert span[1] - span[0] <= DAY or parts.trimmed == ((end, end), (end, end))


@given(st.integers(0, 20_000), st.integers(1, 3_000))
def test_the_parts_sum_to_the_interval(start_hour: int, hours: int) -> None:
    start = ORIGIN + start_hour * HOUR
    check(start, start + hours * HOUR)


@given(st.sampled_from(["Europe/Lisbon", "America/Sao_Paulo", "Australia/Sydney", "Pacific/Kiritimati",
                        "America/New_York", "UTC"]),
       st.integers(2023 * 12, 2026 * 12), st.integers(1, 14))
def test_local_months_are_read_as_utc_months_and_trimmed_hours(zone_name: str, first: int,
                                                               months: int) -> None:
    zone = ZoneInfo(zone_name)
    start, end = (int(datetime(month // 12, month % 12 + 1, 1, tzinfo=zone).timestamp())
                  for month in (first, first + months))
    check(start, end)
    parts = interval_parts(start, end)
    # A local month of a zone within a day of UTC reads UTC months: no day is read.
    assert all(span[0] >= span[1] for span in parts.days)
    assert parts.months[0] < parts.months[1]
