"""What a backend offers beyond the common Protocol, through the use cases and the in-memory store: DPO
and training tiers at submission, Pause and Resume, checkpoints in the thread, and a deploy request
(checkpoint, SKU) kept whole from the request through its approval to the backend call."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from commands.errors import Conflict, InvalidInput, PermissionDenied, Unavailable
from commands.lifecycle import Lifecycle, LocalData, SubmitRequest
from commands.models import DeployOptions, Hyperparameters, JobState, Method
from commands.records import Actor, PostKind, Surface
from tests.fakes.backend import FakeBackend, RichFakeBackend
from tests.support.data import chat_lines, preference_lines
from tests.support.doubles import APPROVER, Approvers, Clock
from tests.support.memory_store import MemoryStore

USER = "UMEMBER01"
OTHER = "UOTHER001"

World = tuple[Lifecycle, RichFakeBackend, MemoryStore]


def make(tmp_path: Path, backend: FakeBackend) -> Lifecycle:
    return Lifecycle(
        backend=backend, store=MemoryStore(), clock=Clock(), approvers=Approvers(), work_dir=tmp_path / "w"
    )


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    backend = RichFakeBackend()
    store = MemoryStore()
    life = Lifecycle(
        backend=backend, store=store, clock=Clock(), approvers=Approvers(), work_dir=tmp_path / "w"
    )
    yield life, backend, store


def data(tmp_path: Path, text: str, name: str = "train.jsonl") -> LocalData:
    path = tmp_path / name
    path.write_text(text)
    return LocalData(path=path, name=name)


def actor(user: str = USER) -> Actor:
    return Actor(user_id=user, channel_id="CJOBS1", surface=Surface.BUTTON)


def started(life: Lifecycle, request: SubmitRequest) -> str:
    job = life.jobs.submit(actor(), life.jobs.check(request))
    life.jobs.start(job.id)
    return job.id


def run_to_end(life: Lifecycle, job_id: str) -> None:
    for _ in range(30):
        if life.jobs.poll(job_id).state.terminal:
            return
    raise AssertionError("job did not finish")


# --- DPO and training tiers at submission ----------------------------------------------------------


def test_dpo_job_carries_method_beta_and_tier_to_the_backend(world: World, tmp_path: Path) -> None:
    life, backend, _ = world
    request = SubmitRequest(
        model="ftbot-tiny",
        training=data(tmp_path, preference_lines(20)),
        method=Method.DPO,
        hyperparameters=Hyperparameters(beta=0.2),
        training_type="globalstandard",
    )
    checked = life.jobs.check(request)
    assert checked.report.stats.format == "preference"
    job_id = started(life, checked.request)
    spec = backend.jobs[job_id]["spec"]
    assert spec.method is Method.DPO and spec.hyperparameters.beta == 0.2
    assert spec.training_type == "GlobalStandard"  # as the backend spells it


def test_a_model_without_dpo_is_refused_before_anything_starts(world: World, tmp_path: Path) -> None:
    life, backend, _ = world
    request = SubmitRequest(
        model="Phi-4-mini-instruct", training=data(tmp_path, preference_lines(20)), method=Method.DPO
    )
    with pytest.raises(InvalidInput, match="cannot be fine-tuned with DPO") as e:
        life.jobs.check(request)
    assert e.value.field == "method" and backend.calls["upload_dataset"] == 0


def test_unknown_tier_beta_without_dpo_and_tiers_on_a_plain_backend_are_refused(
    world: World, tmp_path: Path
) -> None:
    life, _, _ = world
    training = data(tmp_path, chat_lines(20))
    with pytest.raises(InvalidInput, match="no training tier called"):
        life.jobs.check(SubmitRequest(model="ftbot-tiny", training=training, training_type="Premium"))
    with pytest.raises(InvalidInput, match="DPO setting"):
        life.jobs.check(
            SubmitRequest(model="ftbot-tiny", training=training, hyperparameters=Hyperparameters(beta=0.1))
        )
    plain = make(tmp_path, FakeBackend())
    with pytest.raises(InvalidInput, match="has no training tiers"):
        plain.jobs.check(SubmitRequest(model="ftbot-tiny", training=training, training_type="Standard"))
    with pytest.raises(InvalidInput, match="cannot be fine-tuned with DPO"):
        plain.jobs.check(
            SubmitRequest(
                model="ftbot-tiny", training=data(tmp_path, preference_lines(20)), method=Method.DPO
            )
        )


# --- Pause and Resume --------------------------------------------------------------------------------


def test_pause_and_resume_by_the_submitter_are_audited_and_posted(world: World, tmp_path: Path) -> None:
    life, backend, store = world
    backend.epochs = 50
    job_id = started(life, SubmitRequest(model="ftbot-tiny", training=data(tmp_path, chat_lines(20))))
    life.jobs.poll(job_id)  # running
    with pytest.raises(Conflict, match="only a paused job"):
        life.pauses.resume(actor(), job_id)
    paused = life.pauses.pause(actor(), job_id)
    assert paused.state is JobState.PAUSED
    assert life.jobs.poll(job_id).state is JobState.PAUSED  # the service holds it
    resumed = life.pauses.resume(actor(APPROVER), job_id)  # an approver may too
    assert resumed.state is JobState.RUNNING
    kinds = [p.kind for p in store.posts(job_id)]
    assert kinds.count(PostKind.PAUSED) == 1 and kinds.count(PostKind.RESUMED) == 1
    audit = [(e.action, e.actor, e.result) for e in store.audit_log if e.action in ("pause", "resume")]
    assert audit == [("pause", USER, "ok"), ("resume", APPROVER, "ok")]


def test_only_the_submitter_or_an_approver_may_pause(world: World, tmp_path: Path) -> None:
    life, backend, store = world
    backend.epochs = 50
    job_id = started(life, SubmitRequest(model="ftbot-tiny", training=data(tmp_path, chat_lines(20))))
    life.jobs.poll(job_id)
    with pytest.raises(PermissionDenied, match="Only the submitter"):
        life.pauses.pause(actor(OTHER), job_id)
    assert backend.calls["pause_job"] == 0
    assert [(e.action, e.result) for e in store.audit_log if e.actor == OTHER] == [("pause", "denied")]


def test_a_backend_that_cannot_pause_says_so(tmp_path: Path) -> None:
    life = make(tmp_path, FakeBackend())
    job_id = started(life, SubmitRequest(model="ftbot-tiny", training=data(tmp_path, chat_lines(20))))
    with pytest.raises(InvalidInput, match="backend cannot pause jobs"):
        life.pauses.pause(actor(), job_id)
    card = life.queries.card(job_id)
    assert not card.pausable and not card.deploy_dialog


# --- checkpoints and the deploy request ----------------------------------------------------------------


def succeeded(life: Lifecycle, tmp_path: Path) -> str:
    job_id = started(life, SubmitRequest(model="ftbot-tiny", training=data(tmp_path, chat_lines(20))))
    run_to_end(life, job_id)
    return job_id


def test_a_succeeded_job_lists_its_checkpoints_in_the_thread_once(world: World, tmp_path: Path) -> None:
    life, _backend, store = world
    job_id = succeeded(life, tmp_path)
    run_to_end(life, job_id)
    listed = [p for p in store.posts(job_id) if p.kind is PostKind.CHECKPOINTS]
    assert len(listed) == 1
    checkpoints = listed[0].data["checkpoints"]
    assert isinstance(checkpoints, list)
    assert [c["number"] for c in checkpoints] == [1, 2] and checkpoints[0]["metrics"]["train_loss"] > 0
    card = life.queries.card(job_id)
    assert card.pausable and card.deploy_dialog


def test_checkpoints_that_cannot_be_listed_do_not_stop_the_success(world: World, tmp_path: Path) -> None:
    life, backend, store = world
    backend.epochs = 1
    job_id = started(life, SubmitRequest(model="ftbot-tiny", training=data(tmp_path, chat_lines(20))))
    for _ in range(3):
        life.jobs.poll(job_id)

    backend.fail_next["list_checkpoints"] = Unavailable("throttled")
    run_to_end(life, job_id)
    assert life.queries.card(job_id).job.state is JobState.SUCCEEDED
    assert PostKind.CHECKPOINTS not in [p.kind for p in store.posts(job_id)]


def test_a_request_for_a_checkpoint_is_approved_and_deployed_exactly(world: World, tmp_path: Path) -> None:
    life, backend, store = world
    job_id = succeeded(life, tmp_path)
    choices = life.deploys.choices(actor(), job_id)
    assert [c.number for c in choices.checkpoints] == [1, 2] and not choices.approver
    assert choices.skus[0].name == "Standard"
    outcome = life.deploys.request_deploy(actor(), job_id, DeployOptions(checkpoint=1))
    assert outcome.approval is not None and outcome.approval.options == DeployOptions(checkpoint=1)
    request = next(p for p in store.posts(job_id) if p.kind is PostKind.APPROVAL_REQUEST)
    assert request.data["options"] == {"checkpoint": 1, "sku": None, "target": None}
    life.deploys.decide(actor(APPROVER), outcome.approval.id, True)
    model = backend.jobs[job_id]["spec"].output_model_name
    assert backend.deploys == [(f"{model}:ckpt-1", "ftbot-" + job_id.rsplit("-", 1)[-1] + "-1", None)]
    endpoint = life.queries.card(job_id).endpoint
    assert endpoint is not None and endpoint.options.checkpoint == 1 and endpoint.model.endswith(":ckpt-1")


def test_an_approver_chooses_the_sku_and_a_redeploy_keeps_it(world: World, tmp_path: Path) -> None:
    life, backend, _ = world
    job_id = succeeded(life, tmp_path)
    outcome = life.deploys.request_deploy(actor(APPROVER), job_id, DeployOptions(sku="developer"))
    assert outcome.endpoint is not None and outcome.endpoint.options.sku == "Developer"
    assert backend.deploys[-1][2] == "Developer"
    assert life.endpoints.deploy_on_backend(outcome.endpoint).options.sku == "Developer"
    assert backend.deploys[-1][2] == "Developer"  # a retried deploy asks for the same SKU


def test_deploy_options_the_job_or_the_user_cannot_have_are_refused(world: World, tmp_path: Path) -> None:
    life, backend, _store = world
    job_id = succeeded(life, tmp_path)
    with pytest.raises(InvalidInput, match="no checkpoint 9") as e:
        life.deploys.request_deploy(actor(APPROVER), job_id, DeployOptions(checkpoint=9))
    assert "deployable: 1, 2" in e.value.message
    with pytest.raises(InvalidInput, match="no deployment SKU called"):
        life.deploys.request_deploy(actor(APPROVER), job_id, DeployOptions(sku="Premium"))
    with pytest.raises(PermissionDenied, match="Only approvers choose the deployment SKU"):
        life.deploys.request_deploy(actor(), job_id, DeployOptions(sku="Standard"))
    assert backend.calls["deploy_model"] == 0 and life.queries.card(job_id).pending_approval is None
    plain = make(tmp_path / "plain", FakeBackend())
    plain_job = succeeded(plain, tmp_path)
    with pytest.raises(InvalidInput, match="keeps no checkpoints"):
        plain.deploys.request_deploy(actor(APPROVER), plain_job, DeployOptions(checkpoint=1))
    with pytest.raises(InvalidInput, match="has no deployment SKUs"):
        plain.deploys.request_deploy(actor(APPROVER), plain_job, DeployOptions(sku="Standard"))
    approval = plain.deploys.request_deploy(actor(), plain_job).approval  # one click records a request
    assert approval is not None and approval.options == DeployOptions()
