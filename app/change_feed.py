"""The API's half of the change feed: one LISTEN connection per process, fanned out in memory.

Each message (simusage/change_feed.py) goes to every listener (the response cache, the live
subscriptions) in the order PostgreSQL delivered it. While the connection is down nothing can
be known to be current: `live` is False (the cache serves nothing), and once it is back every
listener hears EVERYTHING, since the messages sent meanwhile are lost.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import psycopg

from app.metrics import CHANGE_FEED_MESSAGES, CHANGE_FEED_RECONNECTS
from app.database import Database
from app.queries.change_feed import current_lsn, listen, probe, replayed
from simusage.change_feed import EVERYTHING, Change, parse_payload

log = logging.getLogger("simusage.api")

Listener = Callable[[Change], Awaitable[None]]
Evictor = Callable[[Change], None]
# How long a quiet connection goes before a probe checks it is still there.
PROBE_SECONDS = 5.0
RETRY_SECONDS = (0.2, 0.5, 1.0, 2.0, 5.0)
REPLAY_POLL_SECONDS = 0.005


class ChangeFeed:
    """Listens on the change feed's channel and calls each listener with every change."""

    def __init__(self, database_url: str, replica: Database | None = None) -> None:
        self.database_url = database_url
        self.replica = replica  # the API reads from it: a change counts once it replayed it
        self.listeners: list[Listener] = []
        self.evictors: list[Evictor] = []
        self.live = False
        self.messages = 0  # changes received: a cached answer records the count it saw
        self.settling = False  # a change received, the replica not there yet: store nothing
        self._task: asyncio.Task | None = None

    def add_listener(self, listener: Listener) -> None:
        """Call listener(change) for each change, in order."""
        self.listeners.append(listener)

    def add_evictor(self, evictor: Evictor) -> None:
        """Call evictor(change) for each change before anything else, without yielding to
        the event loop: no request can read what a change received has made stale."""
        self.evictors.append(evictor)

    async def start(self) -> None:
        """Start listening in the background (the API starts even while the database is down)."""
        self._task = asyncio.create_task(self._run(), name="simusage-change-feed")

    async def stop(self) -> None:
        """Stop listening."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self.live = False

    def _evict(self, change: Change) -> None:
        for evictor in self.evictors:
            try:
                evictor(change)
            except Exception:  # noqa: BLE001 - logged; the feed must go on
                log.exception("a change-feed evictor failed")

    async def _dispatch(self, change: Change) -> None:
        self._evict(change)
        self.messages += 1
        CHANGE_FEED_MESSAGES.inc()
        for listener in self.listeners:
            try:
                await listener(change)
            except Exception:  # one listener's failure must not silence the others
                log.exception("a change-feed listener failed")

    async def _run(self) -> None:
        failures = 0
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self.database_url, autocommit=True, connect_timeout=5,
                    application_name="simusage-api-change-feed",
                ) as connection:
                    await listen(connection)
                    self.live, failures = True, 0
                    log.info("change feed: listening")
                    # Whatever was sent while nobody listened is lost: everything may differ.
                    await self._deliver(connection, [EVERYTHING])
                    await self._receive(connection)
            except asyncio.CancelledError:
                raise
            except (psycopg.Error, OSError) as error:
                was_live = self.live
                self.live = False
                if was_live:
                    CHANGE_FEED_RECONNECTS.inc()
                    log.warning("change feed lost (%s): reconnecting; nothing is cached meanwhile",
                                error)
                await asyncio.sleep(RETRY_SECONDS[min(failures, len(RETRY_SECONDS) - 1)])
                failures += 1

    async def _receive(self, connection: psycopg.AsyncConnection) -> None:
        while True:
            # stop_after: back out of the generator to ask the connection where the WAL is
            # (what arrives meanwhile waits in psycopg's backlog, in order).
            changes = [parse_payload(notify.payload) async for notify in
                       connection.notifies(timeout=PROBE_SECONDS, stop_after=1)]
            if changes:
                await self._deliver(connection, changes)
            else:
                await probe(connection)

    async def _deliver(self, connection: psycopg.AsyncConnection, changes: list[Change]) -> None:
        """Dispatch the changes; with a read replica, once it has replayed their commits: until
        then what they touched is evicted and nothing new is cached."""
        if self.replica is not None:
            for change in changes:
                self._evict(change)
            self.settling = True
            self.messages += 1
            lsn = await current_lsn(connection)
            try:
                while not await replayed(self.replica, lsn):
                    await asyncio.sleep(REPLAY_POLL_SECONDS)
            finally:
                self.settling = False
        for change in changes:
            await self._dispatch(change)
