"""Evaluate a checkpoint's endpoint without Slack: ``--checkpoint N`` finds the ready endpoint serving that
checkpoint; Evaluate on a job whose live endpoint is a checkpoint's deployment records that checkpoint;
with nothing serving it the evaluation says so (and what is in the way), never deploying."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest

from commands.costs.prices import Money
from commands.errors import Conflict, InvalidInput, NotFound, Unavailable
from commands.evaluation import service
from commands.evaluation.examples import Example
from commands.evaluation.ports import JudgeCall, Pricer
from commands.evaluation.records import (
    Answer,
    EvaluationRecord,
    EvaluationState,
    ExamplesSource,
    Preference,
    Verdict,
)
from commands.evaluation.report import headline, result_data
from commands.evaluation.service import Evaluations, NoLiveEndpoint
from commands.lifecycle.base import Deps
from commands.models import (
    ChatMessage,
    ChatReply,
    ChatRequest,
    Checkpoint,
    DatasetRef,
    DeployOptions,
    EndpointState,
    JobState,
    Usage,
)
from commands.records import Actor, EndpointRecord, EvaluationFigures, ModelScores, PostKind
from tests.commands.lifecycle.records import T0, deps, endpoint_record, job_record
from tests.fakes.backend import FakeBackend
from tests.support.data import chat_lines
from tests.support.doubles import Approvers, Clock
from tests.support.memory_evaluations import EvaluationMemoryStore
from tests.support.memory_store import QueuedPost

ACTOR = Actor(user_id="U1", channel_id="C1")


class CheckpointedBackend(FakeBackend):
    """Checkpoints 1 and 2 for every job; the fine-tuned model answers even-numbered orders exactly and
    odd ones with "xyz" (no character of any reference), the base model "xyz" every time."""

    kind = "foundry"

    def list_checkpoints(self, job_id: str) -> list[Checkpoint]:
        return [Checkpoint(number=n, model=f"{job_id}-ft:ckpt-{n}", epoch=n) for n in (1, 2)]

    def chat(self, endpoint_name: str, request: ChatRequest) -> ChatReply:
        self._call("chat")
        order = int(request.messages[-1].content.split()[-1].rstrip("?"))
        return _reply(f"Order {order} ships tomorrow." if order % 2 == 0 else "xyz")

    def chat_base(self, endpoint_name: str, base_model: str, request: ChatRequest) -> ChatReply:
        self._call("chat_base")
        return _reply("xyz")


def _reply(text: str) -> ChatReply:
    return ChatReply(content=text, finish_reason="stop", usage=Usage(prompt_tokens=1, completion_tokens=1))


def _evaluations(
    tmp_path: Path, endpoints: dict[str, int | None], *, state: EndpointState = EndpointState.READY
) -> tuple[Evaluations, EvaluationMemoryStore, FakeBackend]:
    """Job ``job-1`` succeeded with 4 validation examples on disk; ``endpoints``: name → the checkpoint
    each serves (None: the final model), created in that order."""
    store, backend = EvaluationMemoryStore(), CheckpointedBackend()
    validation = tmp_path / "valid.jsonl"
    validation.write_text(chat_lines(4))
    job = job_record("job-1")
    spec = job.spec.model_copy(update={"validation": DatasetRef(kind="file", value=str(validation))})
    with store.transaction() as tx:
        tx.add_job(job.model_copy(update={"spec": spec}))
        for minutes, (name, checkpoint) in enumerate(endpoints.items()):
            at = T0 + timedelta(minutes=minutes)
            tx.claim_endpoint(
                _endpoint(name, checkpoint, state).model_copy(update={"created_at": at, "updated_at": at})
            )
    return Evaluations(deps(tmp_path, backend, store), base_chat=backend), store, backend


def _endpoint(name: str, checkpoint: int | None, state: EndpointState) -> EndpointRecord:
    return endpoint_record(name, "job-1", state).model_copy(
        update={"options": DeployOptions(checkpoint=checkpoint)}
    )


def test_checkpoint_finds_the_endpoint_serving_it_and_the_result_says_so(tmp_path: Path) -> None:
    evaluations, store, backend = _evaluations(tmp_path, {"ep-final": None, "ep-ckpt-2": 2})
    started = evaluations.start(ACTOR, "job-1", checkpoint=2)
    assert (started.endpoint, started.checkpoint, started.total) == ("ep-ckpt-2", 2, 4)
    assert store.audit_log[-1].detail == f"{started.id} examples=4 checkpoint=2"
    done = evaluations.run(started.id)
    assert done.state is EvaluationState.SUCCEEDED and done.source is ExamplesSource.VALIDATION
    assert evaluations.headline("job-1") == "Checkpoint 2: chrF 50.0 vs base 0.0 on 4 held-out examples"
    post = next(p for p in store.posts("job-1") if p.kind is PostKind.EVALUATION)
    assert (post.data["checkpoint"], post.data["endpoint"]) == (2, "ep-ckpt-2")
    with store.transaction() as tx:
        assert tx.latest_evaluation("job-1") == done
        assert tx.evaluation_figures("job-1") == EvaluationFigures(
            line="Checkpoint 2: chrF 50.0 vs base 0.0 on 4 held-out examples",
            finished=True,
            examples=4,
            checkpoint=2,
            tuned=ModelScores(chrf=50.0, f1=50.0, exact=50.0),
            base=ModelScores(chrf=0.0, f1=0.0, exact=0.0),
        )
    assert backend.calls["chat"] == 4 and backend.calls["deploy_model"] == 0


def test_evaluate_on_a_checkpoints_deployment_records_that_checkpoint(tmp_path: Path) -> None:
    evaluations, _, _ = _evaluations(tmp_path, {"ep-ckpt-1": 1})
    started = evaluations.start(ACTOR, "job-1")  # the Evaluate button: the job's live endpoint
    assert (started.endpoint, started.checkpoint) == ("ep-ckpt-1", 1)
    assert evaluations.headline("job-1") == "Evaluating checkpoint 1: 0/4"
    (tmp_path / "named").mkdir()
    named = _evaluations(tmp_path / "named", {"ep-ckpt-1": 1})[0]
    assert named.start(ACTOR, "job-1", endpoint="ep-ckpt-1", checkpoint=1).checkpoint == 1


def test_the_final_model_is_recorded_as_no_checkpoint(tmp_path: Path) -> None:
    evaluations, store, _ = _evaluations(tmp_path, {"ep-final": None})
    started = evaluations.start(ACTOR, "job-1")
    assert started.checkpoint is None
    assert store.audit_log[-1].detail == f"{started.id} examples=4 checkpoint=final"


def test_nothing_serving_the_checkpoint_says_so_and_deploys_nothing(tmp_path: Path) -> None:
    evaluations, store, backend = _evaluations(tmp_path, {})
    with pytest.raises(NoLiveEndpoint) as e:
        evaluations.start(ACTOR, "job-1", checkpoint=2)
    assert e.value.message == (
        "Job job-1 has no live endpoint serving checkpoint 2. Deploy checkpoint 2 first, then evaluate it "
        "again: ftbot never deploys for an evaluation."
    )
    assert (e.value.job_id, e.value.checkpoint) == ("job-1", 2)
    assert backend.calls["deploy_model"] == 0
    with store.transaction() as tx:
        assert tx.latest_evaluation("job-1") is None


def test_a_checkpoint_the_job_does_not_have_names_the_ones_it_has(tmp_path: Path) -> None:
    evaluations, _, _ = _evaluations(tmp_path, {})
    with pytest.raises(InvalidInput) as e:
        evaluations.start(ACTOR, "job-1", checkpoint=9)
    assert e.value.message == "job-1 has no checkpoint 9 (deployable: 1, 2); its thread lists them."


def test_another_live_endpoint_of_the_job_is_named_as_what_is_in_the_way(tmp_path: Path) -> None:
    evaluations, _, _ = _evaluations(tmp_path, {"ep-final": None})
    with pytest.raises(Conflict) as e:
        evaluations.start(ACTOR, "job-1", checkpoint=2)
    assert not isinstance(e.value, NoLiveEndpoint)
    assert e.value.message == (
        "Endpoint ep-final of job-1 serves the final model, not checkpoint 2. A job has one endpoint at a "
        "time: tear it down, deploy checkpoint 2, then evaluate it."
    )


def test_the_checkpoints_endpoint_still_creating_is_not_ready_yet(tmp_path: Path) -> None:
    evaluations, _, _ = _evaluations(tmp_path, {"ep-ckpt-2": 2}, state=EndpointState.CREATING)
    with pytest.raises(Conflict) as e:
        evaluations.start(ACTOR, "job-1", checkpoint=2)
    assert e.value.message == (
        "Endpoint ep-ckpt-2 serving checkpoint 2 is not ready yet; evaluate it once it is."
    )


def test_a_named_endpoint_serving_another_checkpoint_is_refused(tmp_path: Path) -> None:
    evaluations, _, _ = _evaluations(tmp_path, {"ep-ckpt-1": 1})
    with pytest.raises(InvalidInput) as e:
        evaluations.start(ACTOR, "job-1", endpoint="ep-ckpt-1", checkpoint=2)
    assert e.value.message == "Endpoint ep-ckpt-1 serves checkpoint 1, not checkpoint 2."


def test_a_backend_without_checkpoints_says_so(tmp_path: Path) -> None:
    store = EvaluationMemoryStore()
    with store.transaction() as tx:
        tx.add_job(job_record("job-1"))
    evaluations = Evaluations(deps(tmp_path, FakeBackend(), store))
    with pytest.raises(InvalidInput) as e:
        evaluations.start(ACTOR, "job-1", checkpoint=1)
    assert e.value.message == (
        "The local backend keeps no checkpoints; evaluate the final model (leave out --checkpoint)."
    )


# --- start, run, the judge, the results: every field and message ------------------------------------


class Scripted(CheckpointedBackend):
    """The fine-tuned model answers order i exactly when i is even and "tuned i" when odd, the base model
    "base i"; ``down`` holds the orders whose fine-tuned call fails (``Unavailable``), ``base_down`` the
    base model's. Each request is remembered, and ``on_chat`` runs before each fine-tuned reply."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[tuple[str, ChatRequest]] = []
        self.base_requests: list[tuple[str, str, ChatRequest]] = []
        self.missing_asked: list[tuple[str, str]] = []
        self.down: dict[int, str] = {}
        self.base_down: set[int] = set()
        self.on_chat: Callable[[], None] = lambda: None

    def chat(self, endpoint_name: str, request: ChatRequest) -> ChatReply:
        self.requests.append((endpoint_name, request))
        self.on_chat()
        order = _order(request)
        if order in self.down:
            raise Unavailable(self.down[order])
        text = f"Order {order} ships tomorrow." if order % 2 == 0 else f"tuned {order}"
        return ChatReply(content=text, usage=Usage(prompt_tokens=10 + order, completion_tokens=order))

    def chat_base(self, endpoint_name: str, base_model: str, request: ChatRequest) -> ChatReply:
        self.base_requests.append((endpoint_name, base_model, request))
        order = _order(request)
        if order in self.base_down:
            raise Unavailable("base down")
        return ChatReply(content=f"base {order}", usage=Usage(prompt_tokens=1, completion_tokens=100))

    def base_model_missing(self, endpoint_name: str, base_model: str) -> str | None:
        self.missing_asked.append((endpoint_name, base_model))
        return self.base_missing


