"""Golden answers: the two operator questions of challenge.md, on a known data set, over HTTP."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from tests.app.conftest import graphql
from tests.app.usage_data import REFERENCE_INVENTORY, known_events, load, raw_sum

# "The DAILY usage for ALL SIM cards in organization f00ff from 2022-02-10 to 2022-02-12":
# the operator's inclusive end is the API's exclusive 2022-02-13.
ORGANIZATION_DAILY = """
query OrganizationDaily {
  organization(id: "f00ff") {
    id
    usage(from: "2022-02-10", to: "2022-02-13", granularity: DAILY) {
      totalCount
      totalBytesUsed
      edges { node { start bytesUsed eventCount } }
    }
  }
}
"""

# "The HOURLY usage for SIM card 89440006 from 2022-02-10T00:00 to 2022-02-10T02:00":
# hours 00, 01 and 02, so [00:00, 03:00).
SIM_CARD_HOURLY = """
query SimCardHourly {
  simCard(id: "89440006") {
    id
    organization { id }
    usage(from: "2022-02-10T00:00Z", to: "2022-02-10T03:00Z", granularity: HOURLY) {
      totalCount
      totalBytesUsed
      edges { node { start bytesUsed eventCount } }
    }
  }
}
"""

ORGANIZATION_DAILY_ANSWER = {
    "organization": {
        "id": "f00ff",
        "usage": {
            "totalCount": 3,
            "totalBytesUsed": "2763883",
            "edges": [
                {"node": {"start": "2022-02-10T00:00:00Z", "bytesUsed": "915451", "eventCount": "450"}},
                {"node": {"start": "2022-02-11T00:00:00Z", "bytesUsed": "934951", "eventCount": "450"}},
                {"node": {"start": "2022-02-12T00:00:00Z", "bytesUsed": "913481", "eventCount": "450"}},
            ],
        },
    }
}

SIM_CARD_HOURLY_ANSWER = {
    "simCard": {
        "id": "89440006",
        "organization": {"id": "x00g8"},
        "usage": {
            "totalCount": 3,
            "totalBytesUsed": "28136",
            "edges": [
                {"node": {"start": "2022-02-10T00:00:00Z", "bytesUsed": "8764", "eventCount": "4"}},
                {"node": {"start": "2022-02-10T01:00:00Z", "bytesUsed": "12110", "eventCount": "4"}},
                {"node": {"start": "2022-02-10T02:00:00Z", "bytesUsed": "7262", "eventCount": "4"}},
            ],
        },
    }
}


@pytest.fixture
def known_client(client: TestClient, api_settings) -> TestClient:
    """The app over the known data set."""
    load(api_settings.database_url, REFERENCE_INVENTORY, known_events())
    return client


def test_daily_usage_of_an_organization(known_client: TestClient, api_settings) -> None:
    body = graphql(known_client, ORGANIZATION_DAILY)
    assert body == {"data": ORGANIZATION_DAILY_ANSWER}
    truth = raw_sum(api_settings.database_url, "organization_id", "f00ff",
                    datetime(2022, 2, 10, tzinfo=UTC), datetime(2022, 2, 13, tzinfo=UTC))
    assert truth == (2763883, 1350)


def test_hourly_usage_of_a_sim_card(known_client: TestClient, api_settings) -> None:
    body = graphql(known_client, SIM_CARD_HOURLY)
    assert body == {"data": SIM_CARD_HOURLY_ANSWER}
    truth = raw_sum(api_settings.database_url, "sim_card_id", "89440006",
                    datetime(2022, 2, 10, tzinfo=UTC), datetime(2022, 2, 10, 3, tzinfo=UTC))
    assert truth == (28136, 12)


def test_the_card_missing_from_the_inventory_is_known_by_its_usage(known_client: TestClient) -> None:
    body = graphql(known_client, """{
      simCard(id: "89440015") {
        id organization { id }
        usage(from: "2022-02-10", to: "2022-02-11", granularity: DAILY) { totalBytesUsed }
      }
      unknown: simCard(id: "89449999") { id }
    }""")
    card = body["data"]["simCard"]
    assert card["id"] == "89440015" and card["organization"] is None
    assert int(card["usage"]["totalBytesUsed"]) > 0
    assert body["data"]["unknown"] is None
