"""Training jobs on disk and their worker processes (standard library only: no torch here).

A job is a folder ``<data_dir>/jobs/<name>/`` (layout.py). ``submit`` writes ``spec.json`` and a
``queued`` status, then starts ``python -m bot.backends.local.trainer <job_dir>`` in its own process
group and records its pid. The worker reports through files, so a restarted bot reads the same state:
a job whose worker is alive is simply re-attached; a job whose worker is gone without a terminal status
is marked failed with a reason (or cancelled, when a cancel had been asked for) — never left running.
"""

from __future__ import annotations

import csv
import logging
import math
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bot.backends.local import files
from bot.backends.local.layout import TRAINER_MODULE, DataDir, JobDir, marker
from commands.errors import Conflict, NotFound
from commands.models import Job, JobEvent, JobState, MetricPoint

logger = logging.getLogger(__name__)

#: a job folder without a pid this long after creation lost its worker before it started
_SPAWN_GRACE_S = 30.0

_SERVICE_STATUS = {
    JobState.QUEUED: "Queued",
    JobState.RUNNING: "Running",
    JobState.SUCCEEDED: "Completed",
    JobState.FAILED: "Failed",
    JobState.CANCELLED: "Cancelled",
}


class LocalJobs:
    def __init__(self, data: DataDir) -> None:
        self.data = data
        self._lock = threading.RLock()

    # --- queries -----------------------------------------------------------------------------------

    def exists(self, name: str) -> bool:
        return self.data.job(name).spec.is_file()

    def names(self) -> list[str]:
        if not self.data.jobs.is_dir():
            return []
        return sorted(p.name for p in self.data.jobs.iterdir() if (p / "spec.json").is_file())

    def get(self, name: str) -> Job:
        job = self.data.job(name)
        if not job.spec.is_file():
            raise NotFound(f"No local fine-tuning job named {name}.")
        self.reconcile(job)
        return self._read(job)

    def reattach_all(self) -> None:
        """After a restart: look at every unfinished job once (alive → running on; dead → failed)."""
        for name in self.names():
            self.reconcile(self.data.job(name))

    # --- commands ----------------------------------------------------------------------------------

    def create(self, name: str, spec: Mapping[str, Any], *, threads: int) -> Job:
        """Write the job folder and start its worker. ``Conflict`` if the folder already exists."""
        job = self.data.job(name)
        with self._lock:
            self.data.jobs.mkdir(parents=True, exist_ok=True)
            try:
                job.path.mkdir()
            except FileExistsError as e:
                raise Conflict(f"A local job named {name} already exists.", existing=name) from e
            created = files.now().isoformat()
            files.atomic_write_json(
                job.status, {"state": "queued", "service_status": "Queued", "created_at": created}
            )
            files.append_jsonl(job.events, {"at": created, "kind": "queued", "message": "Job queued"})
            for line in spec.get("notes", ()):
                files.append_jsonl(job.events, {"at": created, "kind": "info", "message": line})
            files.atomic_write_json(job.spec, spec)
            try:
                proc = files.spawn(
                    ["-m", TRAINER_MODULE, str(job.path)],
                    log_path=job.log,
                    env={"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)},
                )
            except OSError as e:
                self._finish(job, JobState.FAILED, f"Could not start the training worker: {e.strerror or e}")
            else:
                files.atomic_write_text(job.pid, f"{proc.pid}\n")
                logger.info("local job %s: worker pid %d", name, proc.pid)
        return self._read(job)

    def cancel(self, name: str) -> Job:
        job = self.data.job(name)
        current = self.get(name)
        if current.state.terminal:
            return current
        files.atomic_write_text(job.cancel_requested, files.now().isoformat() + "\n")
        pid = self._pid(job)
        if pid is not None:
            files.stop_process_group(pid, marker(TRAINER_MODULE, job.path), grace=5.0)
        self.reconcile(job)
        return self._read(job)

    def stop_all(self) -> None:
        """Stop every live worker (tests and shutdown of a throwaway data dir)."""
        for name in self.names():
            job = self.data.job(name)
            pid = self._pid(job)
            if pid is not None and not self._status_state(job).terminal:
                files.atomic_write_text(job.cancel_requested, files.now().isoformat() + "\n")
                files.stop_process_group(pid, marker(TRAINER_MODULE, job.path), grace=3.0)
                self.reconcile(job)

    # --- reconciliation ----------------------------------------------------------------------------

    def reconcile(self, job: JobDir) -> None:
        """Make the status file tell the truth about a worker that is gone."""
        if self._status_state(job).terminal:
            return
        pid = self._pid(job)
        if pid is not None and files.process_alive(pid, marker(TRAINER_MODULE, job.path)):
            return
        with self._lock:
            status = files.read_json(job.status) or {}
            if _state(status).terminal:  # it finished between our two reads
                return
            if pid is None:
                created = files.parse_time(status.get("created_at"))
                if created is not None and (files.now() - created).total_seconds() < _SPAWN_GRACE_S:
                    return  # being created right now
            if job.cancel_requested.exists():
                self._finish(job, JobState.CANCELLED, None, message="Cancelled on request")
                return
            how = (files.exit_description(pid) if pid is not None else None) or "it is no longer running"
            reason = f"The training worker stopped unexpectedly ({how}) without reporting a result."
            last = files.tail(job.log, lines=1)
            if last:
                reason += f" Last output: {last[0][:300]}"
            self._finish(job, JobState.FAILED, reason)

    def _finish(self, job: JobDir, state: JobState, error: str | None, *, message: str | None = None) -> None:
        status = files.read_json(job.status) or {}
        status.update(
            state=state.value, service_status=_SERVICE_STATUS[state], finished_at=files.now().isoformat()
        )
        if error:
            status["error"] = error
        files.atomic_write_json(job.status, status)
        kind = "cancelled" if state is JobState.CANCELLED else "failed"
        files.append_jsonl(
            job.events, {"at": files.now().isoformat(), "kind": kind, "message": message or error or kind}
        )

    # --- reading -----------------------------------------------------------------------------------

    @staticmethod
    def _pid(job: JobDir) -> int | None:
        try:
            return int(job.pid.read_text().strip())
        except (OSError, ValueError):
            return None

    @staticmethod
    def _status_state(job: JobDir) -> JobState:
        return _state(files.read_json(job.status) or {})

    def _read(self, job: JobDir) -> Job:
        status = files.read_json(job.status) or {}
        spec = files.read_json(job.spec) or {}
        state = _state(status)
        events = tuple(
            JobEvent(at=at, kind=str(e.get("kind", "info")), message=str(e.get("message", "")))
            for e in files.read_jsonl(job.events)
            if (at := files.parse_time(e.get("at"))) is not None
        )
        metrics = read_results(job.results, steps_per_epoch=status.get("steps_per_epoch"))
        note = None
        if not metrics:
            note = (
                "Training metrics appear once the first steps have run."
                if not state.terminal
                else "No training metrics: the job ended before training started."
            )
        return Job(
            id=job.name,
            state=state,
            service_status=str(status.get("service_status") or state.value),
            base_model=spec.get("base_model"),
            created_at=files.parse_time(status.get("created_at")),
            finished_at=files.parse_time(status.get("finished_at")),
            error=status.get("error"),
            events=events,
            metrics=metrics,
            metrics_note=note,
            output_model=status.get("output_model") if state is JobState.SUCCEEDED else None,
            trained_tokens=status.get("trained_tokens"),
        )


def _state(status: Mapping[str, Any]) -> JobState:
    try:
        return JobState(status.get("state", "unknown"))
    except ValueError:
        return JobState.UNKNOWN


def _float(value: str | None) -> float | None:
    if value is None or value == "":
        return None
    try:
        out = float(value)
    except ValueError:
        return None
    return out if math.isfinite(out) else None


def read_results(path: Path, *, steps_per_epoch: object = None) -> tuple[MetricPoint, ...]:
    """The rows of results.csv as ``MetricPoint`` values (empty when the file is not there yet)."""
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    except OSError:
        return ()
    per_epoch = steps_per_epoch if isinstance(steps_per_epoch, int) and steps_per_epoch > 0 else None
    out: list[MetricPoint] = []
    for row in rows:
        try:
            step = int(row.get("step") or "")
        except ValueError:
            continue
        out.append(
            MetricPoint(
                step=step,
                epoch=math.ceil(step / per_epoch) if per_epoch else None,
                train_loss=_float(row.get("train_loss")),
                train_mean_token_accuracy=_float(row.get("train_mean_token_accuracy")),
                valid_loss=_float(row.get("valid_loss")),
                valid_mean_token_accuracy=_float(row.get("valid_mean_token_accuracy")),
            )
        )
    return tuple(out)
