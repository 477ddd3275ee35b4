"""The change feed's messages: every change fits PostgreSQL's NOTIFY and reads back whole."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from simusage.change_feed import (
    EVERYTHING_PAYLOAD, MAX_PAYLOAD_BYTES, merged, parse_payload, range_payloads, subject_payloads,
)

ids = st.text(alphabet="0123456789abcdef\"\\é", min_size=1, max_size=40)
hours = st.sets(st.integers(0, 2_000_000), min_size=1, max_size=300)
subjects = st.dictionaries(ids, hours, max_size=60)


def _union(messages: list[str]) -> tuple[dict, dict, bool]:
    cards: dict[str, set[int]] = {}
    organizations: dict[str, set[int]] = {}
    new_cards = False
    for message in messages:
        change = parse_payload(message)
        assert not change.everything, message[:200]
        new_cards |= change.new_cards
        for target, source in ((cards, change.cards), (organizations, change.organizations)):
            for key, changed in source.items():
                target.setdefault(key, set()).update(changed)
    return cards, organizations, new_cards


@settings(max_examples=150, deadline=None)
@given(subjects, subjects, st.booleans())
def test_subject_messages_fit_and_read_back_whole(cards, organizations, new_cards) -> None:
    messages = subject_payloads(cards, organizations, new_cards)
    assert all(len(message.encode()) <= MAX_PAYLOAD_BYTES for message in messages)
    assert _union(messages) == (cards, organizations, new_cards and bool(messages))
    assert bool(messages) == bool(cards or organizations or new_cards)


def test_one_subject_with_more_hours_than_a_message_holds_is_split() -> None:
    many = set(range(1_000_000, 1_000_000 + 5_000))
    messages = subject_payloads({"89440001": many}, {}, False)
    assert len(messages) > 1
    assert _union(messages)[0] == {"89440001": many}


@given(st.lists(st.tuples(st.integers(0, 10**6), st.integers(1, 10**4)), max_size=1000))
def test_range_messages_fit_and_read_back(pairs) -> None:
    ranges = [(start, start + length) for start, length in pairs]
    messages = range_payloads(ranges)
    assert all(len(message) <= MAX_PAYLOAD_BYTES for message in messages)
    assert [pair for message in messages for pair in parse_payload(message).ranges] == ranges


@given(st.text(max_size=300) | st.binary(max_size=100).map(lambda raw: raw.decode("latin-1")))
def test_any_text_reads_as_a_change_without_raising(garbage) -> None:
    change = parse_payload(garbage)
    assert change.everything or garbage.lstrip().startswith("{")


def test_malformed_messages_mean_everything() -> None:
    for garbage in ('{"c": {"1": ["x"]}}', '{"c": []}', '{"r": [[1]]}', "[", "null", "1",
                    '{"o": {"a": [1.5]}}', "{" * 100_000, EVERYTHING_PAYLOAD):
        assert parse_payload(garbage).everything, garbage[:40]


@given(st.lists(st.tuples(subjects, subjects, st.booleans()), max_size=6))
def test_a_backlog_merged_says_all_its_changes_say(parts) -> None:
    changes = [parse_payload(message) for cards, organizations, new_cards in parts
               for message in subject_payloads(cards, organizations, new_cards)]
    union = merged(changes)
    for change in changes:
        for mine, theirs in ((union.cards, change.cards), (union.organizations, change.organizations)):
            assert all(hours <= mine[key] for key, hours in theirs.items())
        assert union.new_cards or not change.new_cards
    everything = merged([*changes, parse_payload(EVERYTHING_PAYLOAD)])
    assert everything.everything