def _order(request: ChatRequest) -> int:
    return int(request.messages[-1].content.split()[-1].rstrip("?"))


class FakeJudge:
    """Answers ``choice`` (per question where ``choices`` has it), remembering each comparison."""

    model = "judge-m"

    def __init__(self, choice: str | None = "A", error: str | None = None, **choices: str | None) -> None:
        self.choice, self.error, self.choices = choice, error, choices
        self.calls: list[tuple[str, str, str, str]] = []

    def compare(self, question: str, reference: str, answer_a: str, answer_b: str) -> JudgeCall:
        self.calls.append((question, reference, answer_a, answer_b))
        choice = self.choices.get(f"q{_order_of(question)}", self.choice)
        return JudgeCall(choice=choice, error=self.error, prompt_tokens=20, completion_tokens=2)


def _order_of(question: str) -> int:
    return int(question.split()[-1].rstrip("?"))


class Changes:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


class Setup:
    """Job ``job-1`` (team T1, base model "m") succeeded, with ``n`` validation examples on disk and its
    ready endpoint ``ep-1`` serving the final model."""

    def __init__(
        self,
        tmp_path: Path,
        n: int = 4,
        *,
        judge: FakeJudge | None = None,
        base: bool = True,
        owner: str = "proc-A",
        job_id: str = "job-1",
        target: str | None = None,
    ) -> None:
        self.store, self.backend, self.changes = EvaluationMemoryStore(), Scripted(), Changes()
        self.tmp_path, self.job_id = tmp_path, job_id
        validation = tmp_path / "valid.jsonl"
        validation.write_text(chat_lines(n))
        job = job_record(job_id)
        spec = job.spec.model_copy(update={"validation": DatasetRef(kind="file", value=str(validation))})
        endpoint = endpoint_record("ep-1", job_id, EndpointState.READY).model_copy(
            update={"options": DeployOptions(target=target)}
        )
        with self.store.transaction() as tx:
            tx.add_job(job.model_copy(update={"spec": spec, "team_id": "T1"}))
            tx.claim_endpoint(endpoint)
        self.clock = Clock()
        self.evaluations = self.make(owner, judge=judge, base=base)

    def make(
        self, owner: str, *, judge: FakeJudge | None = None, base: bool = True, pricer: Pricer | None = None
    ) -> Evaluations:
        deps = Deps(
            backend=self.backend,
            store=self.store,
            clock=self.clock,
            approvers=Approvers(),
            work_dir=self.tmp_path,
            on_change=self.changes,
            owner=owner,
        )
        return Evaluations(deps, base_chat=self.backend if base else None, judge=judge, pricer=pricer)

    def version(self) -> int:
        with self.store.transaction() as tx:
            return tx.get_job(self.job_id).version

    def stored(self, evaluation_id: str) -> EvaluationRecord:
        with self.store.transaction() as tx:
            return tx.get_evaluation(evaluation_id)

    def queued(self) -> list[QueuedPost]:
        return [q for q in self.store.outbox if q.post.job_id == self.job_id]


