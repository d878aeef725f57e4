"""Evaluate a checkpoint's endpoint without Slack: ``--checkpoint N`` finds the ready endpoint serving that
checkpoint; Evaluate on a job whose live endpoint is a checkpoint's deployment records that checkpoint;
with nothing serving it the evaluation says so (and what is in the way), never deploying."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from commands.errors import Conflict, InvalidInput
from commands.evaluation.records import EvaluationState, ExamplesSource
from commands.evaluation.service import Evaluations, NoLiveEndpoint
from commands.models import (
    ChatReply,
    ChatRequest,
    Checkpoint,
    DatasetRef,
    DeployOptions,
    EndpointState,
    Usage,
)
from commands.records import Actor, EndpointRecord, EvaluationFigures, ModelScores, PostKind
from tests.commands.lifecycle.records import T0, deps, endpoint_record, job_record
from tests.fakes.backend import FakeBackend
from tests.support.data import chat_lines
from tests.support.memory_evaluations import EvaluationMemoryStore

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
