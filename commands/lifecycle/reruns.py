"""Reruns and comparisons: run a finished job again with changes (``/finetune rerun``, Rerun… on its card),
put two jobs side by side (``/finetune compare``), and pick the best epoch to deploy when a job overfits
(``best_checkpoint``).

A rerun reuses the data the first job was launched with, still on this machine (``sources``), so nothing
is downloaded again; it is launched like any submission (checked again, then started) and remembers the
job it reruns: its card links to the first card, and the first thread hears of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from commands.costs.recorder import JobCosts
from commands.errors import Conflict, InvalidInput
from commands.lifecycle.base import Deps, UseCase
from commands.lifecycle.jobs import Jobs
from commands.lifecycle.progress import final_metrics
from commands.lifecycle.sources import Sources, read_sources
from commands.lifecycle.values import Launched, SubmitRequest
from commands.models import Checkpoint, Hyperparameters, JobState, MetricPoint
from commands.ports import EvaluationFiguresReader
from commands.records import Actor, EvaluationFigures, JobRecord

FINISHED = frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED})


@dataclass(frozen=True)
class Overrides:
    """What ``/finetune rerun`` changes; ``None``: as the first job had it."""

    n_epochs: int | None = None
    batch_size: int | None = None
    learning_rate_multiplier: float | None = None
    suffix: str | None = None


@dataclass(frozen=True)
class RerunDraft:
    """A finished job and the data it was launched with, as the Rerun wizard is pre-filled with."""

    job: JobRecord
    sources: Sources


@dataclass(frozen=True)
class ComparedJob:
    """One side of a comparison: the job, its metrics by step and its final figures, its latest
    evaluation and what it cost (None: not evaluated; no cost known)."""

    job: JobRecord
    metrics: tuple[MetricPoint, ...] = ()
    final: dict[str, object] | None = None
    note: str | None = None  # why there are no metrics, when there are none
    evaluation: EvaluationFigures | None = None
    costs: JobCosts | None = None


class Reruns(UseCase):
    def __init__(self, deps: Deps, jobs: Jobs) -> None:
        super().__init__(deps)
        self.jobs = jobs

    def draft(self, job_id: str) -> RerunDraft:
        """The job to rerun and its data; ``Conflict`` while it has not finished."""
        with self.store.transaction() as tx:
            job = tx.get_job(job_id)
        if job.state not in FINISHED:
            raise Conflict(
                f"{{job}} is {job.state.value}: rerun it once it has succeeded, failed or been cancelled.",
                job=job_id,
            )
        return RerunDraft(job=job, sources=read_sources(self.work_dir / job_id))

    def request(self, draft: RerunDraft, overrides: Overrides = Overrides()) -> SubmitRequest:
        """The first job's submission with ``overrides``; ``InvalidInput`` when its data is gone."""
        job, sources = draft.job, draft.sources
        gone = "The {what} data of {job} is no longer on this machine; rerun it from the card (Rerun…) "
        gone += "and give the data again."
        if sources.training is None:
            raise InvalidInput(gone, field="data", what="training", job=job.id)
        if job.spec.validation is not None and sources.validation is None and sources.split is None:
            raise InvalidInput(gone, field="validation", what="validation", job=job.id)
        changes = {
            k: v
            for k, v in (
                ("n_epochs", overrides.n_epochs),
                ("batch_size", overrides.batch_size),
                ("learning_rate_multiplier", overrides.learning_rate_multiplier),
            )
            if v is not None
        }
        hp = Hyperparameters(**{**job.spec.hyperparameters.model_dump(), **changes})
        return SubmitRequest(
            model=job.spec.base_model,
            training=sources.training,
            validation=sources.validation,
            split=sources.split if sources.validation is None else None,
            hyperparameters=hp,
            suffix=overrides.suffix or job.spec.suffix,
            task=job.spec.task,
            method=job.spec.method,
            training_type=job.spec.training_type,
            rerun_of=job.id,
        )

    def launch(self, actor: Actor, job_id: str, overrides: Overrides = Overrides()) -> Launched:
        """``/finetune rerun JOB [...]``: the first job's choices with ``overrides``, launched at once."""
        draft = self.draft(job_id)
        return self.jobs.launch(
            actor, lambda: self.request(draft, overrides), what=f"/finetune rerun {job_id}"
        )

    def launch_request(self, actor: Actor, request: SubmitRequest) -> Launched:
        """Start a rerun the wizard reviewed (``request.rerun_of`` names the job it reruns)."""
        if request.rerun_of:
            self.draft(request.rerun_of)  # still there, and still finished
        return self.jobs.launch(actor, lambda: request, what=f"/finetune rerun {request.rerun_of}")

    # --- compare -------------------------------------------------------------------------------

    def compare(self, first: str, second: str) -> tuple[ComparedJob, ComparedJob]:
        """Two jobs side by side, each with its metrics as the backend reports them."""
        if first == second:
            raise InvalidInput("Name two different jobs to compare.", field="job")
        return self._compared(first), self._compared(second)

    def _compared(self, job_id: str) -> ComparedJob:
        with self.store.transaction() as tx:
            job = tx.get_job(job_id)
            endpoints = tx.endpoints_for_job(job_id)
            evaluation = tx.evaluation_figures(job_id) if isinstance(tx, EvaluationFiguresReader) else None
        # the endpoint the card shows: the live one, else the last one there was
        endpoint = next((e for e in endpoints if e.live), endpoints[-1] if endpoints else None)
        costs = self.costs.job_costs(job, endpoint, self.clock.now()) if self.costs is not None else None
        side = ComparedJob(job=job, evaluation=evaluation, costs=costs)
        if job.state is JobState.PENDING:
            return replace(side, note="not started yet")
        reported = self.backend.get_job(job_id)
        note = reported.metrics_note if not reported.metrics else None
        return replace(side, metrics=reported.metrics, final=final_metrics(reported), note=note or None)


def best_checkpoint(checkpoints: Sequence[Checkpoint]) -> Checkpoint | None:
    """The checkpoint with the lowest validation loss (the earliest of equals), or None when no
    checkpoint has one: what ``Deploy best checkpoint`` offers when a job overfits."""
    scored = [c for c in checkpoints if c.metrics.get("valid_loss") is not None]
    return min(scored, key=lambda c: (c.metrics["valid_loss"], c.number)) if scored else None
