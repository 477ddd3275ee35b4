"""The worker's chores beside the batches, run on its database thread without blocking the loop:
the ownership history cache (reloaded periodically, and at once, rate-limited, when events name a card it
does not know) and, in TimescaleDB mode, the refresh of late ranges into the continuous
aggregates (soon after a batch queued some, and at start for what a previous run left)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

from ingest import metrics
from ingest.database import Database
from ingest.encoding import RowEncoder
from ingest.ownership import Owners
from ingest.inventory import load_owners
from ingest.aggregate_refresh import refresh_pending
from ingest.retention import announce_dropped_aggregates, earliest_accepted_us, prepare_days
from simusage.settings import Settings

log = logging.getLogger("simusage.ingest")
DAYS_INTERVAL_S = 600.0


class Upkeep:
    """Inventory cache and late-range refreshes for one worker."""

    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings, self.db = settings, db
        self.owners = Owners(())
        self.encoder = RowEncoder(self.owners)
        self.refresh_due = True  # leftovers of a previous run
        self.earliest_us = 0  # events before this are too old for the raw rows kept
        self._aggregate_starts: dict = {}  # TimescaleDB: where each aggregate's buckets begin
        self._days_prepared = -DAYS_INTERVAL_S  # PostgreSQL mode: at once, then every 10 min
        self.late_refreshes = 0
        self._loaded = self._refreshed = 0.0
        self._running: dict[str, object] = {}  # name -> future of a call on the database thread

    def _load(self, owners: Owners) -> None:
        self._loaded = time.monotonic()
        self.install(owners)

    def install(self, owners: Owners) -> None:
        """Encode from now on by this history (unless the one in use is newer)."""
        if owners.version < self.owners.version:
            return  # a reload that started before a newer history was installed
        if owners == self.owners:  # the same periods: keep the encoder and its caches
            self.owners = self.encoder.owners = owners
        else:
            self.owners, self.encoder = owners, RowEncoder(owners)

    def reload(self) -> None:
        """Reload the inventory and the retention horizon now (waiting for the database
        thread)."""
        self._load(self.db.call(load_owners))
        self._horizon(self.db.call(self._look_at_retention))

    def _look_at_retention(self, connection) -> int:
        """On the database thread: announce aggregate buckets a retention policy dropped, and
        return the earliest event time to store."""
        if self.db.mode == "timescaledb":
            announce_dropped_aggregates(connection, self._aggregate_starts)
        return earliest_accepted_us(connection, self.db.mode, self.settings.raw_retention)

    def _days(self, connection) -> int:
        return prepare_days(connection, self.settings.raw_retention)

    def _days_failed(self) -> None:
        self._days_prepared = time.monotonic()  # tried again at the next interval

    def _days_done(self, dropped: int) -> None:
        self._days_prepared = time.monotonic()
        if dropped:
            log.info("retention: %d day partitions of raw rows dropped", dropped)

    def _horizon(self, earliest_us: int) -> None:
        self.earliest_us = earliest_us

    def know(self, sims: Iterable[str]) -> None:
        """Before a batch is encoded: reload if it names unknown cards and the last load is
        older than SIMUSAGE_INVENTORY_MISS_RELOAD_S (cards missing for good are stored with no
        organization and counted; they must not cost a reload each batch)."""
        if not all(map(self.owners.knows, sims)) and (
            time.monotonic() - self._loaded >= self.settings.inventory_miss_reload_s
        ):
            self.reload()

    def _collect(self, name: str, apply, failed=None) -> bool:
        """Apply the result of a finished call; True if none is running now."""
        future = self._running.get(name)
        if future is None:
            return True
        if not future.done():
            return False
        del self._running[name]
        try:
            apply(future.result())
        except Exception as error:  # noqa: BLE001 - logged, tried again later
            log.warning("%s failed: %s", name, error)
            if failed:
                failed()
        return True

    def tick(self) -> None:
        """Start what is due, collect what finished; never waits."""
        now = time.monotonic()
        horizon_idle = self._collect("retention horizon", self._horizon)
        if self._collect("inventory reload", self._load) and (
            now - self._loaded >= self.settings.inventory_refresh_s
        ):
            self._running["inventory reload"] = self.db.run(load_owners)
            if horizon_idle:  # as often as the inventory: it moves slowly
                self._running["retention horizon"] = self.db.run(self._look_at_retention)
        if self.db.mode == "postgres":
            if self._collect("day partitions", self._days_done, self._days_failed) and (
                now - self._days_prepared >= DAYS_INTERVAL_S
            ):
                self._running["day partitions"] = self.db.run(self._days)
            return
        if self.db.mode != "timescaledb":
            return
        if self._collect("late refresh", self._refreshed_late, self._refresh_failed) and (
            self.refresh_due and now - self._refreshed >= self.settings.late_refresh_interval_ms / 1000
        ):
            self.refresh_due, self._refreshed = False, now
            self._running["late refresh"] = self.db.run(refresh_pending)

    def refreshing(self) -> bool:
        return "late refresh" in self._running

    def _refresh_failed(self) -> None:
        self.refresh_due = True

    def _refreshed_late(self, calls: int) -> None:
        self.late_refreshes += calls
        metrics.LATE_REFRESHES.inc(calls)
        if calls:
            log.info("late events: %d continuous-aggregate refreshes", calls)
