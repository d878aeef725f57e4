"""What the scheduler runs: poll live jobs and endpoints (with row leases, bounded concurrency) and
endpoint hygiene. Finished jobs cost nothing: only live rows are ever selected."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from bot.store.repo import SqlStore
from commands.errors import FtbotError, NotFound, Unavailable
from commands.lifecycle import Lifecycle
from commands.ports import Clock

log = logging.getLogger("ftbot.polling")


class Poller:
    def __init__(
        self,
        *,
        store: SqlStore,
        lifecycle: Lifecycle,
        clock: Clock,
        owner: str,
        poll_seconds: float,
        concurrency: int = 4,
        batch: int = 500,
    ) -> None:
        self.store = store
        self.lifecycle = lifecycle
        self.clock = clock
        self.owner = owner
        self.poll_seconds = poll_seconds
        self.concurrency = concurrency
        self.batch = batch
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="ftbot-poll")
        self.polls = 0

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def poll_jobs(self) -> int:
        """Claim the live jobs that are due (a lease of three intervals) and poll them."""
        now = self.clock.now()
        lease = timedelta(seconds=max(30.0, 3 * self.poll_seconds))
        with self.store.transaction() as tx:
            ids = tx.claim_due_jobs(
                self.owner, now, lease, now + timedelta(seconds=self.poll_seconds), self.batch
            )
        if ids:
            list(self._pool.map(self._poll_one, ids))
        return len(ids)

    def _poll_one(self, job_id: str) -> None:
        self.polls += 1
        try:
            self.lifecycle.poll(job_id)
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
            if not tx.acquire_lease(
                "endpoints", self.owner, now, timedelta(seconds=max(30.0, 3 * self.poll_seconds))
            ):
                return 0
            names = tx.endpoints_to_poll()
        for name in names:
            try:
                self.lifecycle.poll_endpoint(name)
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
        return self.lifecycle.sweep_endpoints()
