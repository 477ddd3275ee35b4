"""What one dead letter holds: the original record, the worker's headers, bounded, pure.

A dead letter is the original key and value byte for byte, after the worker's headers
(`simusage-reason`, `simusage-detail`, `simusage-source-*`) and then the original record's own
headers. An original header whose name starts with `simusage-` is renamed `original-<name>`, so
that no producer can shadow what the worker says about its record, whichever occurrence of a
name a reader takes.

Every dead letter fits `limit` bytes (the producer's and the dead-letter topic's limits, less
room for the record batch around it): a detail is cut to `MAX_DETAIL` bytes; a record too large
to fit whole loses first its original headers, then the tail of its value, then of its key, and
says so: `simusage-truncated` lists what was cut, with the original value's length and SHA-256.
"""

from __future__ import annotations

import hashlib

REASON = "simusage-reason"
DETAIL = "simusage-detail"
SOURCE_TOPIC = "simusage-source-topic"
SOURCE_PARTITION = "simusage-source-partition"
SOURCE_OFFSET = "simusage-source-offset"
TRUNCATED = "simusage-truncated"
ORIGINAL_LENGTH = "simusage-original-value-length"
ORIGINAL_SHA256 = "simusage-original-value-sha256"
OURS = "simusage-"
RENAMED = "original-"
MAX_DETAIL = 300
# Per-record framing in a v2 record batch (varints, attributes, deltas) and per header, at most.
RECORD_OVERHEAD = 64
HEADER_OVERHEAD = 10


def detail_bytes(detail: str) -> bytes:
    """The detail as UTF-8, cut to MAX_DETAIL bytes on a character boundary."""
    encoded = detail.encode("utf-8", "replace")
    if len(encoded) <= MAX_DETAIL:
        return encoded
    return encoded[: MAX_DETAIL - 3].decode("utf-8", "ignore").encode() + b"..."


def own_headers(headers: list) -> list[tuple[str, bytes | None]]:
    """The original record's headers, with names in the worker's namespace renamed."""
    return [(RENAMED + name if name.startswith(OURS) else name, value) for name, value in headers]


def _size(key: bytes | None, value: bytes | None, headers: list) -> int:
    return RECORD_OVERHEAD + len(key or b"") + len(value or b"") + sum(
        HEADER_OVERHEAD + len(name.encode()) + len(data or b"") for name, data in headers
    )


def dead_letter(
    key: bytes | None, value: bytes | None, worker_headers: list, original_headers: list,
    limit: int,
) -> tuple[bytes | None, bytes | None, list]:
    """(key, value, headers) of a dead letter at most limit bytes in a record batch."""
    originals = own_headers(original_headers)
    headers = worker_headers + originals
    if _size(key, value, headers) <= limit:
        return key, value, headers
    cut = []
    if originals:
        cut.append(f"headers:{len(originals)}")
        headers = list(worker_headers)
    marks = [(ORIGINAL_LENGTH, str(len(value or b"")).encode()),
             (ORIGINAL_SHA256, hashlib.sha256(value or b"").hexdigest().encode())]
    # Room for the truncation header itself, whatever it ends up saying.
    room = limit - _size(None, None, headers + marks + [(TRUNCATED, b"x" * 64)])
    if len(key or b"") + len(value or b"") > room:
        keep_value = max(0, min(len(value or b""), room - len(key or b"")))
        if value is not None and keep_value < len(value):
            cut.append(f"value:{len(value)}->{keep_value}")
            value = value[:keep_value]
        keep_key = max(0, room - len(value or b""))
        if key is not None and keep_key < len(key):
            cut.append(f"key:{len(key)}->{keep_key}")
            key = key[:keep_key]
    return key, value, headers + [(TRUNCATED, ",".join(cut).encode()), *marks]