def _example(i: int) -> Example:
    return Example(
        messages=(
            ChatMessage(role="system", content="You are a support agent."),
            ChatMessage(role="user", content=f"Where is order {i}?"),
        ),
        reference=f"Order {i} ships tomorrow.",
    )


def test_start_records_the_evaluation_audits_it_and_moves_the_card(tmp_path: Path) -> None:
    setup = Setup(tmp_path)
    version = setup.version()
    record = setup.evaluations.start(ACTOR, "job-1")
    assert re.fullmatch(r"job-1-ev-[0-9a-f]{6}", record.id)
    assert record == EvaluationRecord(
        id=record.id,
        job_id="job-1",
        team_id="T1",
        endpoint="ep-1",
        checkpoint=None,
        base_model="m",
        base_missing=None,
        source=ExamplesSource.VALIDATION,
        examples=tuple(_example(i) for i in range(4)),
        state=EvaluationState.RUNNING,
        requested_by="U1",
        owner="proc-A",
        created_at=record.created_at,
        updated_at=record.created_at,
    )
    assert setup.stored(record.id) == record
    entry = setup.store.audit_log[-1]
    assert (entry.actor, entry.action, entry.target, entry.result, entry.channel_id) == (
        "U1",
        "evaluate",
        "job-1",
        "ok",
        "C1",
    )
    assert entry.detail == f"{record.id} examples=4 checkpoint=final"
    assert setup.version() == version + 1 and setup.changes.count == 1
    assert setup.backend.missing_asked == [("ep-1", "m")]
    assert setup.evaluations.headline("job-1") == "Evaluating: 0/4"


def test_the_evaluation_id_keeps_50_characters_of_the_job_id(tmp_path: Path) -> None:
    job_id = "j" * 49 + "xyz"
    setup = Setup(tmp_path, job_id=job_id)
    record = setup.evaluations.start(ACTOR, job_id)
    assert re.fullmatch("j" * 49 + r"x-ev-[0-9a-f]{6}", record.id)


def test_start_asks_for_the_examples_count(tmp_path: Path) -> None:
    setup = Setup(tmp_path, 50)
    assert setup.evaluations.start(ACTOR, "job-1").total == 40
    (tmp_path / "two").mkdir()
    other = Setup(tmp_path / "two", 50)
    assert other.evaluations.start(ACTOR, "job-1", examples=3).examples == tuple(
        _example(i) for i in range(3)
    )
    with pytest.raises(InvalidInput) as e:
        other.evaluations.start(ACTOR, "job-1", examples=0)
    assert e.value.field == "examples"


def test_a_second_evaluation_while_one_runs_is_refused_with_its_progress(tmp_path: Path) -> None:
    setup = Setup(tmp_path)
    setup.evaluations.start(ACTOR, "job-1")
    with pytest.raises(Conflict) as e:
        setup.evaluations.start(ACTOR, "job-1")
    assert e.value.message == (
        "An evaluation of job-1 is already running (0/4); its result comes to the thread."
    )
    assert setup.changes.count == 1


