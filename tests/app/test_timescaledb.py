"""The same queries over TimescaleDB continuous aggregates (PGlite, one connection at a time)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.app import test_ownership_scoping as scoping
from tests.app.conftest import Runner
from tests.app.test_operator_questions import (
    ORGANIZATION_DAILY,
    ORGANIZATION_DAILY_ANSWER,
    SIM_CARD_HOURLY,
    SIM_CARD_HOURLY_ANSWER,
)
from tests.app.usage_data import (
    REFERENCE_INVENTORY,
    known_events,
    load,
    raw_sum,
    storage_mode,
)
from tests.conftest import settings_for

pytestmark = pytest.mark.timescaledb

PAGE = """
query Page($before: String) {
  organization(id: "a01b7") {
    usage(from: "2022-02-09T20:00Z", to: "2022-02-11T05:00Z", granularity: HOURLY, skipEmpty: %s,
          last: 7, before: $before) {
      totalCount totalBytesUsed
      pageInfo { hasPreviousPage startCursor }
      edges { node { start bytesUsed } }
    }
  }
}
"""


def test_timescaledb_answers_like_postgres(timescaledb_database: str) -> None:
    assert storage_mode(timescaledb_database) == "timescaledb"
    events = known_events()
    # Late events below the watermark after the first refresh: load() refreshes again.
    load(timescaledb_database, REFERENCE_INVENTORY, events[:3000])
    load(timescaledb_database, {}, events[3000:])
    start, end = datetime(2022, 2, 9, 20, tzinfo=UTC), datetime(2022, 2, 11, 5, tzinfo=UTC)
    truth = raw_sum(timescaledb_database, "organization_id", "a01b7", start, end)

    # PGlite serves one connection at a time: the test's own connections are closed by now.
    runner = Runner(settings_for(timescaledb_database), pool_size=1)
    try:
        assert runner.data(ORGANIZATION_DAILY) == ORGANIZATION_DAILY_ANSWER
        assert runner.data(SIM_CARD_HOURLY) == SIM_CARD_HOURLY_ANSWER
        for skip_empty in ("false", "true"):
            edges, before = [], None
            while True:  # backward, seven buckets a page
                usage = runner.data(PAGE % skip_empty, {"before": before})["organization"]["usage"]
                edges[:0] = usage["edges"]
                if not usage["pageInfo"]["hasPreviousPage"]:
                    break
                before = usage["pageInfo"]["startCursor"]
            assert usage["totalCount"] == len(edges) == 33
            assert [edge["node"]["start"] for edge in edges][:2] == [
                "2022-02-09T20:00:00Z", "2022-02-09T21:00:00Z"
            ]
            # Whole day 2022-02-10 from the daily aggregate, ragged hours from the hourly one.
            assert int(usage["totalBytesUsed"]) == truth[0]
            assert sum(int(edge["node"]["bytesUsed"]) for edge in edges) == truth[0]
        card = runner.data('{ simCard(id: "89440015") { organization { id } '
                           'usage(from: "2022-02-09", to: "2022-02-14", granularity: DAILY) '
                           '{ totalEventCount } } }')
        assert card == {"simCard": {"organization": None, "usage": {"totalEventCount": "450"}}}
    finally:
        runner.close()
    assert timedelta(hours=33) == end - start


def test_timescaledb_scopes_usage_by_ownership_over_time(timescaledb_database: str) -> None:
    # Per-card continuous aggregates carry the organization (NULL for none, 5003 before 06:00).
    load(timescaledb_database, scoping.INVENTORY, ownership=scoping.HISTORIES)
    load(timescaledb_database, events=scoping.EVENTS)
    runner = Runner(settings_for(timescaledb_database), pool_size=1)
    try:
        scoping.check_scoping(runner, page_size=25)
    finally:
        runner.close()
