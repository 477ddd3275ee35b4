"""The change feed's messages, pure: what a committed write changed, as NOTIFY payloads.

The worker (and re-attribution, and inventory changes) publish on CHANNEL, inside the
transaction that makes the change visible, so that a listener hears of it only after the
commit, in commit order. A message is JSON of at most MAX_PAYLOAD_BYTES (PostgreSQL refuses
payloads from 8,000 bytes): a batch that changed more is split into several messages, each
complete in itself. Hours are counted from 1970-01-01 UTC.

    {"c": {card: [hour, ...]}, "o": {organization: [hour, ...]}, "n": 1}
        these cards' and organizations' hours changed; "n": the batch saw new cards
    {"r": [[start_hour, end_hour], ...]}   every subject's hours in these ranges changed
    {"a": 1}                                anything may have changed (ownership, inventory)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

CHANNEL = "simusage_usage"
MAX_PAYLOAD_BYTES = 7_900
# A message is one JSON object; the decoder never sees more than the channel carries.
_ENVELOPE_BYTES = 32

Hours = dict[str, set[int]]


@dataclass
class Change:
    """What one message says changed; `everything` supersedes the rest."""

    cards: dict[str, frozenset[int]] = field(default_factory=dict)
    organizations: dict[str, frozenset[int]] = field(default_factory=dict)
    ranges: list[tuple[int, int]] = field(default_factory=list)
    new_cards: bool = False
    everything: bool = False


EVERYTHING = Change(everything=True)


def _entry(key: str, hours: set[int]) -> str:
    return f"{json.dumps(key)}:{json.dumps(sorted(hours), separators=(',', ':'))}"


def _split_hours(key: str, hours: set[int]) -> list[str]:
    """One subject's entries, its hours split so that each entry fits in a message."""
    ordered, entries, chunk = sorted(hours), [], []
    for hour in ordered:
        chunk.append(hour)
        if len(_entry(key, set(chunk))) > MAX_PAYLOAD_BYTES - _ENVELOPE_BYTES - 100:
            entries.append(_entry(key, set(chunk)))
            chunk = []
    if chunk:
        entries.append(_entry(key, set(chunk)))
    return entries


def subject_payloads(cards: Hours, organizations: Hours, new_cards: bool) -> list[str]:
    """The messages of a write that changed these cards' and organizations' hours."""
    messages: list[str] = []
    parts: dict[str, list[str]] = {"c": [], "o": []}
    size = _ENVELOPE_BYTES

    def flush() -> None:
        nonlocal size
        if not parts["c"] and not parts["o"]:
            return
        body = [f'"{name}":{{{",".join(entries)}}}' for name, entries in parts.items() if entries]
        if new_cards:
            body.append('"n":1')
        messages.append("{" + ",".join(body) + "}")
        parts["c"], parts["o"], size = [], [], _ENVELOPE_BYTES

    for name, subjects in (("c", cards), ("o", organizations)):
        for key in sorted(subjects):
            if not subjects[key]:
                continue
            for entry in _split_hours(key, subjects[key]):
                if size + len(entry) + 1 > MAX_PAYLOAD_BYTES:
                    flush()
                parts[name].append(entry)
                size += len(entry) + 1
    flush()
    if not messages and new_cards:
        messages.append('{"n":1}')
    return messages


def range_payloads(ranges: list[tuple[int, int]]) -> list[str]:
    """The messages saying every subject's hours in these [start, end) ranges changed."""
    messages, chunk = [], []
    for start, end in ranges:
        chunk.append([start, end])
        if len(chunk) == 300:  # 300 pairs of hour numbers fit well within a message
            messages.append(json.dumps({"r": chunk}, separators=(",", ":")))
            chunk = []
    if chunk:
        messages.append(json.dumps({"r": chunk}, separators=(",", ":")))
    return messages


EVERYTHING_PAYLOAD = '{"a":1}'


def _hours(value: object) -> frozenset[int]:
    if not isinstance(value, list) or not all(type(hour) is int for hour in value):
        raise ValueError("hours must be a list of integers")
    return frozenset(value)


def parse_payload(payload: str) -> Change:
    """The change a message describes; anything malformed reads as 'everything changed', so
    that a listener never misses an update because of a message it cannot read."""
    try:
        if len(payload) > MAX_PAYLOAD_BYTES + 100:
            raise ValueError("too long")
        message = json.loads(payload)
        if not isinstance(message, dict) or message.get("a"):
            return EVERYTHING
        change = Change(new_cards=bool(message.get("n")))
        for name, target in (("c", change.cards), ("o", change.organizations)):
            subjects = message.get(name, {})
            if not isinstance(subjects, dict):
                raise ValueError(f"{name} must be an object")
            for key, hours in subjects.items():
                target[key] = _hours(hours)
        for pair in message.get("r", []):
            start, end = pair
            if type(start) is not int or type(end) is not int:
                raise ValueError("ranges are pairs of integers")
            change.ranges.append((start, end))
        return change
    except (ValueError, TypeError, RecursionError):
        return EVERYTHING


def merged(changes: list[Change]) -> Change:
    """One change saying all that the changes say (a backlog is delivered as one)."""
    if any(change.everything for change in changes):
        return EVERYTHING
    union = Change()
    for change in changes:
        union.new_cards |= change.new_cards
        union.ranges.extend(change.ranges)
        for target, source in ((union.cards, change.cards),
                               (union.organizations, change.organizations)):
            for key, hours in source.items():
                target[key] = target.get(key, frozenset()) | hours
    return union
