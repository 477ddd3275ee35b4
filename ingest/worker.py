"""`simusage ingest`: the loop from the Kafka topic to the usage tables, exactly once.

Main thread: poll chunks -> parse them into a batch -> when the batch is full, old enough, or
all there is (and the database free), total and encode it, start producing its dead letters ->
hand it to the database thread -> go on parsing the next batch. Database thread: one transaction
(offsets compare-and-set, raw rows, cards seen, rollups or late ranges; then wait for the broker
to acknowledge the dead letters) -> commit. Back on the main thread, once that commit is known:
advisory Kafka commit, metrics, one log line; in TimescaleDB mode the late ranges are refreshed
in the aggregates soon after.

The database holds the truth about what has been consumed: on every assignment the partitions
are positioned at the offsets stored with the rows, and a batch whose offsets another worker
moved (this one lost the partitions) rolls back; the batches read after it are dropped too and
reading resumes from the stored offsets.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import signal
import sys
import threading
import time
from collections import Counter, deque

from ingest import metrics
from ingest.batch import Batch, DiscontinuousChunk
from ingest.chunk_parser import FastParser
from ingest.consumer import connect
from ingest.database import Database, Stopped
from ingest.dead_letters import DeadLetters
from ingest.encoding import BatchWrite, attributed_again, prepare
from ingest.inventory import load_owners
from ingest.ownership import Owners
from ingest.upkeep import Upkeep
from ingest.writer import OffsetConflict, lock_ownership_version, stored_offsets, write_batch
from simusage.settings import Settings

log = logging.getLogger("simusage.ingest")


class Worker:
    """One ingest worker: a group consumer, a database thread, a dead-letter producer."""

    def __init__(self, settings: Settings, stop: threading.Event | None = None) -> None:
        self.settings = settings
        self.stop = stop or threading.Event()
        self.parser = FastParser()
        self.batch: Batch | None = None
        self.chunks: deque = deque()  # polled, not yet in a batch
        self.queued = 0  # records in self.chunks
        self.chunk_records = 100.0  # records per chunk (Kafka record batch), on average
        self.in_flight: tuple[BatchWrite, object] | None = None
        self.generation = 0  # moves on when reading restarts from the stored offsets
        self.seen: set[str] = set()
        self.committed: dict[int, int] = {}  # partition -> next offset, as last committed
        self.expected: dict[int, int | None] = {}  # partition -> where the next chunk starts
        self.rows = self.rejected = self.batches = 0

    # ---- rebalance callbacks (they run inside poll) ------------------------------------------

    def _assigned(self, partitions) -> None:
        numbers = sorted(tp.partition for tp in partitions)
        topic = self.settings.topic
        try:
            offsets = self.db.call(lambda connection: stored_offsets(connection, topic, numbers))
        except Stopped:
            return
        for tp in partitions:
            self.consumer.seek(tp, offsets.get(tp.partition))
            self.expected[tp.partition] = offsets.get(tp.partition)
        log.info("assigned partitions %s at %s", numbers,
                 {p: offsets.get(p, "beginning") for p in numbers})

    def _revoked(self, partitions) -> None:
        self._settle()
        if self.batch is not None and len(self.batch):
            self._flush(retry=False)  # write what was read, if the database takes it now
            self._settle()
        self._drop()
        for tp in partitions:
            with contextlib.suppress(KeyError):
                metrics.LAG.remove(str(tp.partition))

    def _drop(self) -> None:
        self.batch = None
        self.chunks.clear()
        self.queued = 0
        self.generation += 1

    # ---- batches -----------------------------------------------------------------------------

    def _prepare(self, batch: Batch) -> BatchWrite:
        """Total and encode a batch; reload the history first if it names unknown cards."""
        cards = batch.cards()
        self.upkeep.know(cards)
        write = prepare(batch, cards, self.upkeep.encoder, self.seen, mode=self.db.mode,
                        use_copy=self.db.use_copy)
        write.dead_letters = self.dead_letters.send(batch.rejected)
        return write

    def _write(self, write: BatchWrite, connection) -> tuple[int, float, BatchWrite, Owners | None]:
        """On the database thread: the one transaction, committed only once the broker has
        the batch's dead letters; attributed again first if the ownership history changed
        since the batch was encoded (then also returns the new history)."""
        started = time.monotonic()
        owners = None
        with connection.transaction():
            if lock_ownership_version(connection) != write.owners.version:
                owners = load_owners(connection)
                write = attributed_again(write, owners, mode=self.db.mode, use_copy=self.db.use_copy)
                metrics.ATTRIBUTED_AGAIN.inc()
            late = write_batch(connection, self.settings.topic, write, mode=self.db.mode)
            self.dead_letters.confirm(write.dead_letters)
        return late, time.monotonic() - started, write, owners

    def _flush(self, retry: bool = True) -> None:
        """Send the current batch to the database thread (after the previous one committed)."""
        batch, self.batch = self.batch, None
        generation = self.generation
        write = self._prepare(batch)
        self._settle()
        if generation != self.generation:
            return  # the previous batch conflicted: this one starts from moved offsets
        self.in_flight = (write, self.db.run(lambda c: self._write(write, c), retry=retry))

    def _settle(self) -> None:
        """Wait for the batch in flight; account for it, or restart from the stored offsets."""
        if self.in_flight is None:
            return
        (write, future), self.in_flight = self.in_flight, None
        batch = write.batch
        try:
            late, elapsed, write, owners = future.result()
        except OffsetConflict as conflict:
            metrics.CONFLICTS.inc()
            log.warning("%s; re-reading from the stored offsets", conflict)
            self._drop()
            self._assigned(list(self.consumer.assignment()))
            return
        except Exception as error:  # noqa: BLE001 - stopping, or a single attempt that failed
            log.warning("a batch of %d records was not written (%s); it will be read again",
                        len(batch), error or type(error).__name__)
            self._drop()
            if not self.stop.is_set():
                self._assigned(list(self.consumer.assignment()))
            return
        if owners is not None:
            self.upkeep.install(owners)
        self.seen.update(write.new_sims)
        spans = {p: next_offset for p, _, next_offset in batch.partitions(self.settings.topic)}
        self.committed.update(spans)
        self.consumer.commit(spans)
        if late:
            self.upkeep.refresh_due = True
        rows, rejected = len(batch.times), len(batch.rejected)
        self.rows, self.rejected, self.batches = self.rows + rows, self.rejected + rejected, self.batches + 1
        unexpected = Counter(
            item.rejection.detail for item in batch.rejected if item.rejection.reason == "unexpected"
        )
        if unexpected:  # once a batch, without the payloads (they are in the dead letters)
            log.warning("%d records failed validation unexpectedly and were dead-lettered: %s",
                        sum(unexpected.values()), dict(unexpected))
        lags = self.consumer.lag(spans)
        metrics.batch_committed(batch, write.aggregates.unknown_card_events, elapsed, lags)
        log.info("batch: %d records, %d rows, %d rejected, lag %s, %.0f ms", len(batch), rows,
                 rejected, sum(lags.values()) if lags else "?", elapsed * 1000)

    # ---- the loop ----------------------------------------------------------------------------

    def _fill(self, size: int) -> None:
        """Move polled chunks into the batch until it holds size records."""
        while self.chunks and (self.batch is None or len(self.batch) < size):
            if self.batch is None:
                self.batch = Batch()
            try:
                chunk = self.chunks.popleft()
                self.queued -= len(chunk.values)
                self._skip_lost(chunk)
                self.batch.add(chunk, self.parser)
                self.expected[chunk.partition] = chunk.next_offset
            except DiscontinuousChunk as error:
                log.error("%s; re-reading from the stored offsets", error)
                self._settle()
                self._drop()
                self._assigned(list(self.consumer.assignment()))
            except BaseException:
                # Not one record's fault (the parser turns those into rejections): whatever
                # the batch holds of this chunk must never be written by a revoke or shutdown.
                self._drop()
                raise

    def _poll(self, timeout_ms: int, size: int) -> bool:
        """Poll little and often: rebalances happen inside poll, so a worker must not sit on a
        long queue of records read ahead. False if the broker could not be polled."""
        # About enough record batches to fill the batch, from their average size.
        wanted = max(1, min(64, round((size - self.queued) / self.chunk_records)))
        try:
            polled = self.consumer.poll(timeout_ms if not self.chunks else 0, wanted)
        except Exception as error:  # noqa: BLE001 - broker trouble: kafka-python reconnects
            log.warning("polling Kafka failed: %s", error)
            self.stop.wait(0.5)
            return False
        self.chunks.extend(polled)
        records = sum(len(chunk.values) for chunk in polled)
        self.queued += records
        if polled:
            self.chunk_records = 0.8 * self.chunk_records + 0.2 * records / len(polled)
        return True

    def _skip_lost(self, chunk) -> None:
        """Records the database expects but Kafka no longer has (deleted by retention while
        no worker ran) are lost: say so loudly and move the stored offset past them, rather
        than conflict on them forever."""
        expected = self.expected.get(chunk.partition)
        if expected is not None and chunk.start_offset > expected:
            log.error("partition %d: offsets %d to %d are no longer in Kafka (retention?): "
                      "skipped", chunk.partition, expected, chunk.start_offset - 1)
            metrics.LOST.inc(chunk.start_offset - expected)
            chunk.start_offset = expected

    def run(self) -> int:
        """Consume until asked to stop; return the process exit code."""
        self.dead_letters = DeadLetters(self.settings)
        self.dead_letters.start()
        self.db = Database(self.settings, self.stop)
        try:
            self.upkeep = Upkeep(self.settings, self.db)
            self.upkeep.reload()
            self.consumer = connect(self.settings, self._assigned, self._revoked, self.stop)
        except Stopped:
            self.db.close()
            self.dead_letters.close()
            return 0
        if self.consumer is None:  # stopped while waiting for a broker
            self.db.close()
            self.dead_letters.close()
            return 0
        log.info("consuming %s as group %s", self.settings.topic, self.settings.consumer_group)
        size, wait_s = self.settings.batch_size, self.settings.batch_wait_ms / 1000
        try:
            while not self.stop.is_set():
                self.upkeep.tick()
                self.parser.earliest_us = self.upkeep.earliest_us
                timeout_ms = 200
                if self.batch is not None:
                    left = self.batch.started + wait_s - time.monotonic()
                    timeout_ms = max(0, min(timeout_ms, int(left * 1000)))
                    if self.in_flight is not None:
                        timeout_ms = min(timeout_ms, 10)  # the database may be free any moment
                if self.queued < size and not self._poll(timeout_ms, size):
                    continue
                self._fill(size)
                if self.batch is not None and (
                    len(self.batch) >= size
                    or time.monotonic() - self.batch.started >= wait_s
                    # All there is has been read and the database is free: waiting would only
                    # delay these records. (While it is busy they wait and the batch grows, so
                    # a trickle of events does not become a transaction per poll.)
                    or (
                        not self.chunks
                        and (self.in_flight is None or self.in_flight[1].done())
                        and self.consumer.read_to_end(self.expected)
                    )
                ):
                    self._flush()
                elif self.in_flight is not None and self.in_flight[1].done():
                    self._settle()
            self._settle()
            if self.batch is not None and len(self.batch):
                self._flush(retry=False)
                self._settle()
        except Stopped:
            pass
        finally:
            self.stop.set()  # also after a crash: the database thread must not retry forever
            self.consumer.close()
            self.db.close()
            self.dead_letters.close()
        log.info("stopped: %d rows, %d rejected in %d batches", self.rows, self.rejected, self.batches)
        return 0


def run_worker(settings: Settings, stop: threading.Event | None = None) -> int:
    """Run an ingest worker until SIGTERM/SIGINT (or stop is set); 0 on a clean stop."""
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        # The database thread waits on the server with the GIL released and needs it back for
        # each of the ~30 round trips of a batch, while the main thread parses: at the default
        # 5 ms switch interval those hand-overs cost a quarter of the batch's write time.
        sys.setswitchinterval(0.0002)
        # The batches' columns and totals are millions of young objects that live a batch:
        # the default thresholds run a collection every 700 allocations.
        gc.freeze()
        gc.set_threshold(100_000, 50, 100)
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        metrics.serve(settings.ingest_metrics_port)
    return Worker(settings, stop).run()