def test_a_job_that_has_not_succeeded_cannot_be_evaluated(tmp_path: Path) -> None:
    setup = Setup(tmp_path)
    with setup.store.transaction() as tx:
        tx.update_job("job-1", state=JobState.RUNNING)
    with pytest.raises(Conflict) as e:
        setup.evaluations.start(ACTOR, "job-1", endpoint="ep-1")
    assert e.value.message == "Job job-1 has not succeeded; only a finished model can be evaluated."


def test_a_named_endpoint_must_be_the_jobs_and_ready(tmp_path: Path) -> None:
    setup = Setup(tmp_path)
    with setup.store.transaction() as tx:
        tx.add_job(job_record("job-2"))
        tx.claim_endpoint(endpoint_record("ep-2", "job-2", EndpointState.READY))
        tx.claim_endpoint(endpoint_record("ep-3", "job-1", EndpointState.CREATING))
    with pytest.raises(InvalidInput) as bad:
        setup.evaluations.start(ACTOR, "job-1", endpoint="ep-2")
    assert bad.value.message == "Endpoint ep-2 does not serve job job-1."
    with pytest.raises(Conflict) as creating:
        setup.evaluations.start(ACTOR, "job-1", endpoint="ep-3")
    assert creating.value.message == "Endpoint ep-3 is not ready."
    with pytest.raises(InvalidInput) as other:
        setup.evaluations.start(ACTOR, "job-1", endpoint="ep-1", checkpoint=2)
    assert other.value.message == "Endpoint ep-1 serves the final model, not checkpoint 2."
    assert other.value.field == "checkpoint"
    assert setup.evaluations.start(ACTOR, "job-1", endpoint="ep-1").endpoint == "ep-1"


def test_a_named_endpoint_wins_over_the_latest_ready_one(tmp_path: Path) -> None:
    evaluations, _, _ = _evaluations(tmp_path, {"ep-a": None, "ep-b": None})
    assert evaluations.start(ACTOR, "job-1", endpoint="ep-a").endpoint == "ep-a"


def test_a_named_endpoint_without_checkpoint_records_the_one_it_serves(tmp_path: Path) -> None:
    evaluations, _, _ = _evaluations(tmp_path, {"ep-ckpt-1": 1, "ep-final": None})
    assert evaluations.start(ACTOR, "job-1", endpoint="ep-ckpt-1").checkpoint == 1


def test_the_latest_ready_endpoint_is_evaluated(tmp_path: Path) -> None:
    evaluations, _, _ = _evaluations(tmp_path, {"ep-a": None, "ep-b": None, "ep-c": 2})
    assert evaluations.start(ACTOR, "job-1").endpoint == "ep-c"
    (tmp_path / "two").mkdir()
    evaluations, _, _ = _evaluations(tmp_path / "two", {"ep-a": 2, "ep-b": 2, "ep-c": 2, "ep-d": None})
    assert evaluations.start(ACTOR, "job-1", checkpoint=2).endpoint == "ep-c"


def test_no_ready_endpoint_says_deploy_it_first(tmp_path: Path) -> None:
    evaluations, _, backend = _evaluations(tmp_path, {"ep-a": None}, state=EndpointState.CREATING)
    with pytest.raises(NoLiveEndpoint) as e:
        evaluations.start(ACTOR, "job-1")
    assert e.value.message == (
        "Job job-1 has no live endpoint to evaluate. Deploy it first, then click Evaluate again: ftbot "
        "never deploys for an evaluation."
    )
    assert (e.value.job_id, e.value.checkpoint, e.value.code) == ("job-1", None, "no_live_endpoint")
    assert backend.calls["deploy_model"] == 0


def test_a_backend_without_checkpoints_names_the_flag(tmp_path: Path) -> None:
    store = EvaluationMemoryStore()
    with store.transaction() as tx:
        tx.add_job(job_record("job-1"))
    with pytest.raises(InvalidInput) as e:
        Evaluations(deps(tmp_path, FakeBackend(), store)).start(ACTOR, "job-1", checkpoint=1)
    assert e.value.field == "checkpoint"


def test_without_a_base_chat_the_record_says_why(tmp_path: Path) -> None:
    setup = Setup(tmp_path, base=False)
    record = setup.evaluations.start(ACTOR, "job-1")
    assert (record.base_model, record.base_missing) == (None, "the foundry backend cannot ask a base model")


def test_a_base_model_the_backend_cannot_reach_is_recorded_as_missing(tmp_path: Path) -> None:
    setup = Setup(tmp_path)
    setup.backend.base_missing = "no serverless deployment of m"
    record = setup.evaluations.start(ACTOR, "job-1")
    assert (record.base_model, record.base_missing) == (None, "no serverless deployment of m")
    done = setup.evaluations.run(record.id)
    assert [a.base for a in done.answers] == [None] * 4
    assert setup.backend.base_requests == []


# --- where the examples come from -------------------------------------------------------------------


def _lines(tag: str, n: int) -> str:
    rows = [
        {
            "messages": [
                {"role": "user", "content": f"{tag} {i}"},
                {"role": "assistant", "content": f"{tag}{i}"},
            ]
        }
        for i in range(n)
    ]
    return "\n".join(json.dumps(r) for r in rows) + "\n"


def _data_setup(tmp_path: Path, *, validation: str | None, training: str | None) -> tuple[Evaluations, Path]:
    """Job ``job-1`` with ``ep-1`` ready; its spec names ``validation`` and ``training`` (files under
    ``tmp_path/data``, or for None a dataset asset whose id happens to be the path of a file with
    examples: not data on this machine)."""
    store = EvaluationMemoryStore()
    data = tmp_path / "data"
    data.mkdir()
    (data / "asset.jsonl").write_text(_lines("asset", 3))
    job = job_record("job-1")

    def ref(name: str | None) -> DatasetRef:
        if name is None:
            return DatasetRef(kind="asset", value=str(data / "asset.jsonl"))
        return DatasetRef(kind="file", value=str(data / name))

    spec = job.spec.model_copy(update={"validation": ref(validation), "training": ref(training)})
    with store.transaction() as tx:
        tx.add_job(job.model_copy(update={"spec": spec}))
        tx.claim_endpoint(endpoint_record("ep-1", "job-1", EndpointState.READY))
    job_dir = tmp_path / "job-1"
    job_dir.mkdir()
    return Evaluations(deps(tmp_path, CheckpointedBackend(), store)), data


