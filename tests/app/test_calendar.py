"""The customer's calendar: zones, local days and months, and the input they refuse."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from app.calendar import MAX_CALENDAR_BUCKETS, calendar_grid, in_zone, time_zone
from app.errors import UserInputError
from app.scalars import parse_date_time
from tests.app.conftest import error_codes, graphql
from tests.app.usage_data import load

LISBON = ZoneInfo("Europe/Lisbon")


def test_a_spring_day_is_23_hours_and_an_autumn_day_25() -> None:
    start = datetime(2024, 3, 30, tzinfo=LISBON)
    grid = calendar_grid("DAILY", LISBON, start, datetime(2024, 4, 1, tzinfo=LISBON))
    assert [b - a for a, b in zip(grid.boundaries, grid.boundaries[1:])] == [86400, 82800]
    autumn = calendar_grid("DAILY", LISBON, datetime(2024, 10, 27, tzinfo=LISBON),
                           datetime(2024, 10, 28, tzinfo=LISBON))
    assert autumn.boundaries[1] - autumn.boundaries[0] == 90000


def test_a_day_whose_midnight_the_clocks_skip_starts_after_the_gap() -> None:
    sao_paulo = ZoneInfo("America/Sao_Paulo")  # 2018-11-04 began at 01:00 -02:00
    day = in_zone(parse_date_time("2018-11-04"), sao_paulo)
    grid = calendar_grid("DAILY", sao_paulo, day, in_zone(parse_date_time("2018-11-05"), sao_paulo))
    assert datetime.fromtimestamp(grid.start, sao_paulo).isoformat() == "2018-11-04T01:00:00-02:00"
    assert grid.end - grid.start == 23 * 3600


def test_months_and_the_grid_interface() -> None:
    grid = calendar_grid("MONTHLY", LISBON, datetime(2024, 1, 1, tzinfo=LISBON),
                         datetime(2025, 1, 1, tzinfo=LISBON))
    assert grid.count == 12
    april = int(datetime(2024, 4, 1, tzinfo=LISBON).timestamp())
    assert grid.index_after(april) == 4 and grid.index_before(april) == 3
    assert grid.index_after(april + 1) == 4 and grid.index_before(april + 1) == 4
    assert list(grid.starts(april, grid.end))[0] == april and len(grid.starts(april, grid.end)) == 9


@pytest.mark.parametrize("name", [
    "Mars/Olympus", "europe/lisbon", "../../etc/passwd", "Europe/Lisbon\x00", "", "A" * 10_000,
    "Europe/../Europe/Lisbon", "/etc/localtime", "posixrules/x",
])
def test_names_that_are_not_iana_zones_are_refused(name: str) -> None:
    with pytest.raises(UserInputError, match="not an IANA time zone"):
        time_zone(name)


def test_the_grid_is_bounded() -> None:
    with pytest.raises(UserInputError, match=f"at most {MAX_CALENDAR_BUCKETS:,}"):
        calendar_grid("DAILY", LISBON, datetime(1990, 1, 1, tzinfo=LISBON),
                      datetime(2030, 1, 1, tzinfo=LISBON))
    with pytest.raises(UserInputError, match="years 1-9999"):
        calendar_grid("MONTHLY", ZoneInfo("America/New_York"), datetime(1, 1, 1, tzinfo=UTC),
                      datetime(2, 1, 1, tzinfo=UTC))


ORGANIZATION = """
query ($from: DateTime!, $to: DateTime!, $granularity: Granularity!, $zone: String!) {
  organization(id: "o1") {
    usage(from: $from, to: $to, granularity: $granularity, timeZone: $zone) {
      totalCount edges { node { start } }
    }
  }
}
"""


def _ask(client: TestClient, start: str, end: str, granularity: str, zone: str) -> dict:
    return graphql(client, ORGANIZATION, {"from": start, "to": end, "granularity": granularity,
                                          "zone": zone})


@pytest.fixture
def with_organization(client: TestClient, postgres_database: str) -> TestClient:
    load(postgres_database, {"7001": "o1"})
    return client


def test_lisbon_days_are_written_with_their_offset(with_organization: TestClient) -> None:
    body = _ask(with_organization, "2024-03-30", "2024-04-02", "DAILY", "Europe/Lisbon")
    starts = [edge["node"]["start"] for edge in body["data"]["organization"]["usage"]["edges"]]
    assert starts == ["2024-03-30T00:00:00+00:00", "2024-03-31T00:00:00+00:00",
                      "2024-04-01T00:00:00+01:00"]
    months = _ask(with_organization, "2024-03-01T00:00:00Z", "2024-05-01T00:00:00+01:00",
                  "MONTHLY", "Europe/Lisbon")
    assert [edge["node"]["start"] for edge in months["data"]["organization"]["usage"]["edges"]] == [
        "2024-03-01T00:00:00+00:00", "2024-04-01T00:00:00+01:00"]
    utc = _ask(with_organization, "2024-01-01", "2024-03-01", "MONTHLY", "UTC")
    assert [edge["node"]["start"] for edge in utc["data"]["organization"]["usage"]["edges"]] == [
        "2024-01-01T00:00:00Z", "2024-02-01T00:00:00Z"]


@pytest.mark.parametrize(("arguments", "message"), [
    (("2024-01-01", "2024-01-02", "DAILY", "Asia/Kolkata"), "offset \\+05:30 .* not a whole number of hours"),
    (("2024-01-01T00:00Z", "2024-01-01T05:00Z", "HOURLY", "Asia/Kathmandu"), "offset \\+05:45"),
    (("2024-01-01", "2024-01-02", "DAILY", "Australia/Adelaide"), "offset \\+10:30"),
    (("2024-01-01", "2024-01-02", "DAILY", "Europe/Atlantis"), "not an IANA time zone"),
    (("2024-04-01T00:00:00Z", "2024-04-03", "DAILY", "Europe/Lisbon"), "from must be local midnight"),
    (("2024-04-02", "2024-04-01", "DAILY", "Europe/Lisbon"), "from must be earlier than to"),
    (("2024-04-01", "2024-04-15", "MONTHLY", "Europe/Lisbon"), "to must be local midnight of the 1st"),
    (("2024-04-01T00:30Z", "2024-04-02", "HOURLY", "Europe/Lisbon"), "whole UTC hour"),
    (("1890-01-01", "1890-02-01", "MONTHLY", "Europe/Lisbon"), "offset -00:36"),
])
def test_bad_calendar_input_is_the_clients_error(
    with_organization: TestClient, arguments: tuple, message: str
) -> None:
    body = _ask(with_organization, *arguments)
    assert error_codes(body) == ["BAD_USER_INPUT"], body
    assert body["data"] == {"organization": None}
    assert re.search(message, body["errors"][0]["message"]), body["errors"][0]["message"]
