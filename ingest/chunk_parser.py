"""Whole chunks of record values parsed at once: the worker's hot path, pure.

Values in the canonical shape the producers send are matched by one regular expression over
the joined chunk and never become dicts or datetimes; anything else goes through
``ingest.events.parse_event``, the reference definition. The property tests check that both
paths agree.
"""

from __future__ import annotations

import re
from datetime import timedelta
from operator import itemgetter

from simusage.storage import SIM_CARD_ID_PATTERN

from ingest.events import (
    EARLIEST, EARLIEST_US, HOUR_US, LATEST_US, MAX_BYTES_USED, MICROSECONDS_PER_SECOND, Event, Rejection,
    day_us_of, parse_event,
)


# The canonical shape, as the reference producer and `simusage produce` write it. Any value this
# matches is a JSON object with exactly these fields, so it needs no JSON parser; the date is
# checked through caches of days and times of day. Anything else goes to parse_event.
_CANONICAL = re.compile(
    rf'^\{{"sim-card-id": ?"({SIM_CARD_ID_PATTERN})", ?"bytes-used": ?(?:(0|[1-9][0-9]{{0,12}})|"([0-9]{{1,13}})"), ?'
    r'"date": ?"([0-9]{4}-[0-9]{2}-[0-9]{2})T([0-9]{2}:[0-9]{2}:[0-9]{2})Z"\}$',
    re.MULTILINE,
)
# One match a line: the canonical shape, or else the whole line with every group empty, so that
# one findall over a chunk yields exactly one row a value, in order, whatever the values hold.
_LINES = re.compile(f"(?:{_CANONICAL.pattern})|^.*$", re.MULTILINE)


def too_old(time_us: int, earliest_us: int) -> Rejection:
    """The rejection of an event older than the raw rows kept."""
    return Rejection("too-old", (
        f"{EARLIEST + timedelta(microseconds=time_us):%Y-%m-%dT%H:%M:%SZ} is before "
        f"{EARLIEST + timedelta(microseconds=earliest_us):%Y-%m-%dT%H:%MZ}: raw rows that old are "
        "dropped by retention (SIMUSAGE_RAW_RETENTION), their month could not be counted exactly"))


class FastParser:
    """Parses chunks of record values into columns; keeps caches of days and times of day."""

    def __init__(self) -> None:
        self._days: dict[str, int | None] = {}
        self._times_of_day: dict[str, int | None] = {}
        # Events before this (microseconds since 1970) are too old: their raw rows would fall
        # where retention drops them (set by the worker from the database's policy).
        self.earliest_us = EARLIEST_US

    def _day(self, text: str) -> int | None:
        if len(self._days) > 100_000:
            self._days.clear()
        day_us = day_us_of(int(text[0:4]), int(text[5:7]), int(text[8:10]))
        if day_us is not None and not EARLIEST_US <= day_us < LATEST_US:
            day_us = None
        self._days[text] = day_us
        return day_us

    def _time_of_day(self, text: str) -> int | None:
        hour, minute, second = int(text[0:2]), int(text[3:5]), int(text[6:8])
        seconds = None
        if len(self._times_of_day) > 100_000:
            self._times_of_day.clear()
        if hour <= 23 and minute <= 59 and second <= 59:
            seconds = ((hour * 60 + minute) * 60 + second) * MICROSECONDS_PER_SECOND
        self._times_of_day[text] = seconds
        return seconds

    def parse(
        self,
        values: list,
        times: list[int],
        sims: list[str],
        counts: list[int],
        rejected: list[tuple[int, Rejection]],
        hourly: dict | None = None,
    ) -> None:
        """Append the events of values to the columns; (index, Rejection) of the others, in index
        order; and
        add them into hourly, (sim, hour since 1970) -> [bytes, events], when given (summed
        here because this loop visits every event anyway). Never raises for any value."""
        if hourly is None:
            hourly = {}
        try:
            # latin-1 maps bytes to characters one to one and never fails; the pattern only
            # matches ASCII, so whatever it matches is also valid UTF-8.
            text = b"\n".join(values).decode("latin-1")
            lined = text.count("\n") == len(values) - 1
        except TypeError:  # a None value (a tombstone)
            lined = False
        if lined:
            self._add_rows(_LINES.findall(text), range(len(values)), values, times, sims, counts,
                           rejected, hourly)
            return
        # Values that are not one line each (tombstones, newlines inside) go one by one; the
        # others still take the pattern.
        indices: list[int] = []
        others: list[int] = []
        for index, value in enumerate(values):
            (indices if type(value) is bytes and b"\n" not in value else others).append(index)
        text = b"\n".join(values[i] for i in indices).decode("latin-1")
        found: list[tuple[int, Rejection]] = []
        if indices:
            self._add_rows(_LINES.findall(text), indices, values, times, sims, counts, found, hourly)
        self._parse_one_by_one(values, others, times, sims, counts, found, hourly)
        found.sort(key=itemgetter(0))
        rejected.extend(found)

    def _add_rows(self, rows, indices, values, times, sims, counts, rejected, hourly) -> None:
        days_get, times_of_day_get = self._days.get, self._times_of_day.get
        earliest_us = self.earliest_us
        add_time, add_sim, add_count = times.append, sims.append, counts.append
        hourly_get = hourly.get
        for (sim, json_int, string_int, day, time_of_day), index in zip(rows, indices):
            if not sim:  # the fallback alternative: not canonical, the reference path decides
                self._parse_one_by_one(values, (index,), times, sims, counts, rejected, hourly)
                continue
            day_us = days_get(day, -1)
            if day_us == -1:
                day_us = self._day(day)
            seconds = times_of_day_get(time_of_day)
            if seconds is None:
                seconds = self._time_of_day(time_of_day)
            count = int(json_int or string_int)
            if day_us is None or seconds is None or count > MAX_BYTES_USED:
                # Canonical in shape, wrong in content (day 00): the reference path says why.
                rejected.append((index, parse_event(values[index])))
                continue
            time_us = day_us + seconds
            if time_us < earliest_us:
                rejected.append((index, too_old(time_us, earliest_us)))
                continue
            add_time(time_us)
            add_sim(sim)
            add_count(count)
            slot = (sim, time_us // HOUR_US)
            total = hourly_get(slot)
            if total is None:
                hourly[slot] = [count, 1]
            else:
                total[0] += count
                total[1] += 1

    def _parse_one_by_one(self, values, indices, times, sims, counts, rejected, hourly) -> None:
        for index in indices:
            try:
                event = parse_event(values[index])
            except Exception as error:  # noqa: BLE001 - one record must not stop the worker
                event = Rejection("unexpected", f"{type(error).__name__} while parsing")
            if type(event) is Event and event.time_us < self.earliest_us:
                event = too_old(event.time_us, self.earliest_us)
            if type(event) is Event:
                times.append(event.time_us)
                sims.append(event.sim_card_id)
                counts.append(event.bytes_used)
                total = hourly.setdefault((event.sim_card_id, event.time_us // HOUR_US), [0, 0])
                total[0] += event.bytes_used
                total[1] += 1
            else:
                rejected.append((index, event))
