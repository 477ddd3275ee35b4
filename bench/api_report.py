"""The ratios and floors of bench/api.py (issues 4, 11 and 12), from the medians it measured."""

from __future__ import annotations

CACHED = "simusage 2w, response cache"


def report(baselines: dict[str, float], results: dict, statements: dict,
           cases: tuple[str, str]) -> int:
    """Print ratios and floors; 0 if every floor holds."""
    speedup = baselines["raw rows GROUP BY day"] / baselines["organization daily aggregate"]
    print(f"\naggregate SQL vs raw GROUP BY (b): {speedup:,.0f}x faster "
          f"(per-card daily rows summed: {baselines['per-card daily rows summed']:.1f} ms)")
    floors = [("aggregate SQL >= 1000x raw GROUP BY", speedup >= 1000)]
    for case in cases:
        def rate(name: str, clients: int) -> float:
            return results[name, case, clients].load.requests_per_second
        api, single = results["simusage 2w", case, 32], results["simusage 2w", case, 1]
        to_bare = rate("simusage 2w", 32) / rate("bare 2w", 32)
        print(f"{case}: simusage / PostGraphile req/s: 1 process each {rate('simusage 1w', 1) / rate('PostGraphile 1p', 1):.2f} "
              f"at 1 client, {rate('simusage 1w', 32) / rate('PostGraphile 1p', 32):.2f} at 32; 2 each "
              f"{rate('simusage 2w', 1) / rate('PostGraphile 2p', 1):.2f} at 1, "
              f"{rate('simusage 2w', 32) / rate('PostGraphile 2p', 32):.2f} at 32; GraphQL reaches "
              f"{to_bare:.0%} of the bare endpoint at 32 clients")
        floors += [
            (f"{case}: p50 < 1.5 ms at 1 client", single.load.p50_ms < 1.5),
            (f"{case}: p99 < 25 ms at 1 client", single.load.p99_ms < 25),
            (f"{case}: >= 700 req/s at 32 clients", api.load.requests_per_second >= 700),
            (f"{case}: server CPU <= 1.0 ms per request at 32 clients", api.cpu_ms <= 1.0),
            (f"{case}: >= 60% of the bare endpoint at 32 clients", to_bare >= 0.6),
            (f"{case}: >= 0.6 of PostGraphile at 32 clients, 2 processes each",
             rate("simusage 2w", 32) / rate("PostGraphile 2p", 32) >= 0.6),
            # Counted from the statistics, which other backends' rare transactions reach too:
            # 1.0x is one statement, 2.0x the look-up and the page apart.
            (f"{case}: one statement per request", statements["simusage 2w", case] < 1.5),
        ]
    floors += cache_floors(results, cases[1])
    for name, passed in floors:
        print(f"  {'PASS' if passed else 'FAIL'}  {name}")
    return 0 if all(passed for _, passed in floors) else 1




def cache_floors(results: dict, case: str) -> list[tuple[str, bool]]:
    """The repeated organization query answered from the response cache, against the same
    run's uncached figures and the bare endpoint."""
    cached, uncached, bare = (results[name, case, 32].load.requests_per_second
                              for name in (CACHED, "simusage 2w", "bare 2w"))
    print(f"{case}, repeated at 32 clients on 2 workers: cached {cached:,.0f} req/s, uncached "
          f"{uncached:,.0f} ({cached / uncached:.1f}x), bare endpoint {bare:,.0f} "
          f"({cached / bare:.2f} of it)")
    return [(f"{case}: cached >= 3,000 req/s at 32 clients", cached >= 3000),
            (f"{case}: cached >= the bare endpoint at 32 clients", cached >= bare)]
