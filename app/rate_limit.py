"""Token buckets per API key and per client address, and a warning log that cannot flood."""

from __future__ import annotations

import logging
import math
import time

from prometheus_client import Counter
from starlette.responses import JSONResponse

RATE_LIMITED = Counter(
    "simusage_api_rate_limited",
    "Requests refused with 429, by what was over its rate: an API key, or a client address "
    "sending keys that fail.",
    ["scope"],
)
for _scope in ("key", "address"):
    RATE_LIMITED.labels(_scope)

MAX_BUCKETS = 10_000


class TokenBuckets:
    """One bucket per name: `rate` tokens a second, up to twice as many saved for bursts.

    Per process, bounded: past MAX_BUCKETS names, the full buckets (idle names) are dropped,
    and if that is not enough, all of them (a flood of names then passes for a moment rather
    than growing memory).
    """

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.capacity = 2 * rate
        self._buckets: dict[str, tuple[float, float]] = {}  # name -> (tokens, as of when)

    def _tokens(self, name: str, now: float) -> float:
        tokens, then = self._buckets.get(name, (self.capacity, now))
        return min(self.capacity, tokens + (now - then) * self.rate)

    def wait(self, name: str, now: float | None = None) -> float:
        """Seconds until name has a token; 0 when it has one now."""
        now = time.monotonic() if now is None else now
        missing = 1.0 - self._tokens(name, now)
        return max(0.0, missing / self.rate)

    def take(self, name: str, now: float | None = None) -> float:
        """Spend one of name's tokens; else the seconds to wait (nothing is spent)."""
        now = time.monotonic() if now is None else now
        tokens = self._tokens(name, now)
        if tokens < 1.0:
            return (1.0 - tokens) / self.rate
        if name not in self._buckets and len(self._buckets) >= MAX_BUCKETS:
            self._forget_idle(now)
        self._buckets[name] = (tokens - 1.0, now)
        return 0.0

    def _forget_idle(self, now: float) -> None:
        idle = [name for name in self._buckets if self._tokens(name, now) >= self.capacity]
        for name in idle:
            del self._buckets[name]
        if len(self._buckets) >= MAX_BUCKETS:
            self._buckets.clear()


def too_many_requests(wait_seconds: float, scope: str) -> JSONResponse:
    """429 with Retry-After, in whole seconds as HTTP wants them."""
    RATE_LIMITED.labels(scope).inc()
    retry_after = max(1, math.ceil(wait_seconds))
    what = "this API key" if scope == "key" else "failed API keys from this address"
    body = {"errors": [{"message": f"too many requests for {what}: retry after {retry_after} s",
                        "extensions": {"code": "RATE_LIMITED"}}]}
    return JSONResponse(body, status_code=429, headers={"Retry-After": str(retry_after)})


class SampledWarning:
    """A warning logged at most once per interval; the lines left out are counted in the next."""

    def __init__(self, logger: logging.Logger, interval_seconds: float = 1.0) -> None:
        self.logger = logger
        self.interval = interval_seconds
        self._next = 0.0
        self._left_out = 0

    def warning(self, message: str, *arguments: object) -> None:
        """Log the message now, or count it if one was logged less than an interval ago."""
        now = time.monotonic()
        if now < self._next:
            self._left_out += 1
            return
        if self._left_out:
            message += " (and %d more like it not logged)"
            arguments = (*arguments, self._left_out)
        self.logger.warning(message, *arguments)
        self._next, self._left_out = now + self.interval, 0
