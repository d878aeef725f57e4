"""What the scheduler runs: poll live jobs and endpoints (with row leases, bounded concurrency) and
endpoint hygiene.

- Finished jobs cost nothing: only live rows that are due are ever selected (an index on state and
  ``next_poll_at``), and each due job costs one backend ``get_job``.
- At most ``concurrency`` backend calls are in flight per replica.
- Jobs are claimed in small chunks, each with a fresh lease, so a long tick (a slow backend, many jobs)
  never outlives the leases of the jobs it has yet to poll. A replica keeps the leases it holds
  (renewed at each poll); when it dies they expire after one lease period and the others take over;
  when it stops cleanly it hands them back at once.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from commands.errors import FtbotError, NotFound, Unavailable
from commands.lifecycle import Lifecycle
from commands.ports import Clock, SchedulerStore

log = logging.getLogger("ftbot.polling")


class Poller:
    def __init__(
        self,
        *,
        store: SchedulerStore,
        lifecycle: Lifecycle,
        clock: Clock,
        owner: str,
        poll_seconds: float,
        concurrency: int = 4,
        batch: int = 5000,
        chunk: int = 64,
        lease_seconds: float | None = None,
        tick_seconds: float | None = None,
    ) -> None:
        self.store = store
        self.lifecycle = lifecycle
        self.clock = clock
        self.owner = owner
        self.poll_seconds = poll_seconds
        self.concurrency = concurrency
        self.batch = batch
        self.chunk = chunk
        # a lease outlives a few missed ticks and one slow poll; a dead replica's jobs wait this long
        self.lease = timedelta(seconds=lease_seconds or max(30.0, 3 * poll_seconds))
        self.tick_seconds = tick_seconds or min(poll_seconds, 5.0)
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="ftbot-poll")
        self._lock = threading.Lock()
        self.polls = 0

    def close(self) -> None:
        """Stop polling and hand this replica's leases to the others (a clean shutdown)."""
        self._pool.shutdown(wait=True, cancel_futures=True)
        try:
            with self.store.transaction() as tx:
                tx.release_leases(self.owner)
        except Exception:  # the store may be gone already; the leases then expire on their own
            log.warning("could not release this replica's leases; they expire in %s", self.lease)

    def poll_jobs(self) -> int:
        """Claim the live jobs that are due, a chunk at a time, and poll each once. Returns how many.

        Polls are spread evenly over the poll interval: a tick takes about its share (live jobs x tick /
        FTBOT_POLL_SECONDS, plus a margin) and paces its chunks across the tick, so 1,000 live jobs cost
        a steady trickle of backend and database work instead of a burst that starves the acks."""
        started = time.monotonic()
        budget = max(self.poll_seconds, 5.0)  # then let the next tick go on, with fresh leases
        tick = self.clock.now()  # due by the tick's start: a job polled in this tick is not due again
        with self.store.transaction() as tx:
            live = tx.live_job_count()
        share = min(
            self.batch, max(self.chunk, math.ceil(live * self.tick_seconds / self.poll_seconds * 1.25))
        )
        per_chunk = self.tick_seconds * 0.8 * self.chunk / share  # seconds each chunk may take
        total = 0
        while total < share:
            chunk_started = time.monotonic()
            size = min(self.chunk, share - total)
            next_poll = self.clock.now() + timedelta(seconds=self.poll_seconds)
            with self.store.transaction() as tx:
                ids = tx.claim_due_jobs(
                    self.owner, tick, self.lease, next_poll, size, pending_grace=self.lease
                )
            if ids:
                list(self._pool.map(self._poll_one, ids))
            total += len(ids)
            if len(ids) < size or time.monotonic() - started > budget:
                break
            time.sleep(max(0.0, per_chunk - (time.monotonic() - chunk_started)))
        return total

    def _poll_one(self, job_id: str) -> None:
        with self._lock:
            self.polls += 1
        try:
            self.lifecycle.jobs.poll(job_id)
        except Unavailable as e:
            log.warning("poll of %s: backend unavailable (%s); next tick retries", job_id, e.message)
        except NotFound:
            log.warning("poll of %s: the job is gone", job_id)
        except FtbotError as e:
            log.warning("poll of %s failed: %s", job_id, e.message)
        except Exception:
            log.exception("poll of %s failed unexpectedly", job_id)

    def poll_endpoints(self) -> int:
        now = self.clock.now()
        with self.store.transaction() as tx:
            if not tx.acquire_lease("endpoints", self.owner, now, self.lease):
                return 0
            names = tx.endpoints_to_poll()
        for name in names:
            try:
                self.lifecycle.endpoints.poll(name)
            except FtbotError as e:
                log.warning("poll of endpoint %s: %s", name, e.message)
            except Exception:
                log.exception("poll of endpoint %s failed unexpectedly", name)
        return len(names)

    def sweep(self) -> int:
        now = self.clock.now()
        with self.store.transaction() as tx:
            if not tx.acquire_lease("sweep", self.owner, now, timedelta(minutes=5)):
                return 0
        return self.lifecycle.endpoints.sweep()
