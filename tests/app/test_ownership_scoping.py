"""Usage over a change of hands (issue 19): each key sees the usage of its own periods only.

Card 5001 is alpha's until T (12:30, mid-hour and mid-day), then beta's: the 12:00 hour and
the day are split between them. Card 5003 has no owner before 06:00, then alpha: that usage is
no organization's, and only an admin reads it. The expected series are computed in Python
from the events and the history, independently of the aggregates.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from app.series import STEPS
from app.viewer import ADMIN, Viewer
from tests.app.conftest import Runner, statements_of
from tests.app.usage_data import BEGINNING, load
from tests.conftest import settings_for

T = datetime(2022, 2, 10, 12, 30, tzinfo=UTC)
START = datetime(2022, 2, 9, tzinfo=UTC)
END = START + timedelta(days=3)
HISTORIES = {
    "5001": [(BEGINNING, "alpha"), (T, "beta")],
    "5003": [(datetime(2022, 2, 10, 6, tzinfo=UTC), "alpha")],
    "5009": [(BEGINNING, "omega"), (T, "gamma")],  # omega owns no card any more
}
INVENTORY = {"5002": "alpha", "6001": "gamma"}

ALPHA = Viewer(admin=False, organization_id="alpha")
BETA = Viewer(admin=False, organization_id="beta")
GAMMA = Viewer(admin=False, organization_id="gamma")  # owns another card, never these
OMEGA = Viewer(admin=False, organization_id="omega")
NOBODY = Viewer(admin=False, organization_id=None)


def scenario_events() -> list[tuple[datetime, str, int]]:
    """An event every 10 minutes on 5001 and 5003 for three days, some hours left empty."""
    events = []
    for i in range(3 * 24 * 6):
        time = START + timedelta(minutes=10 * i)
        if time.hour % 5 == 3:
            continue  # empty hours, for skipEmpty
        events.append((time, "5001", (i * 7919 + 13) % 4097 + 1))
        events.append((time, "5003", (i * 104729 + 7) % 4097 + 1))
    events += [(START + timedelta(hours=n), "5009", 10 + n) for n in range(0, 72, 5)]
    return events + [(START + timedelta(hours=n), "5002", 1000) for n in range(0, 72, 7)]


EVENTS = scenario_events()

SERIES = """
query Series($card: ID!, $granularity: Granularity!, $from: DateTime!, $to: DateTime!,
             $skipEmpty: Boolean!, $first: Int, $after: String, $last: Int, $before: String) {
  simCard(id: $card) {
    organization { id }
    usage(from: $from, to: $to, granularity: $granularity, skipEmpty: $skipEmpty,
          first: $first, after: $after, last: $last, before: $before) {
      totalCount totalBytesUsed totalEventCount
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      edges { cursor node { start bytesUsed eventCount } }
    }
  }
}
"""


def owner_at(card: str, time: datetime) -> str | None:
    """The card's owner at time, from the history (None: nobody)."""
    periods = HISTORIES.get(card) or [(BEGINNING, INVENTORY[card])]
    owner = None
    for valid_from, organization_id in periods:
        if valid_from <= time:
            owner = organization_id
    return owner


