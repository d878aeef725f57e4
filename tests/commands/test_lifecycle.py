"""The lifecycle use cases against the in-memory store (it passes the store contract suite) and a Protocol
fake backend."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from commands.errors import Conflict, InvalidInput, PermissionDenied
from commands.lifecycle import DatasetRejected, Lifecycle, LocalData, SubmitRequest
from commands.models import EndpointState, Hyperparameters, JobState
from commands.records import Actor, PostKind, Surface
from tests.fakes.backend import FakeBackend
from tests.support.data import chat_lines
from tests.support.doubles import Approvers, Clock
from tests.support.memory_store import MemoryStore

APPROVER = "UAPPROVER1"
USER = "UMEMBER01"


@pytest.fixture
def data(tmp_path: Path) -> LocalData:
    path = tmp_path / "train.jsonl"
    path.write_text(chat_lines(30))
    return LocalData(path=path, name="train.jsonl")


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Lifecycle, FakeBackend, MemoryStore, Clock]]:
    backend = FakeBackend()
    store = MemoryStore()
    clock = Clock()
    life = Lifecycle(
        backend=backend, store=store, clock=clock, approvers=Approvers(), work_dir=tmp_path / "work"
    )
    yield life, backend, store, clock


def actor(user: str = USER) -> Actor:
    return Actor(user_id=user, channel_id="CJOBS1", surface=Surface.BUTTON)


def posts(store: MemoryStore, job_id: str) -> list[PostKind]:
    return [p.kind for p in store.posts(job_id)]


def run_to_end(life: Lifecycle, job_id: str) -> None:
    for _ in range(20):
        if life.jobs.poll(job_id).state.terminal:
            return
    raise AssertionError("job did not finish")


def succeeded_job(life: Lifecycle, data: LocalData) -> str:
    job = life.jobs.submit(actor(), life.jobs.check(SubmitRequest(model="ftbot-tiny", training=data)))
    life.jobs.start(job.id)
    run_to_end(life, job.id)
    return job.id


def test_submit_start_and_poll_to_success_post_each_change_once(world, data) -> None:  # type: ignore[no-untyped-def]
    life, backend, store, _ = world
    checked = life.jobs.check(SubmitRequest(model="ftbot-tiny", training=data, split=0.2))
    assert checked.summary.examples == 30 and checked.summary.epochs == 3
    job = life.jobs.submit(actor(), checked)
    assert job.state is JobState.PENDING
    started = life.jobs.start(job.id)
    assert started.state is JobState.QUEUED
    assert started.spec.training.kind == "asset" and started.spec.validation is not None
    run_to_end(life, job.id)
    run_to_end(life, job.id)  # polling a finished job changes nothing
    final = life.queries.card(job.id).job
    assert final.state is JobState.SUCCEEDED and final.output_model
    kinds = posts(store, job.id)
    assert kinds.count(PostKind.QUEUED) == 1 and kinds.count(PostKind.RUNNING) == 1
    assert kinds.count(PostKind.EPOCH) == backend.epochs
    assert kinds.count(PostKind.SUCCEEDED) == 1 and kinds.count(PostKind.LOSS_CHART) == 1
    assert backend.submitted[job.id] == 1


def test_start_is_idempotent_and_never_submits_twice(world, data) -> None:  # type: ignore[no-untyped-def]
    life, backend, _, _ = world
    job = life.jobs.submit(actor(), life.jobs.check(SubmitRequest(model="ftbot-tiny", training=data)))
    for _ in range(3):
        life.jobs.start(job.id)
        life.jobs.poll(job.id)
    assert backend.submitted[job.id] == 1


def test_launch_checks_records_and_starts_and_refuses_bad_data(world, data, tmp_path) -> None:  # type: ignore[no-untyped-def]
    life, backend, _, _ = world
    request = SubmitRequest(model="ftbot-tiny", training=data)
    launched = life.jobs.launch(actor(), lambda: request, what="submit")
    assert launched.checked.report.examples == 30
    assert launched.job.state is JobState.QUEUED and backend.submitted[launched.job.id] == 1
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json\n")
    with pytest.raises(DatasetRejected):
        bad_data = LocalData(path=bad, name="bad")
        life.jobs.launch(actor(), lambda: SubmitRequest(model="ftbot-tiny", training=bad_data), what="submit")
    assert backend.calls["submit_job"] == 1 and len(life.queries.jobs()) == 1


def test_a_launch_is_recorded_while_it_checks_and_closed_either_way(world, data, tmp_path) -> None:  # type: ignore[no-untyped-def]
    life, _, store, _ = world
    seen: list[int] = []

    def prepare() -> SubmitRequest:  # the download and check run while the launch is recorded
        with store.transaction() as tx:
            seen.append(len(tx.checking_launches()))
        return SubmitRequest(model="ftbot-tiny", training=data)

    launched = life.jobs.launch(actor(), prepare, what="/finetune submit --model ftbot-tiny")
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json\n")
    with pytest.raises(DatasetRejected):
        bad_data = LocalData(path=bad, name="bad")
        life.jobs.launch(actor(), lambda: SubmitRequest(model="ftbot-tiny", training=bad_data), what="x")
    with store.transaction() as tx:
        assert seen == [1]  # recorded before the check, with what to run again
        assert tx.checking_launches() == []  # submitted, or answered by the error itself
        assert launched.job.id in {j.id for j in tx.find_jobs()}


def test_dataset_with_errors_is_rejected_with_line_numbers(world, tmp_path) -> None:  # type: ignore[no-untyped-def]
    life, backend, _, _ = world
    bad = tmp_path / "bad.jsonl"
    bad.write_text(chat_lines(12) + "{not json\n")
    with pytest.raises(DatasetRejected) as e:
        life.jobs.check(SubmitRequest(model="ftbot-tiny", training=LocalData(path=bad, name="bad.jsonl")))
    assert "line 13" in e.value.message
    assert backend.calls["submit_job"] == 0


def test_unknown_model_is_a_clear_error(world, data) -> None:  # type: ignore[no-untyped-def]
    life, _, _, _ = world
    with pytest.raises(InvalidInput, match="/finetune models"):
        life.jobs.check(SubmitRequest(model="gpt-99", training=data))


def test_failed_job_posts_the_reason(world, data) -> None:  # type: ignore[no-untyped-def]
    life, backend, store, _ = world
    job = life.jobs.submit(actor(), life.jobs.check(SubmitRequest(model="ftbot-tiny", training=data)))
    backend.fail_jobs[job.id] = "UserError: learning rate too high"
    life.jobs.start(job.id)
    run_to_end(life, job.id)
    rec = life.queries.card(job.id).job
    assert rec.state is JobState.FAILED and rec.error == "UserError: learning rate too high"
    assert PostKind.FAILED in posts(store, job.id)


def test_cancel_by_submitter_and_refusal_for_others(world, data) -> None:  # type: ignore[no-untyped-def]
    life, _backend, store, _ = world
    job = life.jobs.submit(actor(), life.jobs.check(SubmitRequest(model="ftbot-tiny", training=data)))
    life.jobs.start(job.id)
    with pytest.raises(PermissionDenied):
        life.jobs.cancel(actor("UOTHER001"), job.id)
    life.jobs.cancel(actor(), job.id)
    assert life.queries.card(job.id).job.state is JobState.CANCELLED
    with pytest.raises(Conflict):
        life.jobs.cancel(actor(), job.id)
    results = [(e.actor, e.action, e.result) for e in store.audit_log]
    assert ("UOTHER001", "cancel", "denied") in results


def test_cancel_before_submission_never_reaches_the_backend(world, data) -> None:  # type: ignore[no-untyped-def]
    life, backend, _, _ = world
    job = life.jobs.submit(actor(), life.jobs.check(SubmitRequest(model="ftbot-tiny", training=data)))
    life.jobs.cancel(actor(), job.id)
    assert life.queries.card(job.id).job.state is JobState.CANCELLED
    assert backend.calls["submit_job"] == 0


def test_concurrent_cancels_cancel_once(world, data) -> None:  # type: ignore[no-untyped-def]
    life, backend, _, _ = world
    job = life.jobs.submit(actor(), life.jobs.check(SubmitRequest(model="ftbot-tiny", training=data)))
    life.jobs.start(job.id)

    def click(_: int) -> str:
        try:
            life.jobs.cancel(actor(APPROVER), job.id)
            return "ok"
        except Conflict:
            return "conflict"

    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(click, range(20)))
    assert results.count("ok") == 1
    assert backend.calls["cancel_job"] == 1


def test_approver_deploys_non_approver_requests_approval(world, data) -> None:  # type: ignore[no-untyped-def]
    life, _backend, store, _ = world
    job_id = succeeded_job(life, data)
    outcome = life.deploys.request_deploy(actor(), job_id)
    assert outcome.approval is not None and outcome.approval_is_new and outcome.endpoint is None
    again = life.deploys.request_deploy(actor("UOTHER001"), job_id)
    assert (
        again.approval is not None and not again.approval_is_new and again.approval.id == outcome.approval.id
    )
    with pytest.raises(PermissionDenied):
        life.deploys.decide(actor(), outcome.approval.id, True)
    life.deploys.decide(actor(APPROVER), outcome.approval.id, True)
    with pytest.raises(Conflict, match="already approved"):
        life.deploys.decide(actor(APPROVER), outcome.approval.id, False)
    ep = life.queries.card(job_id).endpoint
    assert ep is not None and ep.state is EndpointState.CREATING
    assert life.endpoints.poll(ep.name).state is EndpointState.READY
    kinds = posts(store, job_id)
    assert {
        PostKind.APPROVAL_REQUEST,
        PostKind.APPROVAL_DECIDED,
        PostKind.DEPLOYING,
        PostKind.DEPLOYED,
    } <= set(kinds)


def test_rejected_request_does_not_deploy(world, data) -> None:  # type: ignore[no-untyped-def]
    life, backend, _, _ = world
    job_id = succeeded_job(life, data)
    outcome = life.deploys.request_deploy(actor(), job_id)
    assert outcome.approval is not None
    life.deploys.decide(actor(APPROVER), outcome.approval.id, False)
    assert backend.calls["deploy_model"] == 0
    assert life.queries.card(job_id).pending_approval is None


def test_twenty_concurrent_deploy_clicks_create_one_endpoint(world, data) -> None:  # type: ignore[no-untyped-def]
    life, backend, store, _ = world
    job_id = succeeded_job(life, data)

    def click(_: int) -> str:
        try:
            life.deploys.request_deploy(actor(APPROVER), job_id)
            return "ok"
        except Conflict:
            return "conflict"

    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(click, range(20)))
    assert results.count("ok") == 1
    assert backend.calls["deploy_model"] == 1
    assert len(store.endpoints) == 1


def test_teardown_is_approver_only_once_and_model_can_be_redeployed(world, data) -> None:  # type: ignore[no-untyped-def]
    life, backend, store, _ = world
    job_id = succeeded_job(life, data)
    ep = life.deploys.deploy(actor(APPROVER), job_id)
    life.endpoints.poll(ep.name)
    with pytest.raises(PermissionDenied):
        life.endpoints.teardown(actor(), ep.name)

    def click(_: int) -> str:
        try:
            life.endpoints.teardown(actor(APPROVER), ep.name)
            return "ok"
        except Conflict:
            return "conflict"

    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(click, range(20)))
    assert results.count("ok") == 1 and backend.calls["delete_endpoint"] == 1
    assert life.queries.endpoint(ep.name).state is EndpointState.DELETED
    assert PostKind.TORN_DOWN in posts(store, job_id)
    second = life.deploys.deploy(actor(APPROVER), job_id)
    assert second.name != ep.name


def test_chat_posts_the_exchange_and_resets_idleness(world, data) -> None:  # type: ignore[no-untyped-def]
    life, _, store, _clock = world
    job_id = succeeded_job(life, data)
    ep = life.deploys.deploy(actor(APPROVER), job_id)
    with pytest.raises(Conflict, match="not ready"):
        life.endpoints.chat(actor(), ep.name, "hi")
    life.endpoints.poll(ep.name)
    reply = life.endpoints.chat(actor(), ep.name, "Where is order 7?", temperature=0.0, max_tokens=16)
    assert reply.content == "echo: Where is order 7?"
    assert PostKind.CHAT in posts(store, job_id)
    with pytest.raises(InvalidInput):
        life.endpoints.chat(actor(), ep.name, "   ")
    assert life.queries.endpoint(ep.name).last_used_at is not None


def test_idle_reminder_once_then_ttl_teardown(world, data, tmp_path) -> None:  # type: ignore[no-untyped-def]
    life, backend, store, clock = world
    job_id = succeeded_job(life, data)
    ep = life.deploys.deploy(actor(APPROVER), job_id)
    life.endpoints.poll(ep.name)
    assert life.endpoints.sweep() == 0
    clock.advance(hours=25)
    assert life.endpoints.sweep() == 1
    assert life.endpoints.sweep() == 0  # reminded once
    assert posts(store, job_id).count(PostKind.IDLE_REMINDER) == 1
    ttl = Lifecycle(
        backend=backend, store=store, clock=clock, approvers=Approvers(), work_dir=tmp_path, ttl_hours=24
    )
    assert ttl.endpoints.sweep() == 1
    assert life.queries.endpoint(ep.name).state is EndpointState.DELETED
    assert PostKind.TTL_TEARDOWN in posts(store, job_id)


def test_deploy_interrupted_before_the_backend_call_is_finished_by_polling(world, data) -> None:  # type: ignore[no-untyped-def]
    life, backend, _store, clock = world
    job_id = succeeded_job(life, data)
    backend.fail_next["deploy_model"] = ConnectionError("process died")  # stands in for a crash mid-deploy
    with pytest.raises(ConnectionError):
        life.deploys.deploy(actor(APPROVER), job_id)
    ep = life.queries.card(job_id).endpoint
    assert ep is not None and ep.state is EndpointState.CREATING
    assert life.endpoints.poll(ep.name).state is EndpointState.CREATING  # within the grace: no second call
    assert backend.calls["deploy_model"] == 1
    clock.advance(seconds=11)
    assert life.endpoints.poll(ep.name).state in (EndpointState.CREATING, EndpointState.READY)
    assert life.endpoints.poll(ep.name).state is EndpointState.READY
    assert backend.calls["deploy_model"] == 2 and len(backend.endpoints) == 1


def test_hyperparameters_pass_through(world, data) -> None:  # type: ignore[no-untyped-def]
    life, backend, _, _ = world
    hp = Hyperparameters(n_epochs=5, batch_size=4, learning_rate_multiplier=0.1)
    checked = life.jobs.check(
        SubmitRequest(model="ftbot-tiny", training=data, hyperparameters=hp, suffix="v2")
    )
    assert checked.summary.epochs == 5
    job = life.jobs.submit(actor(), checked)
    life.jobs.start(job.id)
    spec = backend.jobs[job.id]["spec"]
    assert spec.hyperparameters == hp and spec.suffix == "v2" and "v2" in job.id
    assert spec.tags["slack_user"] == USER and spec.tags["slack_channel"] == "CJOBS1"
