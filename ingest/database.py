"""The worker's one database connection, used by one thread of its own.

Every database call of the worker goes through `Database.run` (a future) or `Database.call`
(wait for it): a single thread owns the connection, so calls are serialised (an embedded
server such as PGlite takes one connection at a time) and a batch is written while the main
thread already parses the next one: Python's work and the server's overlap.

A call is retried, reconnecting with backoff, while the database or the broker is down; it
gives up only when the worker is stopping (Stopped) or when told not to retry. An
OffsetConflict is never retried: it means another worker owns the partitions now.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import psycopg
from kafka.errors import KafkaError

from ingest import metrics
from ingest.writer import copy_works, prepare_connection, storage_mode
from simusage.settings import Settings

log = logging.getLogger("simusage.ingest")

BACKOFF_FIRST_S, BACKOFF_MAX_S = 0.2, 5.0
# What a retry can cure: the database or the broker away, a connection cut.
TRANSIENT = (psycopg.Error, KafkaError, OSError)


class Stopped(Exception):
    """The worker was asked to stop while waiting for something."""


class Database:
    """One connection, one thread, retries with backoff."""

    def __init__(self, settings: Settings, stop: threading.Event) -> None:
        self.settings = settings
        self.stop = stop
        self.connection: psycopg.Connection | None = None
        self.mode = ""
        self.use_copy = False
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="simusage-database")

    def _sleep(self, seconds: float) -> None:
        if self.stop.wait(seconds):
            raise Stopped

    def _connected(self) -> psycopg.Connection:
        connection = self.connection
        if connection is not None and not connection.closed and not connection.broken:
            return connection
        connection = psycopg.connect(self.settings.database_url, autocommit=True)
        try:
            mode = storage_mode(connection)
            method = self.settings.ingest_write_method
            use_copy = method == "copy" or (method == "auto" and copy_works(connection))
            prepare_connection(connection, mode if use_copy else "")
        except BaseException:
            connection.close()
            raise
        if (mode, use_copy) != (self.mode, self.use_copy):
            log.info("database: %s mode, rows written with %s", mode, "COPY" if use_copy else "INSERT")
        self.connection, self.mode, self.use_copy = connection, mode, use_copy
        return connection

    def _attempts(self, action: Callable[[psycopg.Connection], Any], retry: bool) -> Any:
        delay = BACKOFF_FIRST_S
        while True:
            try:
                return action(self._connected())
            except TRANSIENT as error:
                metrics.DATABASE_ERRORS.inc()
                if self.connection is not None and self.connection.broken:
                    self.connection.close()
                if not retry:
                    raise
                log.warning("%s: %s; retrying in %.1f s", type(error).__name__, error, delay)
                self._sleep(delay)
                delay = min(delay * 2, BACKOFF_MAX_S)

    def run(self, action: Callable[[psycopg.Connection], Any], *, retry: bool = True) -> Future:
        """Run action(connection) on the database thread; the future holds its result."""
        return self._executor.submit(self._attempts, action, retry)

    def call(self, action: Callable[[psycopg.Connection], Any], *, retry: bool = True) -> Any:
        """Run action(connection) on the database thread and wait for its result."""
        return self.run(action, retry=retry).result()

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
        if self.connection is not None:
            self.connection.close()