def expected(card: str, viewer: Viewer, granularity: str, start: datetime, end: datetime) -> list[dict]:
    """The dense series the viewer must get: every bucket, zeros included."""
    step = timedelta(seconds=STEPS[granularity])
    buckets: dict[datetime, list[int]] = defaultdict(lambda: [0, 0])
    for time, event_card, size in EVENTS:
        if event_card == card and start <= time < end and (
            viewer.admin or owner_at(card, time) == viewer.organization_id
        ):
            bucket = buckets[start + (time - start) // step * step]
            bucket[0] += size
            bucket[1] += 1
    grid = [start + i * step for i in range((end - start) // step)]
    return [
        {"start": moment.isoformat().replace("+00:00", "Z"),
         "bytesUsed": str(buckets[moment][0]), "eventCount": str(buckets[moment][1])}
        for moment in grid
    ]


def series(runner: Runner, viewer: Viewer, variables: dict) -> dict | None:
    return runner.data(SERIES, variables, viewer=viewer)["simCard"]


def walk(runner: Runner, viewer: Viewer, variables: dict, size: int, backward: bool) -> list[dict]:
    """Every edge of the series, page by page, forward (first/after) or backward (last/before)."""
    edges: list[dict] = []
    cursor = None
    for _ in range(200):
        if backward:
            page = series(runner, viewer, {**variables, "last": size, "before": cursor})["usage"]
            edges[:0] = page["edges"]
            more, cursor = page["pageInfo"]["hasPreviousPage"], page["pageInfo"]["startCursor"]
        else:
            page = series(runner, viewer, {**variables, "first": size, "after": cursor})["usage"]
            edges.extend(page["edges"])
            more, cursor = page["pageInfo"]["hasNextPage"], page["pageInfo"]["endCursor"]
        if not more:
            return edges
    raise AssertionError("pagination did not end")


def check_series(runner: Runner, card: str, viewer: Viewer, page_size: int) -> None:
    """Dense and skipEmpty, hourly and daily, whole and paged both ways, with totals."""
    for granularity in ("HOURLY", "DAILY"):
        truth = expected(card, viewer, granularity, START, END)
        for skip_empty in (False, True):
            variables = {"card": card, "granularity": granularity, "from": START.isoformat(),
                         "to": END.isoformat(), "skipEmpty": skip_empty}
            want = [bucket for bucket in truth if not skip_empty or bucket["eventCount"] != "0"]
            whole = series(runner, viewer, {**variables, "first": 1000})["usage"]
            assert [edge["node"] for edge in whole["edges"]] == want, (card, viewer, granularity)
            assert whole["totalCount"] == len(want)
            assert whole["totalBytesUsed"] == str(sum(int(bucket["bytesUsed"]) for bucket in want))
            assert whole["totalEventCount"] == str(sum(int(bucket["eventCount"]) for bucket in want))
            for backward in (False, True):
                assert walk(runner, viewer, variables, page_size, backward) == whole["edges"]


def check_ragged_totals(runner: Runner, card: str, viewer: Viewer) -> None:
    """Totals over ragged hours and a whole day between them (daily and hourly relations)."""
    start, end = START + timedelta(hours=5), END - timedelta(hours=17)
    variables = {"card": card, "granularity": "HOURLY", "from": start.isoformat(),
                 "to": end.isoformat(), "skipEmpty": True, "first": 0}
    usage = series(runner, viewer, variables)["usage"]
    truth = expected(card, viewer, "HOURLY", start, end)
    assert usage["totalBytesUsed"] == str(sum(int(bucket["bytesUsed"]) for bucket in truth))
    assert usage["totalEventCount"] == str(sum(int(bucket["eventCount"]) for bucket in truth))
    assert usage["totalCount"] == sum(1 for bucket in truth if bucket["eventCount"] != "0")


def check_scoping(runner: Runner, page_size: int) -> None:
    """Every check of this module over one loaded database."""
    for card, viewers in (("5001", (ALPHA, BETA, ADMIN)), ("5003", (ALPHA, ADMIN))):
        for viewer in viewers:
            check_series(runner, card, viewer, page_size)
            check_ragged_totals(runner, card, viewer)
    split_hour = {"card": "5001", "granularity": "HOURLY", "from": "2022-02-10T12:00Z",
                  "to": "2022-02-10T13:00Z", "skipEmpty": False}
    bytes_used = {viewer: int(series(runner, viewer, split_hour)["usage"]["edges"][0]["node"]["bytesUsed"])
                  for viewer in (ALPHA, BETA, ADMIN)}
    assert bytes_used[ALPHA] > 0 and bytes_used[BETA] > 0
    assert bytes_used[ALPHA] + bytes_used[BETA] == bytes_used[ADMIN]
    for viewer in (GAMMA, NOBODY):
        assert series(runner, viewer, split_hour) is None
    assert series(runner, BETA, {**split_hour, "card": "5003"}) is None


@pytest.fixture(scope="module")
def runner(module_database: str) -> Iterator[Runner]:
    load(module_database, INVENTORY, ownership=HISTORIES)
    load(module_database, events=EVENTS)
    schema_runner = Runner(settings_for(module_database))
    yield schema_runner
    schema_runner.close()


def test_each_key_sees_the_usage_of_its_own_periods(runner: Runner) -> None:
    check_scoping(runner, page_size=7)


def test_the_current_owner_is_shown_to_the_current_owner_and_an_admin_only(runner: Runner) -> None:
    query = '{ simCard(id: "5001") { id organization { id } } }'
    assert runner.data(query, viewer=ADMIN)["simCard"] == {"id": "5001", "organization": {"id": "beta"}}
    assert runner.data(query, viewer=BETA)["simCard"] == {"id": "5001", "organization": {"id": "beta"}}
    assert runner.data(query, viewer=ALPHA)["simCard"] == {"id": "5001", "organization": None}
    assert runner.data(query, viewer=GAMMA)["simCard"] is None


def test_card_lists_stay_the_current_inventory(runner: Runner) -> None:
    query = "{ simCards { edges { node { id } } } }"
    ids = [edge["node"]["id"] for edge in runner.data(query, viewer=ALPHA)["simCards"]["edges"]]
    assert ids == ["5002", "5003"]  # 5001 went to beta: no longer in alpha's list
    ids = [edge["node"]["id"] for edge in runner.data(query, viewer=BETA)["simCards"]["edges"]]
    assert ids == ["5001"]


def test_organizations_usage_follows_the_attribution(runner: Runner) -> None:
    query = ('{ organization(id: "%s") { usage(from: "2022-02-09", to: "2022-02-12", '
             "granularity: DAILY) { totalBytesUsed } } }")
    for organization_id in ("alpha", "beta"):
        want = sum(size for time, card, size in EVENTS
                   if card in ("5001", "5002", "5003") and owner_at(card, time) == organization_id)
        answer = runner.data(query % organization_id)["organization"]["usage"]["totalBytesUsed"]
        assert answer == str(want)


def test_a_keys_cards_share_their_scoped_statements(runner: Runner, monkeypatch: pytest.MonkeyPatch) -> None:
    usage = ('usage(from: "2022-02-09", to: "2022-02-12", granularity: HOURLY, skipEmpty: %s) '
             "{ totalCount totalBytesUsed pageInfo { hasNextPage } edges { node { bytesUsed } } }")
    query = "{ simCards(first: %d) { edges { node { dense: %s sparse: %s } } } }"
    runs = statements_of(runner, monkeypatch, [
        query % (cards, usage % "false", usage % "true") for cards in (1, 2)
    ], viewer=ALPHA)
    assert [len(data["simCards"]["edges"]) for data, _ in runs] == [1, 2]
    # The cards, then dense pages, sparse pages, counts, totals, every read in alpha's scope.
    for _, statements in runs:
        assert len(statements) == 5
        assert all("organization_id = " in statement for statement in statements[1:])


def test_a_former_owner_keeps_its_organization_and_history(runner: Runner) -> None:
    query = ('{ organizations { edges { node { id simCards { totalCount } usage(from: "2022-02-09", '
             'to: "2022-02-12", granularity: DAILY) { totalBytesUsed } } } } '
             'simCard(id: "5009") { organization { id } usage(from: "2022-02-09", to: "2022-02-12", '
             "granularity: DAILY) { totalBytesUsed } } }")
    data = runner.data(query, viewer=OMEGA)
    want = str(sum(size for time, card, size in EVENTS if card == "5009" and time < T))
    assert data["organizations"]["edges"] == [
        {"node": {"id": "omega", "simCards": {"totalCount": 0}, "usage": {"totalBytesUsed": want}}}
    ]
    assert data["simCard"] == {"organization": None, "usage": {"totalBytesUsed": want}}
    gamma = runner.data(query, viewer=GAMMA)["simCard"]["usage"]["totalBytesUsed"]
    assert gamma == str(sum(size for time, card, size in EVENTS if card == "5009" and time >= T))