def _references(record: EvaluationRecord) -> list[str]:
    return [e.reference for e in record.examples]


def test_the_validation_file_the_bot_brought_in_comes_first(tmp_path: Path) -> None:
    evaluations, data = _data_setup(tmp_path, validation="spec-valid.jsonl", training="spec-train.jsonl")
    (data / "spec-valid.jsonl").write_text(_lines("sv", 3))
    (data / "spec-train.jsonl").write_text(_lines("st", 3))
    (data / "kept-valid.jsonl").write_text(_lines("kv", 3))
    (data / "kept-train.jsonl").write_text(_lines("kt", 3))
    (tmp_path / "job-1" / "a.validation.jsonl").write_text(_lines("split", 3))
    sources = {
        "training": {"path": str(data / "kept-train.jsonl"), "name": "t"},
        "validation": {"path": str(data / "kept-valid.jsonl"), "name": "v"},
    }
    (tmp_path / "job-1" / "sources.json").write_text(json.dumps(sources))
    record = evaluations.start(ACTOR, "job-1", examples=2)
    assert (_references(record), record.source) == (["kv0", "kv1"], ExamplesSource.VALIDATION)


def test_the_held_out_split_comes_next_in_name_order(tmp_path: Path) -> None:
    evaluations, data = _data_setup(tmp_path, validation="spec-valid.jsonl", training="spec-train.jsonl")
    (data / "spec-valid.jsonl").write_text(_lines("sv", 3))
    (data / "spec-train.jsonl").write_text(_lines("st", 3))
    (tmp_path / "job-1" / "b.validation.jsonl").write_text(_lines("b", 3))
    (tmp_path / "job-1" / "a.validation.jsonl").write_text(_lines("a", 3))
    (tmp_path / "job-1" / "c.training.jsonl").write_text(_lines("c", 3))
    record = evaluations.start(ACTOR, "job-1", examples=2)
    assert (_references(record), record.source) == (["a0", "a1"], ExamplesSource.VALIDATION)


def test_then_the_specs_validation_file_then_its_training_file(tmp_path: Path) -> None:
    evaluations, data = _data_setup(tmp_path, validation="spec-valid.jsonl", training="spec-train.jsonl")
    (data / "spec-valid.jsonl").write_text(_lines("sv", 10))
    (data / "spec-train.jsonl").write_text(_lines("st", 10))
    record = evaluations.start(ACTOR, "job-1", examples=3)
    assert (_references(record), record.source) == (["sv0", "sv1", "sv2"], ExamplesSource.VALIDATION)


def test_training_data_is_a_seeded_sample_seen_in_training(tmp_path: Path) -> None:
    evaluations, data = _data_setup(tmp_path, validation="gone.jsonl", training="spec-train.jsonl")
    (data / "spec-train.jsonl").write_text(_lines("st", 10))
    record = evaluations.start(ACTOR, "job-1", examples=3)
    assert (_references(record), record.source) == (["st0", "st6", "st9"], ExamplesSource.TRAINING)


def test_a_validation_file_without_examples_falls_through_to_the_training_data(tmp_path: Path) -> None:
    evaluations, data = _data_setup(tmp_path, validation="spec-valid.jsonl", training=None)
    (data / "spec-valid.jsonl").write_text("not json\n")
    (data / "kept-train.jsonl").write_text(_lines("kt", 10))
    sources = {"training": {"path": str(data / "kept-train.jsonl"), "name": "t"}, "validation": None}
    (tmp_path / "job-1" / "sources.json").write_text(json.dumps(sources))
    record = evaluations.start(ACTOR, "job-1", examples=3)
    assert (_references(record), record.source) == (["kt0", "kt6", "kt9"], ExamplesSource.TRAINING)


def test_no_data_on_disk_is_invalid_input(tmp_path: Path) -> None:
    evaluations, _ = _data_setup(tmp_path, validation=None, training=None)
    with pytest.raises(InvalidInput) as e:
        evaluations.start(ACTOR, "job-1")
    assert e.value.message == (
        "Job job-1 has no examples on disk to evaluate with (its data was uploaded elsewhere)."
    )


def test_a_job_without_validation_data_is_evaluated_on_its_training_file(tmp_path: Path) -> None:
    store = EvaluationMemoryStore()
    training = tmp_path / "train.jsonl"
    training.write_text(_lines("t", 2))
    job = job_record("job-1")
    spec = job.spec.model_copy(update={"training": DatasetRef(kind="file", value=str(training))})
    assert spec.validation is None
    with store.transaction() as tx:
        tx.add_job(job.model_copy(update={"spec": spec}))
        tx.claim_endpoint(endpoint_record("ep-1", "job-1", EndpointState.READY))
    record = Evaluations(deps(tmp_path, CheckpointedBackend(), store)).start(ACTOR, "job-1")
    assert (_references(record), record.source) == (["t0", "t1"], ExamplesSource.TRAINING)


# --- run --------------------------------------------------------------------------------------------


