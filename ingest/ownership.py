"""Who owned each SIM card when: the history as the worker attributes events by their time.

Pure logic, no I/O. A card's periods follow each other without gap: before the first one, and
after a closed last one, the card has no owner (its usage counts for the card only). Times are
microseconds since 1970 UTC, as in the batch columns.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass

from ingest.events import HOUR_US

# A period that starts here owns the card's whole past (no event is older).
BEGINNING_US = 0


@dataclass(frozen=True, slots=True)
class Period:
    """One organization's ownership of one card over [valid_from_us, valid_to_us)."""

    sim_card_id: str
    organization_id: str
    valid_from_us: int
    valid_to_us: int | None = None


class Owners:
    """The ownership history at one version; most cards have one period from the beginning."""

    def __init__(self, periods: Iterable[Period], version: int = 0) -> None:
        self.version = version
        # One open period from the beginning: the owner at any time (the fast path).
        self.constant: dict[str, str] = {}
        # Otherwise the starts of the card's spans and who owned each (None: nobody).
        self.changes: dict[str, tuple[list[int], list[str | None]]] = {}
        by_card: dict[str, list[Period]] = {}
        for period in periods:
            by_card.setdefault(period.sim_card_id, []).append(period)
        for sim, card_periods in by_card.items():
            card_periods.sort(key=lambda period: period.valid_from_us)
            first = card_periods[0]
            if len(card_periods) == 1 and first.valid_from_us <= BEGINNING_US and first.valid_to_us is None:
                self.constant[sim] = first.organization_id
                continue
            starts: list[int] = [BEGINNING_US]
            owners: list[str | None] = [None]
            for period in card_periods:
                if period.valid_from_us <= starts[-1]:
                    owners[-1] = period.organization_id  # follows on at once (or from the start)
                else:
                    starts.append(period.valid_from_us)
                    owners.append(period.organization_id)
                if period.valid_to_us is not None:
                    starts.append(period.valid_to_us)
                    owners.append(None)
            self.changes[sim] = (starts, owners)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Owners) and (self.constant, self.changes) == (other.constant, other.changes)

    def knows(self, sim: str) -> bool:
        """Whether the card has any ownership period."""
        return sim in self.constant or sim in self.changes

    def cards(self) -> set[str]:
        """Every card with a period."""
        return self.constant.keys() | self.changes.keys()

    def at(self, sim: str, time_us: int) -> str | None:
        """The card's owner at time_us (None: nobody)."""
        owner = self.constant.get(sim)
        if owner is not None:
            return owner
        changes = self.changes.get(sim)
        if changes is None:
            return None
        starts, owners = changes
        return owners[bisect_right(starts, time_us) - 1]

    def of_hour(self, sim: str, hour: int) -> tuple[str | None, bool]:
        """The card's owner at the start of the hour, and whether it owns the whole hour."""
        owner = self.constant.get(sim)
        if owner is not None or sim not in self.changes:
            return owner, True
        starts, owners = self.changes[sim]
        start_us = hour * HOUR_US
        position = bisect_right(starts, start_us)
        whole = position == len(starts) or starts[position] >= start_us + HOUR_US
        return owners[position - 1], whole


def change_periods(
    sim_card_id: str, current: list[Period], organization_id: str, effective_us: int | None
) -> list[Period] | str:
    """The card's periods after giving it to organization_id from effective_us on (None: from
    now for a card that has an owner, its whole past for a new card), or a sentence saying why
    not. current: its periods, oldest first (empty: a card new to the inventory)."""
    if not current:
        start = BEGINNING_US if effective_us is None else effective_us
        return [Period(sim_card_id, organization_id, start)]
    last = current[-1]
    if last.valid_to_us is None and last.organization_id == organization_id:
        return current  # already its owner: nothing changes
    if effective_us is None:
        raise ValueError("a card that has an owner changes hands at a given time")
    if effective_us <= last.valid_from_us:
        return (
            f"its period with {last.organization_id} starts at or after the effective time: "
            "periods would overlap"
        )
    if last.valid_to_us is not None and effective_us < last.valid_to_us:
        return f"its period with {last.organization_id} ends after the effective time"
    end = effective_us if last.valid_to_us is None else last.valid_to_us
    closed = Period(sim_card_id, last.organization_id, last.valid_from_us, end)
    return current[:-1] + [closed, Period(sim_card_id, organization_id, effective_us)]
