"""Evaluate: ask the fine-tuned model and its base model the job's held-out examples, score both, and
tell the thread. ``start`` is quick (checks, the stored row); ``run`` does the asking, off the ack path,
and can be resumed by another process from the answers already stored."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import cast

from commands.errors import Conflict, FtbotError, InvalidInput, NotFound
from commands.evaluation.costs import cost_lines, judge_tally
from commands.evaluation.examples import Example, check_count, load_examples
from commands.evaluation.ports import EvaluationStore, EvaluationTx, Judge, Pricer
from commands.evaluation.records import (
    Answer,
    EvaluationRecord,
    EvaluationState,
    ExampleAnswers,
    ExamplesSource,
    Preference,
    Verdict,
)
from commands.evaluation.report import headline, result_data
from commands.lifecycle.base import Deps, UseCase
from commands.lifecycle.options import checkpointed, find_checkpoint
from commands.lifecycle.sources import read_sources
from commands.lifecycle.targets import endpoint_ops
from commands.models import ChatReply, ChatRequest, EndpointState, JobState
from commands.ports import BaseModelChat, EndpointOps
from commands.records import Actor, EndpointRecord, JobRecord, PostKind, ThreadPost

#: examples asked together (a batch the endpoint may generate at once); the card moves once per batch
BATCH = 8
#: a RUNNING evaluation whose process has not written for this long is taken over by another
STALE_AFTER = timedelta(minutes=10)
#: greedy and short: the same question gets the same answer, and the evaluation stays affordable
TEMPERATURE = 0.0
MAX_TOKENS = 256


class NoLiveEndpoint(Conflict):
    """The job has no ready endpoint to evaluate (``checkpoint``: none serving that checkpoint): deploy it
    first (the reply offers Deploy, with that checkpoint chosen)."""

    code = "no_live_endpoint"

    def __init__(self, job_id: str, checkpoint: int | None = None) -> None:
        if checkpoint is None:
            super().__init__(
                "Job {job} has no live endpoint to evaluate. Deploy it first, then click Evaluate again: "
                "ftbot never deploys for an evaluation.",
                job=job_id,
            )
        else:
            super().__init__(
                f"Job {{job}} has no live endpoint serving checkpoint {checkpoint}. Deploy checkpoint "
                f"{checkpoint} first, then evaluate it again: ftbot never deploys for an evaluation.",
                job=job_id,
            )
        self.job_id = job_id
        self.checkpoint = checkpoint


class Evaluations(UseCase):
    def __init__(
        self,
        deps: Deps,
        *,
        base_chat: BaseModelChat | None = None,
        judge: Judge | None = None,
        pricer: Pricer | None = None,
    ) -> None:
        super().__init__(deps)
        self.base_chat = base_chat
        self.judge = judge  # FTBOT_EVAL_JUDGE_*: asked per example where both models answered
        self.pricer = pricer  # Costs.price_inference: the cost line of each model asked
        self._store = cast(EvaluationStore, deps.store)

    # --- start ---------------------------------------------------------------------------------------

    def start(
        self,
        actor: Actor,
        job_id: str,
        *,
        examples: int | None = None,
        endpoint: str | None = None,
        checkpoint: int | None = None,
    ) -> EvaluationRecord:
        """Record an evaluation of the job's live endpoint (``endpoint``: that one; ``checkpoint``: the one
        serving that checkpoint, as the thread numbers them)."""
        count = check_count(examples)
        with self._store.transaction() as tx:
            job = tx.get_job(job_id)
            running = tx.running_evaluation(job_id)
            named = self._named(tx, job, endpoint, checkpoint)
            endpoints = tx.endpoints_for_job(job_id)
        target = named if named is not None else self._serving(job, endpoints, checkpoint)
        if running is not None:
            raise Conflict(
                "An evaluation of {job} is already running ({progress}); its result comes to the thread.",
                job=job_id,
                progress=f"{running.done}/{running.total}",
            )
        loaded, source = self._examples(job, count)
        base, missing = self._base(target.name, job.base_model)
        now = self.clock.now()
        record = EvaluationRecord(
            id=f"{job_id[:50]}-ev-{secrets.token_hex(3)}",
            job_id=job_id,
            team_id=job.team_id,
            endpoint=target.name,
            checkpoint=target.options.checkpoint,
            base_model=base,
            base_missing=missing,
            source=source,
            examples=tuple(loaded),
            requested_by=actor.user_id,
            owner=self.owner,
            created_at=now,
            updated_at=now,
        )
        with self._store.transaction() as tx:
            tx.add_evaluation(record)
            detail = f"{record.id} examples={record.total} checkpoint={_number(record.checkpoint)}"
            self._audit(tx, actor, "evaluate", job_id, "ok", detail)
            tx.update_job(job_id)  # the card shows "Evaluating: 0/N"
        self._changed()
        return record

    @staticmethod
    def _named(
        tx: EvaluationTx, job: JobRecord, name: str | None, checkpoint: int | None
    ) -> EndpointRecord | None:
        """The endpoint ``--endpoint`` names, checked (against ``checkpoint`` too); None when none is."""
        if job.state is not JobState.SUCCEEDED:
            raise Conflict("Job {job} has not succeeded; only a finished model can be evaluated.", job=job.id)
        if name is None:
            return None
        endpoint = tx.get_endpoint(name)
        if endpoint.job_id != job.id:
            raise InvalidInput("Endpoint {endpoint} does not serve job {job}.", endpoint=name, job=job.id)
        if endpoint.state is not EndpointState.READY:
            raise Conflict("Endpoint {endpoint} is not ready.", endpoint=name)
        if checkpoint is not None and endpoint.options.checkpoint != checkpoint:
            raise InvalidInput(
                f"Endpoint {{endpoint}} serves {_served(endpoint)}, not checkpoint {checkpoint}.",
                field="checkpoint",
                endpoint=name,
            )
        return endpoint

    def _serving(
        self, job: JobRecord, endpoints: Sequence[EndpointRecord], checkpoint: int | None
    ) -> EndpointRecord:
        """The job's ready endpoint (``checkpoint``: the one serving it); ``NoLiveEndpoint`` when there is
        none to evaluate, never a deploy."""
        ready = [e for e in endpoints if e.state is EndpointState.READY]
        if checkpoint is None:
            if not ready:
                raise NoLiveEndpoint(job.id)
            return ready[-1]
        serving = [e for e in ready if e.options.checkpoint == checkpoint]
        if serving:
            return serving[-1]
        if not checkpointed(self.backend):
            raise InvalidInput(
                "The {backend} backend keeps no checkpoints; evaluate the final model (leave out {flag}).",
                field="checkpoint",
                backend=self.backend.kind,
                flag="--checkpoint",
            )
        find_checkpoint(self.backend, job.id, checkpoint)  # InvalidInput naming the ones the job has
        live = next((e for e in endpoints if e.live), None)
        if live is not None and live.options.checkpoint == checkpoint:
            raise Conflict(
                f"Endpoint {{endpoint}} serving checkpoint {checkpoint} is not ready yet; evaluate it once "
                "it is.",
                endpoint=live.name,
            )
        if live is not None:  # a job has one endpoint at a time: Deploy would be refused
            raise Conflict(
                f"Endpoint {{endpoint}} of {{job}} serves {_served(live)}, not checkpoint {checkpoint}. "
                f"A job has one endpoint at a time: tear it down, deploy checkpoint {checkpoint}, then "
                "evaluate it.",
                endpoint=live.name,
                job=job.id,
            )
        raise NoLiveEndpoint(job.id, checkpoint)

    def _data_files(self, job: JobRecord) -> list[tuple[Path, ExamplesSource]]:
        """Where the job's data lies on this machine, validation first: the uploaded validation file or
        the automatic split's held-out part (kept in the job's folder), then the training data."""
        job_dir = self.work_dir / job.id
        sources = read_sources(job_dir)
        files = [(d.path, ExamplesSource.VALIDATION) for d in [sources.validation] if d and d.path]
        files += [(p, ExamplesSource.VALIDATION) for p in sorted(job_dir.glob("*.validation.jsonl"))]
        refs = (
            (job.spec.validation, ExamplesSource.VALIDATION),
            (job.spec.training, ExamplesSource.TRAINING),
        )
        files += [(Path(ref.value), source) for ref, source in refs if ref is not None and ref.kind == "file"]
        files += [(d.path, ExamplesSource.TRAINING) for d in [sources.training] if d and d.path]
        return [(p, source) for p, source in files if p.is_file()]

    def _examples(self, job: JobRecord, count: int) -> tuple[list[Example], ExamplesSource]:
        for path, source in self._data_files(job):
            found = load_examples(path, count, sample=source is ExamplesSource.TRAINING)
            if found:
                return found, source
        raise InvalidInput(
            "Job {job} has no examples on disk to evaluate with (its data was uploaded elsewhere).",
            job=job.id,
        )

    def _base(self, endpoint: str, base_model: str) -> tuple[str | None, str | None]:
        if self.base_chat is None:
            return None, f"the {self.backend.kind} backend cannot ask a base model"
        missing = self.base_chat.base_model_missing(endpoint, base_model)
        return (None, missing) if missing else (base_model, None)

    # --- run -----------------------------------------------------------------------------------------

    def run(self, evaluation_id: str) -> EvaluationRecord:
        """Ask the remaining examples, batch by batch, storing the answers as they come; then post the
        result. Safe to call again on an evaluation another process left behind."""
        with self._store.transaction() as tx:
            record = tx.get_evaluation(evaluation_id)
        while record.state is EvaluationState.RUNNING and record.done < record.total:
            batch = record.examples[record.done : record.done + BATCH]
            try:
                answers = self._ask(record, batch)
            except FtbotError as e:  # the endpoint is gone or refuses everything: say so, keep the answers
                return self._finish(record, EvaluationState.FAILED, error=e.message)
            with self._store.transaction() as tx:
                current = tx.get_evaluation(evaluation_id)
                if current.owner != self.owner or current.state is not EvaluationState.RUNNING:
                    return current  # taken over by another process meanwhile: it finishes the job
                record = tx.save_evaluation(
                    evaluation_id, answers=(*record.answers, *answers), updated_at=self.clock.now()
                )
                tx.update_job(record.job_id)
            self._changed()
        if record.state is not EvaluationState.RUNNING:
            return record
        return self._finish(record, EvaluationState.SUCCEEDED)

    def _ask(self, record: EvaluationRecord, batch: Sequence[Example]) -> list[ExampleAnswers]:
        requests = [
            ChatRequest(messages=ex.messages, temperature=TEMPERATURE, max_tokens=MAX_TOKENS) for ex in batch
        ]
        ops = self._where(record.endpoint)  # the deploy target the endpoint lives in, not always home
        with ThreadPoolExecutor(max_workers=len(requests)) as pool:
            tuned = list(pool.map(lambda r: _answer(lambda: ops.chat(record.endpoint, r)), requests))
            base: list[Answer | None] = [None] * len(requests)
            if record.base_model is not None and self.base_chat is not None:
                chat, model = self.base_chat, record.base_model
                base = list(
                    pool.map(lambda r: _answer(lambda: chat.chat_base(record.endpoint, model, r)), requests)
                )
        if all(a.reply is None for a in tuned) and tuned:
            raise Conflict(
                "The fine-tuned endpoint answered none of the examples: {reason}", reason=tuned[0].error or ""
            )
        first = record.done
        with ThreadPoolExecutor(max_workers=len(requests)) as pool:
            verdicts = list(
                pool.map(lambda i: self._verdict(first + i, batch[i], tuned[i], base[i]), range(len(batch)))
            )
        return [
            ExampleAnswers(tuned=t, base=b, judge=v) for t, b, v in zip(tuned, base, verdicts, strict=True)
        ]

    def _where(self, endpoint: str) -> EndpointOps:
        """Where ``endpoint`` answers: the training project, or the deploy target it was deployed to
        (its stored ``DeployOptions.target``), as test chat does."""
        with self._store.transaction() as tx:
            target = tx.get_endpoint(endpoint).options.target
        return endpoint_ops(self.backend, target)

    def _verdict(self, index: int, example: Example, tuned: Answer, base: Answer | None) -> Verdict | None:
        """The judge's preference, the two replies shown in an order that alternates per example (so a
        judge that favours the first answer favours neither model)."""
        if self.judge is None or base is None or tuned.reply is None or base.reply is None:
            return None
        swap = index % 2 == 1
        a, b = (base.reply, tuned.reply) if swap else (tuned.reply, base.reply)
        call = self.judge.compare(example.prompt, example.reference, a, b)
        order = (Preference.BASE, Preference.TUNED) if swap else (Preference.TUNED, Preference.BASE)
        chosen = {"A": order[0], "B": order[1], "tie": Preference.TIE}.get(call.choice or "")
        return Verdict(
            model=self.judge.model,
            preference=chosen,
            error=None if chosen is not None else (call.error or f"unreadable verdict {call.choice!r}"),
            prompt_tokens=call.prompt_tokens,
            completion_tokens=call.completion_tokens,
        )

    def _finish(
        self, record: EvaluationRecord, state: EvaluationState, error: str | None = None
    ) -> EvaluationRecord:
        now = self.clock.now()
        with self._store.transaction() as tx:
            done = tx.save_evaluation(record.id, state=state, error=error, updated_at=now, finished_at=now)
            tx.update_job(record.job_id)
            result = result_data(done)
            result["costs"] = cost_lines(done, self.pricer, tx.get_job(record.job_id).base_model)
            result["judge"] = judge_tally(done)
            self._post_result(tx, record.job_id, PostKind.EVALUATION, f"evaluation:{record.id}", result)
            if state is EvaluationState.SUCCEEDED:
                self._post_result(
                    tx, record.job_id, PostKind.EVALUATION_CHART, f"evaluation:{record.id}:chart", result
                )
        self._changed()
        return done

    def _post_result(
        self, tx: EvaluationTx, job_id: str, kind: PostKind, key: str, data: dict[str, object]
    ) -> None:
        tx.post(ThreadPost(job_id=job_id, kind=kind, data=data), key=f"{job_id}:{key}", at=self.clock.now())

    # --- after a restart -----------------------------------------------------------------------------

    def resume_stale(self, *, stale_after: timedelta = STALE_AFTER, skip: Collection[str] = ()) -> list[str]:
        """Take over the evaluations whose process died (not written for ``stale_after``) and finish them;
        ``skip``: the ones this process is running."""
        with self._store.transaction() as tx:
            claimed = tx.claim_stale_evaluations(self.owner, self.clock.now() - stale_after)
        claimed = [c for c in claimed if c not in skip]
        for evaluation_id in claimed:
            self.run(evaluation_id)
        return claimed

    def interrupt(self, evaluation_id: str) -> EvaluationRecord:
        """Report an evaluation as interrupted (its endpoint is gone, it cannot be resumed)."""
        with self._store.transaction() as tx:
            record = tx.get_evaluation(evaluation_id)
        return self._finish(record, EvaluationState.INTERRUPTED, error="interrupted")

    # --- reads ---------------------------------------------------------------------------------------

    def get(self, evaluation_id: str) -> EvaluationRecord:
        with self._store.transaction() as tx:
            return tx.get_evaluation(evaluation_id)

    def latest(self, job_id: str) -> EvaluationRecord | None:
        with self._store.transaction() as tx:
            tx.get_job(job_id)
            return tx.latest_evaluation(job_id)

    def headline(self, job_id: str) -> str | None:
        try:
            record = self.latest(job_id)
        except NotFound:
            return None
        return headline(record) if record is not None else None


def _served(endpoint: EndpointRecord) -> str:
    """What an endpoint serves, in words: "the final model" or "checkpoint 2"."""
    number = endpoint.options.checkpoint
    return "the final model" if number is None else f"checkpoint {number}"


def _number(checkpoint: int | None) -> str:
    return "final" if checkpoint is None else str(checkpoint)


def _answer(call: Callable[[], ChatReply]) -> Answer:
    started = time.monotonic()
    try:
        reply = call()
    except FtbotError as e:
        return Answer(error=e.message, seconds=round(time.monotonic() - started, 3))
    return Answer(
        reply=reply.content,
        prompt_tokens=reply.usage.prompt_tokens,
        completion_tokens=reply.usage.completion_tokens,
        seconds=round(time.monotonic() - started, 3),
    )