def test_run_asks_both_models_batch_by_batch_and_posts_the_result(tmp_path: Path) -> None:
    setup = Setup(tmp_path, 10)
    started = setup.evaluations.start(ACTOR, "job-1")
    version, changes = setup.version(), setup.changes.count
    done = setup.evaluations.run(started.id)
    assert done.state is EvaluationState.SUCCEEDED and done.error is None
    assert done.finished_at is not None and done.finished_at == done.updated_at
    assert done.finished_at > started.updated_at
    assert setup.stored(started.id) == done
    assert setup.version() == version + 3 and setup.changes.count == changes + 3  # 2 batches, the finish
    requests = sorted(setup.backend.requests, key=lambda r: _order(r[1]))
    assert [r for _, r in requests] == [
        ChatRequest(messages=_example(i).messages, temperature=0.0, max_tokens=256) for i in range(10)
    ]
    assert {name for name, _ in requests} == {"ep-1"}
    assert sorted((e, m, _order(r)) for e, m, r in setup.backend.base_requests) == [
        ("ep-1", "m", i) for i in range(10)
    ]
    assert all(r.temperature == 0.0 and r.max_tokens == 256 for _, _, r in setup.backend.base_requests)
    tuned = [a.tuned for a in done.answers]
    assert [a.reply for a in tuned] == [
        f"Order {i} ships tomorrow." if i % 2 == 0 else f"tuned {i}" for i in range(10)
    ]
    assert [(a.prompt_tokens, a.completion_tokens, a.error) for a in tuned] == [
        (10 + i, i, None) for i in range(10)
    ]
    assert all(a.seconds >= 0 for a in tuned)
    assert [a.base.reply if a.base else None for a in done.answers] == [f"base {i}" for i in range(10)]
    assert all(a.judge is None for a in done.answers)
    posts = setup.queued()[-2:]
    assert all(isinstance(q.at, datetime) for q in posts)
    assert [(q.key, q.post.kind) for q in posts] == [
        (f"job-1:evaluation:{done.id}", PostKind.EVALUATION),
        (f"job-1:evaluation:{done.id}:chart", PostKind.EVALUATION_CHART),
    ]
    assert (
        posts[0].post.data
        == posts[1].post.data
        == {
            **result_data(done),
            "costs": [
                "Fine-tuned (on m): 145 prompt + 45 reply tokens (no price for m in FTBOT_PRICES)",
                "Base (m): 10 prompt + 1,000 reply tokens (no price for m in FTBOT_PRICES)",
            ],
            "judge": None,
        }
    )


def test_each_batch_is_stored_as_it_comes(tmp_path: Path) -> None:
    setup = Setup(tmp_path, 10)
    started = setup.evaluations.start(ACTOR, "job-1")
    seen: list[tuple[int, bool]] = []

    def look() -> None:
        with setup.store.transaction() as tx:
            now = tx.get_evaluation(started.id)
            seen.append((now.done, now.updated_at > started.updated_at))

    setup.backend.on_chat = look
    setup.evaluations.run(started.id)
    assert sorted(seen) == [(0, False)] * 8 + [(8, True)] * 2


def test_a_reply_that_fails_is_kept_with_its_reason_and_the_run_goes_on(tmp_path: Path) -> None:
    judge = FakeJudge()
    setup = Setup(tmp_path, 3, judge=judge)
    setup.backend.down = {1: "slow down"}
    setup.backend.base_down = {2}
    done = setup.evaluations.run(setup.evaluations.start(ACTOR, "job-1").id)
    assert done.state is EvaluationState.SUCCEEDED
    failed = done.answers[1].tuned
    assert (failed.reply, failed.error, failed.prompt_tokens, failed.completion_tokens) == (
        None,
        "slow down",
        0,
        0,
    )
    assert done.answers[2].base is not None and done.answers[2].base.error == "base down"
    # the judge is asked only where both answered
    assert [a.judge is not None for a in done.answers] == [True, False, False]
    assert [q for q, _, _, _ in judge.calls] == ["Where is order 0?"]


def test_an_endpoint_that_answers_nothing_fails_the_evaluation_keeping_the_answers(tmp_path: Path) -> None:
    setup = Setup(tmp_path, 10)
    setup.backend.down = {8: "endpoint gone", 9: "endpoint gone too"}
    started = setup.evaluations.start(ACTOR, "job-1")
    done = setup.evaluations.run(started.id)
    reason = "The fine-tuned endpoint answered none of the examples: endpoint gone"
    assert (done.state, done.error, done.done) == (EvaluationState.FAILED, reason, 8)
    assert done.finished_at is not None
    assert setup.evaluations.headline("job-1") == f"Failed at 8/10: {reason}"
    kinds = [q.post.kind for q in setup.queued()]
    assert PostKind.EVALUATION in kinds and PostKind.EVALUATION_CHART not in kinds
    post = next(q.post for q in setup.queued() if q.post.kind is PostKind.EVALUATION)
    assert post.data["state"] == "failed" and post.data["error"] == reason


def test_an_empty_reason_is_left_empty(tmp_path: Path) -> None:
    setup = Setup(tmp_path, 1)
    setup.backend.down = {0: ""}
    done = setup.evaluations.run(setup.evaluations.start(ACTOR, "job-1").id)
    assert done.error == "The fine-tuned endpoint answered none of the examples: "


def test_an_endpoint_in_a_deploy_target_the_backend_no_longer_has_fails_the_run(tmp_path: Path) -> None:
    setup = Setup(tmp_path, 2, target="prod")
    done = setup.evaluations.run(setup.evaluations.start(ACTOR, "job-1").id)
    assert (done.state, done.error) == (
        EvaluationState.FAILED,
        "The endpoint was deployed to prod, but the foundry backend has no deploy targets now "
        "(FTBOT_DEPLOY_TARGETS).",
    )
    assert setup.backend.requests == []


def test_an_evaluation_taken_over_meanwhile_is_left_to_its_new_owner(tmp_path: Path) -> None:
    setup = Setup(tmp_path, 10)
    started = setup.evaluations.start(ACTOR, "job-1")

    def take_over() -> None:
        with setup.store.transaction() as tx:
            tx.save_evaluation(started.id, owner="proc-B")

    setup.backend.on_chat = take_over
    left = setup.evaluations.run(started.id)
    assert (left.owner, left.state, left.answers) == ("proc-B", EvaluationState.RUNNING, ())
    assert setup.stored(started.id) == left
    assert [q.post.kind for q in setup.queued() if q.post.kind is PostKind.EVALUATION] == []
    assert len(setup.backend.requests) == 8


