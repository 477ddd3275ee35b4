"""An hour-aligned interval as parts of the per-card aggregates, pure: months, days, hours.

Sums over [start, end) read whole UTC months from the monthly aggregate (one row a card), the
whole days around them from the daily one and the ragged hours from the hourly one. A month in
a customer's zone (Lisbon's April: 2024-03-31T23:00Z to 2024-04-30T23:00Z) holds no whole UTC
month; it is read as the UTC month plus the hours before it and less the hours after it, which
the hourly aggregate answers exactly: about one row a card instead of thirty.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from simusage.storage import DAY_SECONDS

Span = tuple[int, int]  # [lower, upper) in epoch seconds; empty when lower >= upper


def whole_days(start: int, end: int) -> Span:
    """The UTC days wholly inside [start, end), as [days_start, days_end); empty at end."""
    days_start = -(-start // DAY_SECONDS) * DAY_SECONDS
    days_end = end // DAY_SECONDS * DAY_SECONDS
    if days_start >= days_end:
        return end, end
    return days_start, days_end


def _month_start(instant: int, following: bool = False) -> int | None:
    """The start of the UTC month of instant (of the next month: following); None past 9999."""
    month = datetime.fromtimestamp(instant, UTC).replace(day=1, hour=0, minute=0, second=0)
    if following:
        try:
            month = (month + timedelta(days=31)).replace(day=1)
        except OverflowError:
            return None
    return int(month.timestamp())


def whole_months(start: int, end: int) -> Span:
    """The UTC months wholly inside [start, end) (UTC days), as a span; empty at end."""
    months_start = _month_start(start)
    if months_start != start:
        months_start = _month_start(start, following=True)
    months_end = _month_start(end)
    if months_start is None or months_start >= months_end:
        return end, end
    return months_start, months_end


def _month_start_near(instant: int) -> int | None:
    """The UTC month start less than a day from instant, if there is one."""
    before = _month_start(instant)
    if instant - before < DAY_SECONDS:
        return before
    after = _month_start(instant, following=True)
    return after if after is not None and after - instant < DAY_SECONDS else None


@dataclass(frozen=True)
class Parts:
    """What to add (months, days, hours) and subtract (trimmed hours) to sum [start, end)."""

    months: Span
    days: tuple[Span, Span]
    hours: tuple[Span, Span]
    trimmed: tuple[Span, Span]


def interval_parts(start: int, end: int) -> Parts:
    """The parts of [start, end) (whole hours) that read the fewest rows, exactly."""
    days_start, days_end = whole_days(start, end)
    months = whole_months(days_start, days_end)
    inner = Parts(
        months, ((days_start, months[0]), (months[1], days_end)),
        ((start, days_start), (days_end, end)), ((end, end), (end, end)),
    )
    first, last = _month_start_near(start), _month_start_near(end)
    if first is None or last is None or first >= last:
        return inner
    if months[0] < months[1] and (first, last) == months:
        return inner  # the same months, and nothing to subtract
    return Parts(
        (first, last), ((end, end), (end, end)),
        ((start, first), (last, end)), ((first, start), (end, last)),
    )
