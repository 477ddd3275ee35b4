"""Token buckets: bursts, refill, bounded memory; the sampled warning."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from app import rate_limit
from app.rate_limit import TokenBuckets


def test_a_burst_of_twice_the_rate_then_one_a_period() -> None:
    buckets = TokenBuckets(rate=10)
    assert [buckets.take("k", now=0.0) for _ in range(20)] == [0.0] * 20
    assert buckets.take("k", now=0.0) == 0.1
    assert buckets.wait("k", now=0.05) == 0.05
    assert buckets.take("k", now=0.1) == 0.0 and buckets.take("k", now=0.1) > 0
    assert buckets.take("other", now=0.1) == 0.0


@given(st.lists(st.floats(0, 1000, allow_nan=False), min_size=1, max_size=300),
       st.floats(0.5, 50))
def test_never_more_than_the_burst_plus_the_rate_over_time(times: list[float], rate: float) -> None:
    buckets = TokenBuckets(rate)
    times.sort()
    allowed = sum(buckets.take("k", now) == 0.0 for now in times)
    assert allowed <= 2 * rate + rate * (times[-1] - times[0]) + 1e-9


def test_memory_is_bounded_by_the_number_of_names(monkeypatch) -> None:
    monkeypatch.setattr(rate_limit, "MAX_BUCKETS", 100)
    buckets = TokenBuckets(rate=1)
    for index in range(1000):
        buckets.take(f"name{index}", now=0.0)
    assert len(buckets._buckets) <= 100