def test_an_evaluation_finished_meanwhile_is_not_run_further(tmp_path: Path) -> None:
    setup = Setup(tmp_path, 10)
    started = setup.evaluations.start(ACTOR, "job-1")

    def interrupt() -> None:
        with setup.store.transaction() as tx:
            tx.save_evaluation(started.id, state=EvaluationState.INTERRUPTED)

    setup.backend.on_chat = interrupt
    left = setup.evaluations.run(started.id)
    assert (left.owner, left.state, left.answers) == ("proc-A", EvaluationState.INTERRUPTED, ())
    assert len(setup.backend.requests) == 8


def test_running_a_finished_evaluation_again_changes_nothing(tmp_path: Path) -> None:
    setup = Setup(tmp_path, 2)
    done = setup.evaluations.run(setup.evaluations.start(ACTOR, "job-1").id)
    posts = len(setup.store.outbox)
    assert setup.evaluations.run(done.id) == done
    assert setup.stored(done.id) == done and len(setup.store.outbox) == posts
    interrupted = setup.evaluations.interrupt(done.id)
    assert setup.evaluations.run(done.id) == interrupted


def test_an_interrupted_evaluation_keeps_its_place_and_is_not_run(tmp_path: Path) -> None:
    setup = Setup(tmp_path, 4)
    started = setup.evaluations.start(ACTOR, "job-1")
    interrupted = setup.evaluations.interrupt(started.id)
    assert (interrupted.state, interrupted.error) == (EvaluationState.INTERRUPTED, "interrupted")
    assert interrupted.finished_at is not None and interrupted.finished_at == interrupted.updated_at
    assert setup.evaluations.run(started.id) == interrupted
    assert setup.backend.requests == []
    assert setup.evaluations.headline("job-1") == "Interrupted at 0/4; click Evaluate to run it again"
    kinds = [(q.key, q.post.kind) for q in setup.queued()]
    assert kinds[-1] == (f"job-1:evaluation:{started.id}", PostKind.EVALUATION)
    assert PostKind.EVALUATION_CHART not in [k for _, k in kinds]


# --- the judge --------------------------------------------------------------------------------------


def test_the_judge_sees_the_two_replies_in_an_order_that_alternates(tmp_path: Path) -> None:
    judge = FakeJudge("A")
    setup = Setup(tmp_path, 10, judge=judge)
    done = setup.evaluations.run(setup.evaluations.start(ACTOR, "job-1").id)
    calls = sorted(judge.calls, key=lambda c: _order_of(c[0]))
    tuned = [f"Order {i} ships tomorrow." if i % 2 == 0 else f"tuned {i}" for i in range(10)]
    assert calls == [
        (
            f"Where is order {i}?",
            f"Order {i} ships tomorrow.",
            *((tuned[i], f"base {i}") if i % 2 == 0 else (f"base {i}", tuned[i])),
        )
        for i in range(10)
    ]
    # "A" is the fine-tuned reply on even examples, the base reply on odd ones
    assert [a.judge for a in done.answers] == [
        Verdict(
            model="judge-m",
            preference=Preference.TUNED if i % 2 == 0 else Preference.BASE,
            prompt_tokens=20,
            completion_tokens=2,
        )
        for i in range(10)
    ]
    post = next(q.post for q in setup.queued() if q.post.kind is PostKind.EVALUATION)
    assert post.data["judge"] == {"model": "judge-m", "tuned": 5, "base": 5, "tie": 0, "failed": 0}
    assert post.data["costs"][-1] == (  # type: ignore[index]
        "Judge (judge-m): 200 prompt + 20 reply tokens (no price for judge-m in FTBOT_PRICES)"
    )


def test_the_judges_b_and_tie(tmp_path: Path) -> None:
    judge = FakeJudge("B", q3="tie")
    setup = Setup(tmp_path, 4, judge=judge)
    done = setup.evaluations.run(setup.evaluations.start(ACTOR, "job-1").id)
    assert [a.judge.preference if a.judge else None for a in done.answers] == [
        Preference.BASE,
        Preference.TUNED,
        Preference.BASE,
        Preference.TIE,
    ]
    assert [a.judge.error if a.judge else "-" for a in done.answers] == [None] * 4


def test_a_verdict_the_judge_did_not_give_says_why(tmp_path: Path) -> None:
    judge = FakeJudge("maybe", q1=None)
    setup = Setup(tmp_path, 2, judge=judge)
    done = setup.evaluations.run(setup.evaluations.start(ACTOR, "job-1").id)
    assert [a.judge for a in done.answers] == [
        Verdict(model="judge-m", error="unreadable verdict 'maybe'", prompt_tokens=20, completion_tokens=2),
        Verdict(model="judge-m", error="unreadable verdict None", prompt_tokens=20, completion_tokens=2),
    ]
    (tmp_path / "two").mkdir()
    failing = Setup(tmp_path / "two", 2, judge=FakeJudge(None, error="judge down", q1="A"))
    done = failing.evaluations.run(failing.evaluations.start(ACTOR, "job-1").id)
    assert [(a.judge.preference, a.judge.error) if a.judge else None for a in done.answers] == [
        (None, "judge down"),
        (Preference.BASE, None),
    ]


def test_no_judge_without_a_base_model(tmp_path: Path) -> None:
    judge = FakeJudge()
    setup = Setup(tmp_path, 2, judge=judge, base=False)
    done = setup.evaluations.run(setup.evaluations.start(ACTOR, "job-1").id)
    assert [(a.base, a.judge) for a in done.answers] == [(None, None), (None, None)]
    assert judge.calls == []


