"""Dead letters bounded whatever the record: details, renamed headers, truncation."""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.dead_letter_record import (
    MAX_DETAIL, ORIGINAL_LENGTH, ORIGINAL_SHA256, REASON, TRUNCATED, _size, dead_letter,
    detail_bytes,
)

OURS = [(REASON, b"not-json"), ("simusage-source-offset", b"7")]
LIMIT = 100_000


def test_a_record_that_fits_is_kept_byte_for_byte() -> None:
    key, value, headers = dead_letter(b"k", b"v" * 1000, list(OURS), [("trace", b"abc")], LIMIT)
    assert (key, value, headers) == (b"k", b"v" * 1000, [*OURS, ("trace", b"abc")])


def test_a_producer_cannot_shadow_the_workers_headers() -> None:
    _, _, headers = dead_letter(None, b"x", list(OURS), [(REASON, b"spoofed"), ("a", None)], LIMIT)
    assert [value for name, value in headers if name == REASON] == [b"not-json"]
    assert ("original-" + REASON, b"spoofed") in headers and ("a", None) in headers


def test_details_are_cut_on_a_character_boundary() -> None:
    assert len(detail_bytes("é" * 10_000)) <= MAX_DETAIL
    detail_bytes("é" * 10_000).decode()  # still UTF-8
    assert detail_bytes("short") == b"short"


def test_a_record_too_large_is_truncated_and_says_what_it_was() -> None:
    value = bytes(range(256)) * 4096  # 1 MiB
    key, cut, headers = dead_letter(b"key", value, list(OURS), [("h", b"1" * 50_000)], LIMIT)
    named = dict(headers)
    assert _size(key, cut, headers) <= LIMIT
    assert value.startswith(cut) and len(cut) > LIMIT - 2_000
    assert key == b"key" and "h" not in named
    assert named[ORIGINAL_LENGTH] == str(len(value)).encode()
    assert named[ORIGINAL_SHA256] == hashlib.sha256(value).hexdigest().encode()
    assert b"value:1048576->" in named[TRUNCATED] and b"headers:1" in named[TRUNCATED]
    assert headers[: len(OURS)] == OURS


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 3 * LIMIT), st.one_of(st.none(), st.integers(0, 2 * LIMIT)),
       st.lists(st.tuples(st.sampled_from(["a", "simusage-reason", "b"]), st.integers(0, LIMIT)),
                max_size=3))
def test_every_dead_letter_fits_its_limit(value_size: int, key_size: int | None, extra: list) -> None:
    value = b"v" * value_size
    key = None if key_size is None else b"k" * key_size
    originals = [(name, b"h" * size) for name, size in extra]
    new_key, new_value, headers = dead_letter(key, value, list(OURS), originals, LIMIT)
    assert _size(new_key, new_value, headers) <= LIMIT
    assert headers[: len(OURS)] == OURS
    assert value.startswith(new_value) and (key or b"").startswith(new_key or b"")
    if (new_key, new_value) != (key, value) or len(headers) != len(OURS) + len(originals):
        assert TRUNCATED in dict(headers)
