"""What the worker and the API both know of the stored data: relations, keys, ids, bucket sizes.

The migrations keep their own literal names: a migration records what was done when it was
written, and must not change when these constants do. Only the statements live elsewhere (the
ingest writer, the API's query module, the migrations).
"""

from __future__ import annotations

import re

HOUR_SECONDS = 3600
DAY_SECONDS = 24 * HOUR_SECONDS

# A SIM card id is 1 to 32 decimal digits (the inventory's CHECK says the same).
SIM_CARD_ID_PATTERN = "[0-9]{1,32}"
SIM_CARD_ID = re.compile(SIM_CARD_ID_PATTERN)

SIM_CARD = "sim_card"
ORGANIZATION = "organization"
HOURLY = "HOURLY"
DAILY = "DAILY"

KEY_COLUMNS = {SIM_CARD: "sim_card_id", ORGANIZATION: "organization_id"}
# The read relations: continuous aggregates (TimescaleDB) or rollup tables (PostgreSQL).
RELATIONS = {
    (SIM_CARD, HOURLY): "usage_sim_card_hourly",
    (SIM_CARD, DAILY): "usage_sim_card_daily",
    (ORGANIZATION, HOURLY): "usage_organization_hourly",
    (ORGANIZATION, DAILY): "usage_organization_daily",
}
BUCKET_SECONDS = {HOURLY: HOUR_SECONDS, DAILY: DAY_SECONDS}
# Each card's UTC months, per organization: pre-summed for rankings over months (not a series
# relation, so not in RELATIONS). Same columns as the per-card relations above.
SIM_CARD_MONTHLY = "usage_sim_card_monthly"