def test_a_run_by_a_process_without_a_base_chat_asks_the_fine_tuned_model_only(tmp_path: Path) -> None:
    setup = Setup(tmp_path, 2)
    started = setup.evaluations.start(ACTOR, "job-1")
    assert started.base_model == "m"
    done = setup.make("proc-A", base=False).run(started.id)
    assert [a.base for a in done.answers] == [None, None]
    assert setup.backend.base_requests == []


def test_the_cost_lines_are_priced(tmp_path: Path) -> None:
    setup = Setup(tmp_path, 2)
    prices: list[tuple[str, int, int]] = []

    def pricer(model: str, input_tokens: int, output_tokens: int) -> Money | None:
        prices.append((model, input_tokens, output_tokens))
        return Money(amount=Decimal("1.5"), currency="EUR") if model == "m" else None

    evaluations = setup.make("proc-A", pricer=pricer)
    done = evaluations.run(evaluations.start(ACTOR, "job-1").id)
    post = next(q.post for q in setup.queued() if q.post.kind is PostKind.EVALUATION)
    assert post.data["costs"] == [
        "Fine-tuned (on m): 21 prompt + 1 reply tokens ≈ EUR 1.50",
        "Base (m): 2 prompt + 200 reply tokens ≈ EUR 1.50",
    ]
    assert prices == [("m", 21, 1), ("m", 2, 200)] and done.done == 2


# --- after a restart, and the reads -----------------------------------------------------------------


def test_an_evaluation_not_written_for_ten_minutes_is_taken_over_and_finished(tmp_path: Path) -> None:
    setup = Setup(tmp_path, 2, owner="proc-A")
    started = setup.evaluations.start(ACTOR, "job-1")
    other = setup.make("proc-B")
    setup.clock.advance(minutes=9, seconds=59)
    assert other.resume_stale() == []
    assert setup.stored(started.id).owner == "proc-A"
    setup.clock.advance(seconds=1)
    assert other.resume_stale(skip={"other-ev"}) == [started.id]
    done = setup.stored(started.id)
    assert (done.owner, done.state, done.done) == ("proc-B", EvaluationState.SUCCEEDED, 2)


def test_resume_stale_skips_the_ones_this_process_runs(tmp_path: Path) -> None:
    setup = Setup(tmp_path, 2)
    started = setup.evaluations.start(ACTOR, "job-1")
    setup.clock.advance(minutes=2)
    assert setup.evaluations.resume_stale(stale_after=timedelta(minutes=1), skip=[started.id]) == []
    assert setup.stored(started.id).state is EvaluationState.RUNNING
    assert setup.backend.requests == []
    assert setup.evaluations.resume_stale(stale_after=timedelta(minutes=1)) == [started.id]
    assert setup.stored(started.id).state is EvaluationState.SUCCEEDED


def test_the_reads(tmp_path: Path) -> None:
    setup = Setup(tmp_path, 2)
    assert setup.evaluations.latest("job-1") is None
    assert setup.evaluations.headline("job-1") is None
    assert setup.evaluations.headline("no-such-job") is None
    with pytest.raises(NotFound):
        setup.evaluations.latest("no-such-job")
    with pytest.raises(NotFound):
        setup.evaluations.get("no-such-evaluation")
    first = setup.evaluations.run(setup.evaluations.start(ACTOR, "job-1").id)
    assert setup.evaluations.get(first.id) == first
    assert setup.evaluations.latest("job-1") == first
    assert setup.evaluations.headline("job-1") == headline(first)
    setup.clock.advance(minutes=1)
    second = setup.evaluations.start(ACTOR, "job-1")
    assert setup.evaluations.latest("job-1") == second
    assert setup.evaluations.headline("job-1") == "Evaluating: 0/2"


def test_an_answer_is_timed_to_the_millisecond(monkeypatch: pytest.MonkeyPatch) -> None:
    readings = iter([100.0, 101.23456, 200.0, 200.12345])
    monkeypatch.setattr(service, "time", SimpleNamespace(monotonic=lambda: next(readings)))
    reply = ChatReply(content="hi", usage=Usage(prompt_tokens=3, completion_tokens=4))
    assert service._answer(lambda: reply) == Answer(
        reply="hi", prompt_tokens=3, completion_tokens=4, seconds=1.235
    )

    def fail() -> ChatReply:
        raise Unavailable("busy {what}", what="now")

    assert service._answer(fail) == Answer(error="busy now", seconds=0.123)


class AllAtOnce(Scripted):
    """Answers only once all of a batch's 8 requests to the fine-tuned model are in flight together."""

    def __init__(self) -> None:
        super().__init__()
        self.barrier = threading.Barrier(8, timeout=5)

    def chat(self, endpoint_name: str, request: ChatRequest) -> ChatReply:
        self.barrier.wait()
        return super().chat(endpoint_name, request)


class JudgeAllAtOnce(FakeJudge):
    """Judges only once the 8 comparisons of a batch are asked together."""

    def __init__(self) -> None:
        super().__init__("tie")
        self.barrier = threading.Barrier(8, timeout=5)

    def compare(self, question: str, reference: str, answer_a: str, answer_b: str) -> JudgeCall:
        self.barrier.wait()
        return super().compare(question, reference, answer_a, answer_b)


def test_a_batchs_examples_are_asked_and_judged_all_at_once(tmp_path: Path) -> None:
    judge = JudgeAllAtOnce()
    setup = Setup(tmp_path, 8, judge=judge)
    setup.backend = AllAtOnce()
    evaluations = setup.make("proc-A", judge=judge)
    done = evaluations.run(evaluations.start(ACTOR, "job-1").id)
    assert done.state is EvaluationState.SUCCEEDED
    assert [a.judge.preference if a.judge else None for a in done.answers] == [Preference.TIE] * 8
