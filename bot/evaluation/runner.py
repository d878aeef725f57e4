"""Evaluations off the ack path: ``start`` records one (fast, on the listener's worker thread) and hands it
to a daemon thread of this process; ``resume`` (a scheduled job) takes over the ones whose process died,
so an evaluation is resumed after a restart from the answers already stored, never silently lost."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from commands.errors import FtbotError
from commands.evaluation.records import EvaluationRecord
from commands.evaluation.service import STALE_AFTER, Evaluations
from commands.records import Actor

log = logging.getLogger("ftbot.evaluation")


class EvaluationRunner:
    def __init__(self, evaluations: Evaluations) -> None:
        self.evaluations = evaluations
        self._threads: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()

    def start(
        self,
        actor: Actor,
        job_id: str,
        *,
        examples: int | None = None,
        endpoint: str | None = None,
        checkpoint: int | None = None,
    ) -> EvaluationRecord:
        record = self.evaluations.start(
            actor, job_id, examples=examples, endpoint=endpoint, checkpoint=checkpoint
        )
        self._spawn(record.id)
        return record

    def _spawn(self, evaluation_id: str) -> None:
        thread = threading.Thread(
            target=self._run, args=(evaluation_id,), name=f"evaluation-{evaluation_id[-6:]}", daemon=True
        )
        with self._lock:  # registered only once started, so wait() never joins an unstarted thread
            thread.start()
            self._threads[evaluation_id] = thread

    def _run(self, evaluation_id: str) -> None:
        try:
            self.evaluations.run(evaluation_id)
        except FtbotError as e:
            log.warning("evaluation %s stopped: %s", evaluation_id, e.message)
        except Exception:  # the scheduler's resume takes it over once it is stale
            log.exception("evaluation %s failed unexpectedly", evaluation_id)
        finally:
            with self._lock:
                self._threads.pop(evaluation_id, None)

    def resume(self, stale_after: timedelta = STALE_AFTER) -> list[str]:
        """Scheduled: finish the evaluations left RUNNING by a process that stopped writing."""
        with self._lock:
            mine = set(self._threads)
        claimed = self.evaluations.resume_stale(stale_after=stale_after, skip=mine)
        return claimed

    def wait(self, timeout: float = 30.0) -> None:
        """Join the evaluations of this process (tests, a clean shutdown)."""
        with self._lock:
            threads = list(self._threads.values())
        for thread in threads:
            thread.join(timeout)
