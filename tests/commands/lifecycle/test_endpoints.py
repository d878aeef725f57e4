"""Endpoints after the claim: deploy calls and their answers, polling, the dead-endpoint check, tear down,
test chat and the hygiene sweep (idle reminders, the TTL), against the in-memory store and scripted
endpoint operations (the training project's and one other deploy target's)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import cast

import pytest

from commands.costs.budgets import BudgetGuard
from commands.costs.prices import Money, Rate
from commands.costs.recorder import Costs
from commands.errors import (
    Conflict,
    EndpointGone,
    FtbotError,
    InvalidInput,
    NotFound,
    PermissionDenied,
    Unavailable,
)
from commands.lifecycle.base import Deps
from commands.lifecycle.endpoints import DEPLOY_GRACE, MAX_PROMPT, Endpoints
from commands.models import (
    ChatMessage,
    ChatReply,
    ChatRequest,
    DeployOptions,
    DeployTarget,
    Endpoint,
    EndpointState,
    Usage,
)
from commands.records import Actor, EndpointRecord, JobRecord, PostKind, Surface, ThreadPost
from tests.commands.lifecycle.records import job_record
from tests.fakes.backend import FakeBackend
from tests.support.doubles import APPROVER, Approvers, Clock
from tests.support.memory_store import MemoryStore, MemoryTx, QueuedPost

START = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)  # tests.support.doubles.Clock's first moment
MS = timedelta(milliseconds=1)
USER = "UMEMBER01"
WEST = DeployTarget(name="west", subscription_id="sub", resource_group="rg", project="proj")
HOME = DeployTarget(name="home", subscription_id="s0", resource_group="r0", project="p0")

# --- doubles ------------------------------------------------------------------------------------------


class Ops:
    """Scripted endpoint operations in one deploy target: what each call answers, and every call made."""

    def __init__(self) -> None:
        self.calls: list[tuple[object, ...]] = []
        self.deploy: Endpoint | FtbotError | None = None  # None: a CREATING endpoint
        self.remote: dict[str, Endpoint | FtbotError] = {}  # get_endpoint's answers (missing: NotFound)
        self.delete_error: FtbotError | None = None
        self.on_delete: Callable[[str], None] | None = None
        self.reply: ChatReply = ChatReply(
            content="Order 7 ships today.",
            finish_reason="stop",
            usage=Usage(prompt_tokens=2, completion_tokens=3, total_tokens=5),
            content_filter={"hate": "safe"},
        )
        self.requests: list[ChatRequest] = []

    def deploy_model(self, model: str, endpoint_name: str, *, sku: str | None = None) -> Endpoint:
        self.calls.append(("deploy", model, endpoint_name, sku))
        if isinstance(self.deploy, FtbotError):
            raise self.deploy
        return self.deploy or Endpoint(name=endpoint_name, model=model, state=EndpointState.CREATING)

    def get_endpoint(self, name: str) -> Endpoint:
        self.calls.append(("get", name))
        answer = self.remote.get(name)
        if answer is None:
            raise NotFound(f"no endpoint {name}")
        if isinstance(answer, FtbotError):
            raise answer
        return answer

    def list_endpoints(self) -> list[Endpoint]:
        return []

    def chat(self, endpoint_name: str, request: ChatRequest) -> ChatReply:
        self.calls.append(("chat", endpoint_name))
        self.requests.append(request)
        return self.reply

    def delete_endpoint(self, name: str) -> None:
        self.calls.append(("delete", name))
        if self.on_delete is not None:
            self.on_delete(name)
        if self.delete_error is not None:
            raise self.delete_error


class TargetedFake(FakeBackend):
    """A backend with a second deploy target (``west``); both targets' endpoint calls are scripted."""

    def __init__(self) -> None:
        super().__init__()
        self.home = Ops()
        self.west = Ops()

    def deploy_targets(self) -> list[DeployTarget]:
        return [HOME, WEST]

    def check_target(self, target: str, model: str, *, sku: str | None = None) -> None:
        return None

    def endpoints_at(self, target: str) -> Ops:
        if target != "west":
            raise NotFound(f"no target {target}")
        return self.west

    def deploy_model(self, model: str, endpoint_name: str, *, sku: str | None = None) -> Endpoint:
        return self.home.deploy_model(model, endpoint_name, sku=sku)

    def get_endpoint(self, name: str) -> Endpoint:
        return self.home.get_endpoint(name)

    def chat(self, endpoint_name: str, request: ChatRequest) -> ChatReply:
        return self.home.chat(endpoint_name, request)

    def delete_endpoint(self, name: str) -> None:
        self.home.delete_endpoint(name)


class FakeCosts:
    """Records what ``Endpoints`` tells ``Costs``; every reply costs one cent."""

    def __init__(self) -> None:
        self.hosting: list[tuple[EndpointRecord, JobRecord, datetime | None]] = []
        self.replies: list[tuple[str, str, str, Usage, datetime]] = []
        self.rates: list[tuple[str, str | None]] = []

    def hosting_started(self, endpoint: EndpointRecord, job: JobRecord, expires_at: datetime | None) -> None:
        self.hosting.append((endpoint, job, expires_at))

    def reply(
        self, job: JobRecord, endpoint: EndpointRecord, user_id: str, usage: Usage, at: datetime
    ) -> Money | None:
        self.replies.append((job.id, endpoint.name, user_id, usage, at))
        return Money(amount=Decimal("0.01"), currency="USD")

    def hosting_rate(self, model: str, sku: str | None) -> Rate | None:
        self.rates.append((model, sku))
        return Rate(hosting_per_hour=Decimal("1.5"), currency="USD")


class FakeBudgets:
    def __init__(self, note: str = "This channel has spent its budget.") -> None:
        self.note = note
        self.calls: list[tuple[str, str, Money | None, datetime]] = []

    def hosting_note(self, team_id: str, channel_id: str, per_hour: Money | None, now: datetime) -> str:
        self.calls.append((team_id, channel_id, per_hour, now))
        return self.note


class HookedTx(MemoryTx):
    """A transaction that runs the store's ``on_post`` after each post (another process acting meanwhile)."""

    def __init__(self, store: HookedStore, tx: MemoryTx) -> None:
        super().__init__(tx.t)
        self.store = store

    def post(self, post: ThreadPost, *, key: str, at: datetime) -> bool:
        done = super().post(post, key=key, at=at)
        if self.store.on_post is not None:
            self.store.on_post(self, post)
        return done


class HookedStore(MemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.on_post: Callable[[MemoryTx, ThreadPost], None] | None = None

    @contextmanager
    def transaction(self) -> Iterator[MemoryTx]:
        with super().transaction() as tx:
            yield HookedTx(self, tx)


@dataclass
class World:
    endpoints: Endpoints
    backend: TargetedFake
    store: HookedStore
    clock: Clock
    changes: list[int] = field(default_factory=list)

    def add(self, record: EndpointRecord) -> EndpointRecord:
        with self.store.transaction() as tx:
            tx.claim_endpoint(record)
        return record

    def get(self, name: str) -> EndpointRecord:
        with self.store.transaction() as tx:
            return tx.get_endpoint(name)

    def job(self, job_id: str = "job-1") -> JobRecord:
        with self.store.transaction() as tx:
            return tx.get_job(job_id)

    def outbox(self) -> list[QueuedPost]:
        return self.store.outbox

    def set_now(self, at: datetime) -> None:
        """The clock's next reading is ``at``."""
        self.clock.t = at - MS


def world(
    tmp_path: Path,
    *,
    costs: FakeCosts | None = None,
    budgets: FakeBudgets | None = None,
    **kw: float,
) -> World:
    backend = TargetedFake()
    store = HookedStore()
    clock = Clock()
    changes: list[int] = []
    deps = Deps(
        backend=backend,
        store=store,
        clock=clock,
        approvers=Approvers(),
        work_dir=tmp_path,
        on_change=lambda: changes.append(1),
        costs=cast(Costs, costs),
        budgets=cast(BudgetGuard, budgets),
    )
    with store.transaction() as tx:
        tx.add_job(job_record("job-1", channel="C7"))
    return World(Endpoints(deps, **kw), backend, store, clock, changes)


def record(
    name: str,
    state: EndpointState,
    *,
    at: datetime = START,
    target: str | None = None,
    sku: str | None = None,
    **kw: object,
) -> EndpointRecord:
    return EndpointRecord.model_validate(
        {
            "name": name,
            "job_id": "job-1",
            "model": f"{name}-model",
            "state": state,
            "requested_by": USER,
            "created_at": at,
            "updated_at": at,
            "options": DeployOptions(sku=sku, target=target),
            **kw,
        }
    )


def actor(user: str = USER) -> Actor:
    return Actor(user_id=user, channel_id="C7", surface=Surface.BUTTON)


def ready(name: str, *, uri: str | None = None, expires: datetime | None = None) -> Endpoint:
    return Endpoint(
        name=name, model=f"{name}-model", state=EndpointState.READY, scoring_uri=uri, expires_at=expires
    )


def failed(name: str, error: str | None = None) -> Endpoint:
    return Endpoint(name=name, model=f"{name}-model", state=EndpointState.FAILED, error=error)


def kinds(w: World) -> list[PostKind]:
    return [q.post.kind for q in w.outbox()]


# --- deploy on the backend ----------------------------------------------------------------------------


def test_a_deploy_that_is_ready_at_once_records_everything_and_posts_once(tmp_path: Path) -> None:
    costs = FakeCosts()
    w = world(tmp_path, costs=costs)
    expires = START + timedelta(hours=24)
    ep = w.add(record("ep-1", EndpointState.CREATING, last_used_at=START, idle_reminder_at=START))
    w.backend.home.deploy = ready("ep-1", uri="https://ep-1/score", expires=expires)
    w.set_now(START + timedelta(seconds=5))

    moved = w.endpoints.deploy_on_backend(ep)

    now = START + timedelta(seconds=5)
    assert w.backend.home.calls == [("deploy", "ep-1-model", "ep-1", None)]
    assert w.backend.west.calls == []
    assert moved == w.get("ep-1")
    assert (moved.state, moved.scoring_uri, moved.ready_at, moved.updated_at) == (
        EndpointState.READY,
        "https://ep-1/score",
        now,
        now,
    )
    assert moved.last_used_at is None and moved.error is None
    assert moved.idle_reminder_at == START  # untouched
    assert [(q.key, q.post.kind, q.post.data) for q in w.outbox()] == [
        ("job-1:deploy:ep-1:ready", PostKind.DEPLOYED, {"endpoint": "ep-1", "where": ""})
    ]
    assert w.job().version == 2  # the card is redrawn
    assert [(e, j.id, x) for e, j, x in costs.hosting] == [(moved, "job-1", expires)]
    assert w.changes == [1]


def test_a_deploy_to_another_target_goes_there_with_its_sku_and_names_it(tmp_path: Path) -> None:
    w = world(tmp_path)
    ep = w.add(record("ep-1", EndpointState.CREATING, target="west", sku="Developer"))
    w.backend.west.deploy = ready("ep-1", uri="https://west/score")

    moved = w.endpoints.deploy_on_backend(ep)

    assert w.backend.west.calls == [("deploy", "ep-1-model", "ep-1", "Developer")]
    assert w.backend.home.calls == []
    assert moved.state is EndpointState.READY and moved.scoring_uri == "https://west/score"
    assert [q.post.data for q in w.outbox()] == [{"endpoint": "ep-1", "where": "west (sub/rg/proj)"}]


def test_a_deploy_with_a_sku_at_home_passes_it(tmp_path: Path) -> None:
    w = world(tmp_path)
    ep = w.add(record("ep-1", EndpointState.CREATING, sku="Standard"))

    same = w.endpoints.deploy_on_backend(ep)

    assert w.backend.home.calls == [("deploy", "ep-1-model", "ep-1", "Standard")]
    assert same is ep  # still creating: nothing to record
    assert w.outbox() == [] and w.changes == [] and w.job().version == 1


def test_a_deploy_the_backend_failed_is_recorded_posted_and_removed(tmp_path: Path) -> None:
    costs = FakeCosts()
    w = world(tmp_path, costs=costs)
    ep = w.add(record("ep-1", EndpointState.CREATING, target="west"))
    w.backend.west.deploy = failed("ep-1", "out of quota")
    w.set_now(START + timedelta(minutes=1))

    moved = w.endpoints.deploy_on_backend(ep)

    now = START + timedelta(minutes=1)
    assert (moved.state, moved.error, moved.updated_at, moved.ready_at) == (
        EndpointState.FAILED,
        "out of quota",
        now,
        None,
    )
    assert moved == w.get("ep-1")
    assert [(q.key, q.post.kind, q.post.data) for q in w.outbox()] == [
        (
            "job-1:deploy:ep-1:failed",
            PostKind.DEPLOY_FAILED,
            {"endpoint": "ep-1", "reason": "out of quota", "stopped": False},
        )
    ]
    assert w.backend.west.calls == [("deploy", "ep-1-model", "ep-1", None), ("delete", "ep-1")]
    assert w.backend.home.calls == []
    assert w.job().version == 2
    assert costs.hosting == []  # a failed endpoint bills nothing
    assert w.changes == [1]


def test_a_conflict_with_our_own_earlier_deploy_adopts_it(tmp_path: Path) -> None:
    w = world(tmp_path)
    ep = w.add(record("ep-1", EndpointState.CREATING))
    w.backend.home.deploy = Conflict("ep-1-model is deployed as ep-1", existing="ep-1")
    w.backend.home.remote["ep-1"] = ready("ep-1", uri="https://ep-1/score")

    moved = w.endpoints.deploy_on_backend(ep)

    assert moved.state is EndpointState.READY and moved.scoring_uri == "https://ep-1/score"
    assert w.backend.home.calls == [("deploy", "ep-1-model", "ep-1", None), ("get", "ep-1")]


@pytest.mark.parametrize("existing", ["ep-other", None])
def test_a_conflict_with_another_deployment_fails_the_endpoint(tmp_path: Path, existing: str | None) -> None:
    w = world(tmp_path)
    ep = w.add(record("ep-1", EndpointState.CREATING))
    w.backend.home.deploy = Conflict("{model} is deployed as ep-other", existing=existing, model="ep-1-model")

    moved = w.endpoints.deploy_on_backend(ep)

    assert (moved.state, moved.error) == (EndpointState.FAILED, "ep-1-model is deployed as ep-other")
    assert [q.post.data["reason"] for q in w.outbox()] == ["ep-1-model is deployed as ep-other"]
    assert ("get", "ep-1") not in w.backend.home.calls


def test_an_unavailable_backend_leaves_the_endpoint_for_the_scheduler(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    w = world(tmp_path)
    ep = w.add(record("ep-1", EndpointState.CREATING))
    w.backend.home.deploy = Unavailable("throttled")

    with caplog.at_level(logging.WARNING, logger="ftbot.lifecycle"):
        same = w.endpoints.deploy_on_backend(ep)

    assert same is ep and w.get("ep-1") == ep
    assert w.outbox() == [] and w.changes == []
    assert caplog.messages == ["backend unavailable while deploying ep-1; the scheduler will retry"]
    assert [r.name for r in caplog.records] == ["ftbot.lifecycle"]


def test_any_other_backend_error_fails_the_endpoint_with_its_message(tmp_path: Path) -> None:
    w = world(tmp_path)
    ep = w.add(record("ep-1", EndpointState.CREATING))
    w.backend.home.deploy = InvalidInput("no deployment SKU {sku}", sku="Huge")

    moved = w.endpoints.deploy_on_backend(ep)

    assert (moved.state, moved.error) == (EndpointState.FAILED, "no deployment SKU Huge")
    assert [q.post.data["reason"] for q in w.outbox()] == ["no deployment SKU Huge"]
    assert w.backend.home.calls[-1] == ("delete", "ep-1")


def test_a_leftover_that_cannot_be_removed_is_logged_and_the_endpoint_stays_failed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    w = world(tmp_path)
    ep = w.add(record("ep-1", EndpointState.CREATING))
    w.backend.home.deploy = failed("ep-1", "crashed")
    w.backend.home.delete_error = Unavailable("backend down")

    with caplog.at_level(logging.WARNING, logger="ftbot.lifecycle"):
        moved = w.endpoints.deploy_on_backend(ep)

    assert moved.state is EndpointState.FAILED and w.get("ep-1").state is EndpointState.FAILED
    assert caplog.messages == ["could not remove the failed endpoint ep-1 from the backend: backend down"]


def test_a_state_someone_else_recorded_first_wins(tmp_path: Path) -> None:
    costs = FakeCosts()
    w = world(tmp_path, costs=costs)
    stale = w.add(record("ep-1", EndpointState.CREATING))
    with w.store.transaction() as tx:
        current = tx.transition_endpoint("ep-1", (EndpointState.CREATING,), EndpointState.FAILED, error="x")
    w.backend.home.deploy = ready("ep-1", uri="https://ep-1/score")

    got = w.endpoints.deploy_on_backend(stale)

    assert got == current and got.state is EndpointState.FAILED
    assert w.outbox() == [] and costs.hosting == [] and w.changes == []
    assert w.job().version == 1


def test_ready_without_costs_records_no_cost(tmp_path: Path) -> None:
    w = world(tmp_path)
    ep = w.add(record("ep-1", EndpointState.CREATING))
    w.backend.home.deploy = ready("ep-1")

    assert w.endpoints.deploy_on_backend(ep).state is EndpointState.READY


# --- polling ------------------------------------------------------------------------------------------


def test_polling_a_creating_endpoint_records_the_backend_s_answer(tmp_path: Path) -> None:
    costs = FakeCosts()
    w = world(tmp_path, costs=costs)
    w.add(record("ep-1", EndpointState.CREATING, target="west"))
    expires = START + timedelta(hours=3)
    w.backend.west.remote["ep-1"] = ready("ep-1", uri="https://west/ep-1", expires=expires)

    moved = w.endpoints.poll("ep-1")

    assert (moved.state, moved.scoring_uri) == (EndpointState.READY, "https://west/ep-1")
    assert w.backend.west.calls == [("get", "ep-1")] and w.backend.home.calls == []
    assert [(e, j.id, x) for e, j, x in costs.hosting] == [(moved, "job-1", expires)]
    assert kinds(w) == [PostKind.DEPLOYED]


def test_polling_a_failed_deploy_records_its_error(tmp_path: Path) -> None:
    w = world(tmp_path)
    w.add(record("ep-1", EndpointState.CREATING))
    w.backend.home.remote["ep-1"] = failed("ep-1", "image pull failed")

    moved = w.endpoints.poll("ep-1")

    assert (moved.state, moved.error) == (EndpointState.FAILED, "image pull failed")
    assert [q.post.data for q in w.outbox()] == [
        {"endpoint": "ep-1", "reason": "image pull failed", "stopped": False}
    ]


def test_polling_a_failure_without_a_reason_posts_an_empty_one(tmp_path: Path) -> None:
    w = world(tmp_path)
    w.add(record("ep-1", EndpointState.CREATING))
    w.backend.home.remote["ep-1"] = failed("ep-1")

    moved = w.endpoints.poll("ep-1")

    assert (moved.state, moved.error) == (EndpointState.FAILED, None)
    assert [q.post.data for q in w.outbox()] == [{"endpoint": "ep-1", "reason": "", "stopped": False}]


@pytest.mark.parametrize("state", [EndpointState.READY, EndpointState.FAILED, EndpointState.DELETED])
def test_polling_a_settled_endpoint_asks_nothing(tmp_path: Path, state: EndpointState) -> None:
    w = world(tmp_path)
    ep = w.add(record("ep-1", state))

    assert w.endpoints.poll("ep-1") == ep
    assert w.backend.home.calls == [] and w.outbox() == []


def test_polling_a_deleting_endpoint_finishes_the_tear_down(tmp_path: Path) -> None:
    w = world(tmp_path)
    w.add(record("ep-1", EndpointState.DELETING, target="west", deleted_by=APPROVER))
    w.set_now(START + timedelta(minutes=2))

    done = w.endpoints.poll("ep-1")

    now = START + timedelta(minutes=2)
    assert (done.state, done.deleted_at, done.updated_at) == (EndpointState.DELETED, now, now)
    assert w.backend.west.calls == [("delete", "ep-1")]
    assert [(q.key, q.post.kind, q.post.data) for q in w.outbox()] == [
        (
            "job-1:deploy:ep-1:deleted",
            PostKind.TORN_DOWN,
            {"endpoint": "ep-1", "by": "", "model": "ep-1-model"},
        )
    ]
    assert w.job().version == 2 and w.changes == [1]


def test_polling_within_the_grace_waits_for_the_click_s_own_deploy_call(tmp_path: Path) -> None:
    assert timedelta(seconds=10) == DEPLOY_GRACE
    w = world(tmp_path)
    ep = w.add(record("ep-1", EndpointState.CREATING))
    w.set_now(START + DEPLOY_GRACE - MS)

    assert w.endpoints.poll("ep-1") == ep
    assert w.backend.home.calls == [("get", "ep-1")]


def test_polling_at_the_end_of_the_grace_deploys_again(tmp_path: Path) -> None:
    w = world(tmp_path)
    w.add(record("ep-1", EndpointState.CREATING))
    w.set_now(START + timedelta(seconds=10))

    still = w.endpoints.poll("ep-1")

    assert still.state is EndpointState.CREATING
    assert w.backend.home.calls == [("get", "ep-1"), ("deploy", "ep-1-model", "ep-1", None)]


# --- the dead-endpoint check --------------------------------------------------------------------------


def test_check_ready_marks_dead_endpoints_failed_and_skips_the_rest(tmp_path: Path) -> None:
    w = world(tmp_path)
    w.add(record("ep-a", EndpointState.READY, at=START))  # cannot tell now
    w.add(record("ep-b", EndpointState.READY, at=START + MS * 10))  # gone from the backend
    w.add(record("ep-c", EndpointState.READY, at=START + MS * 20))  # alive
    w.add(record("ep-d", EndpointState.READY, at=START + MS * 30, target="west"))  # stopped, with a reason
    w.add(record("ep-e", EndpointState.READY, at=START + MS * 40))  # stopped, no reason
    w.add(record("ep-f", EndpointState.CREATING, at=START + MS * 50))  # not asked
    w.backend.home.remote.update(
        {
            "ep-a": Unavailable("throttled"),
            "ep-c": ready("ep-c"),
            "ep-e": failed("ep-e"),
            "ep-f": failed("ep-f", "x"),
        }
    )
    w.backend.west.remote["ep-d"] = failed("ep-d", "OOM killed")

    assert w.endpoints.check_ready() == 3

    states = {e.name: (e.state, e.error) for e in w.store.endpoints}
    assert states == {
        "ep-a": (EndpointState.READY, None),
        "ep-b": (EndpointState.FAILED, "The endpoint no longer exists on the backend."),
        "ep-c": (EndpointState.READY, None),
        "ep-d": (EndpointState.FAILED, "OOM killed"),
        "ep-e": (EndpointState.FAILED, "The endpoint stopped."),
        "ep-f": (EndpointState.CREATING, None),
    }
    assert [q.post.data for q in w.outbox()] == [
        {"endpoint": "ep-b", "reason": "The endpoint no longer exists on the backend.", "stopped": True},
        {"endpoint": "ep-d", "reason": "OOM killed", "stopped": True},
        {"endpoint": "ep-e", "reason": "The endpoint stopped.", "stopped": True},
    ]
    assert ("get", "ep-f") not in w.backend.home.calls
    assert ("delete", "ep-d") in w.backend.west.calls


def test_check_ready_with_nothing_dead_changes_nothing(tmp_path: Path) -> None:
    w = world(tmp_path)
    w.add(record("ep-a", EndpointState.READY))
    w.backend.home.remote["ep-a"] = ready("ep-a")

    assert w.endpoints.check_ready() == 0
    assert w.outbox() == [] and w.changes == []


# --- tear down ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("state", [EndpointState.CREATING, EndpointState.READY, EndpointState.FAILED])
def test_an_approver_tears_down_an_endpoint(tmp_path: Path, state: EndpointState) -> None:
    w = world(tmp_path)
    w.add(record("ep-1", state))
    w.set_now(START + timedelta(hours=1))

    done = w.endpoints.teardown(actor(APPROVER), "ep-1")

    assert done == w.get("ep-1")
    assert done.state is EndpointState.DELETED and done.deleted_by == APPROVER
    assert done.deleted_at == done.updated_at and done.deleted_at is not None
    assert done.deleted_at > START + timedelta(hours=1)  # read after the backend call
    assert w.backend.home.calls == [("delete", "ep-1")]
    audit = [(e.actor, e.action, e.target, e.result, e.surface) for e in w.store.audit_log]
    assert audit == [(APPROVER, "tear_down", "ep-1", "ok", Surface.BUTTON)]
    assert [(q.key, q.post.kind, q.post.data) for q in w.outbox()] == [
        (
            "job-1:deploy:ep-1:deleted",
            PostKind.TORN_DOWN,
            {"endpoint": "ep-1", "by": APPROVER, "model": "ep-1-model"},
        )
    ]
    assert w.job().version == 2 and w.changes == [1]


def test_a_tear_down_in_flight_stays_deleting_when_the_backend_fails(tmp_path: Path) -> None:
    w = world(tmp_path)
    w.add(record("ep-1", EndpointState.READY, target="west"))
    w.backend.west.delete_error = Unavailable("throttled")
    w.set_now(START + timedelta(hours=1))

    with pytest.raises(Unavailable):
        w.endpoints.teardown(actor(APPROVER), "ep-1")

    ep = w.get("ep-1")
    assert (ep.state, ep.deleted_by, ep.updated_at) == (
        EndpointState.DELETING,
        APPROVER,
        START + timedelta(hours=1),
    )
    assert w.outbox() == []


def test_only_approvers_tear_down(tmp_path: Path) -> None:
    w = world(tmp_path)
    ep = w.add(record("ep-1", EndpointState.READY))

    with pytest.raises(PermissionDenied) as e:
        w.endpoints.teardown(actor(), "ep-1")

    assert e.value.message == "Only approvers can tear down (ep-1)."
    assert e.value.names == {"target": "ep-1"}
    assert [(a.actor, a.action, a.target, a.result) for a in w.store.audit_log] == [
        (USER, "tear_down", "ep-1", "denied")
    ]
    assert w.get("ep-1") == ep and w.backend.home.calls == []


@pytest.mark.parametrize(
    ("state", "said"),
    [(EndpointState.DELETED, "deleted"), (EndpointState.DELETING, "being torn down")],
)
def test_a_second_tear_down_is_a_conflict(tmp_path: Path, state: EndpointState, said: str) -> None:
    w = world(tmp_path)
    w.add(record("ep-1", state))

    with pytest.raises(Conflict) as e:
        w.endpoints.teardown(actor(APPROVER), "ep-1")

    assert e.value.message == f"ep-1 is already {said}."
    assert e.value.names == {"endpoint": "ep-1"}
    assert [(a.action, a.result) for a in w.store.audit_log] == [("tear_down", "duplicate")]
    assert w.backend.home.calls == [] and w.outbox() == []


def test_a_tear_down_finished_meanwhile_is_not_posted_twice(tmp_path: Path) -> None:
    w = world(tmp_path)
    w.add(record("ep-1", EndpointState.READY))

    def finish_elsewhere(name: str) -> None:
        with w.store.transaction() as tx:
            tx.transition_endpoint(name, (EndpointState.DELETING,), EndpointState.DELETED, error="elsewhere")

    w.backend.home.on_delete = finish_elsewhere

    done = w.endpoints.teardown(actor(APPROVER), "ep-1")

    assert (done.state, done.error) == (EndpointState.DELETED, "elsewhere")
    assert w.outbox() == [] and w.changes == [] and w.job().version == 1


# --- chat ---------------------------------------------------------------------------------------------


def test_chat_sends_the_prompt_and_records_the_exchange(tmp_path: Path) -> None:
    costs = FakeCosts()
    w = world(tmp_path, costs=costs)
    ep = w.add(record("ep-1", EndpointState.READY, target="west", idle_reminder_at=START))

    reply = w.endpoints.chat(
        actor(), "ep-1", "  Where is order 7?\n", system="Be brief.", temperature=0.2, max_tokens=32
    )

    assert reply == w.backend.west.reply
    assert w.backend.west.requests == [
        ChatRequest(
            messages=(
                ChatMessage(role="system", content="Be brief."),
                ChatMessage(role="user", content="Where is order 7?"),
            ),
            temperature=0.2,
            max_tokens=32,
        )
    ]
    assert w.backend.home.calls == [] and w.backend.west.calls == [("chat", "ep-1")]
    (job_id, name, user, usage, at), *more = costs.replies
    assert (job_id, name, user, usage, more) == ("job-1", "ep-1", USER, reply.usage, [])
    touched = w.get("ep-1")
    assert (touched.last_used_at, touched.idle_reminder_at, touched.state) == (at, None, ep.state)
    audit = [(e.actor, e.action, e.target, e.result, e.detail, e.channel_id) for e in w.store.audit_log]
    assert audit == [(USER, "chat", "ep-1", "ok", "tokens=5", "C7")]
    assert [(q.key, q.post.kind, q.post.data) for q in w.outbox()] == [
        (
            f"job-1:chat:ep-1:{at.timestamp():.6f}:{USER}",
            PostKind.CHAT,
            {
                "endpoint": "ep-1",
                "by": USER,
                "prompt": "Where is order 7?",
                "system": "Be brief.",
                "reply": "Order 7 ships today.",
                "usage": {"prompt_tokens": 2, "completion_tokens": 3, "total_tokens": 5},
                "content_filter": {"hate": "safe"},
                "finish_reason": "stop",
                "cost": "USD 0.01",
            },
        )
    ]
    assert w.changes == [1]


def test_chat_defaults_and_a_bare_reply(tmp_path: Path) -> None:
    w = world(tmp_path)
    w.add(record("ep-1", EndpointState.READY))
    w.backend.home.reply = ChatReply(content="ok")

    reply = w.endpoints.chat(actor(), "ep-1", "Hi")

    assert reply.content == "ok"
    assert w.backend.home.requests == [
        ChatRequest(messages=(ChatMessage(role="user", content="Hi"),), temperature=0.7, max_tokens=256)
    ]
    last_used = w.get("ep-1").last_used_at
    assert last_used is not None
    [queued] = w.outbox()
    assert queued.key == f"job-1:chat:ep-1:{last_used.timestamp():.6f}:{USER}"
    assert queued.post.data == {
        "endpoint": "ep-1",
        "by": USER,
        "prompt": "Hi",
        "system": "",
        "reply": "ok",
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        "content_filter": {},
        "finish_reason": "",
        "cost": "",
    }
    assert [e.detail for e in w.store.audit_log] == ["tokens=0"]


@pytest.mark.parametrize("prompt", ["", "   \n\t "])
def test_chat_refuses_an_empty_prompt(tmp_path: Path, prompt: str) -> None:
    w = world(tmp_path)
    w.add(record("ep-1", EndpointState.READY))

    with pytest.raises(InvalidInput) as e:
        w.endpoints.chat(actor(), "ep-1", prompt)

    assert (e.value.message, e.value.field) == ("Say something to the model: the prompt is empty.", "prompt")
    assert w.backend.home.calls == []


def test_chat_takes_the_longest_prompt_and_refuses_one_more_character(tmp_path: Path) -> None:
    assert MAX_PROMPT == 8000
    w = world(tmp_path)
    w.add(record("ep-1", EndpointState.READY))

    w.endpoints.chat(actor(), "ep-1", " " + "x" * 8000 + " ")
    with pytest.raises(InvalidInput) as e:
        w.endpoints.chat(actor(), "ep-1", "x" * 8001)

    assert (e.value.message, e.value.field) == (
        "The prompt is too long (8001 characters; at most 8000).",
        "prompt",
    )
    assert w.backend.home.requests[0].messages[-1].content == "x" * 8000
    assert len(w.backend.home.requests) == 1


@pytest.mark.parametrize(("temperature", "max_tokens"), [(2.5, 256), (0.7, 0), (0.7, 5000)])
def test_chat_refuses_settings_out_of_range(tmp_path: Path, temperature: float, max_tokens: int) -> None:
    w = world(tmp_path)
    w.add(record("ep-1", EndpointState.READY))

    with pytest.raises(InvalidInput) as e:
        w.endpoints.chat(actor(), "ep-1", "Hi", temperature=temperature, max_tokens=max_tokens)

    assert (e.value.message, e.value.field) == (
        "Temperature must be 0–2 and max tokens 1–4096.",
        "temperature",
    )
    assert w.backend.home.calls == []


@pytest.mark.parametrize("state", [EndpointState.CREATING, EndpointState.FAILED])
def test_chat_with_an_endpoint_not_ready_is_a_conflict(tmp_path: Path, state: EndpointState) -> None:
    w = world(tmp_path)
    w.add(record("ep-1", state))

    with pytest.raises(Conflict) as e:
        w.endpoints.chat(actor(), "ep-1", "Hi")
    with pytest.raises(Conflict) as e2:
        w.endpoints.chat_channel("ep-1")

    assert not isinstance(e.value, EndpointGone)
    assert e.value.message == f"ep-1 is {state.value}, not ready for chat."
    assert e.value.names == {"endpoint": "ep-1"}
    assert e2.value.message == e.value.message
    assert w.backend.home.calls == [] and w.outbox() == []


def test_chat_with_a_torn_down_endpoint_says_when_and_by_whom(tmp_path: Path) -> None:
    w = world(tmp_path)
    at = START + timedelta(hours=1, minutes=45)
    w.add(record("ep-1", EndpointState.DELETED, deleted_at=at, deleted_by=APPROVER))

    with pytest.raises(EndpointGone) as e:
        w.endpoints.chat(actor(), "ep-1", "Hi")

    assert e.value.endpoint == "ep-1"
    assert (
        e.value.message
        == f"This endpoint was torn down at 13:45 UTC by {APPROVER}; deploy again from the card."
    )


def test_chat_with_an_endpoint_being_torn_down_says_since_when(tmp_path: Path) -> None:
    w = world(tmp_path)
    w.add(record("ep-1", EndpointState.DELETING, at=START + timedelta(minutes=7)))

    with pytest.raises(EndpointGone) as e:
        w.endpoints.chat_channel("ep-1")

    assert e.value.message == "This endpoint was torn down at 12:07 UTC; deploy again from the card."
    assert e.value.names["endpoint"] == "ep-1"


def test_chat_channel_is_the_job_s_channel(tmp_path: Path) -> None:
    w = world(tmp_path)
    w.add(record("ep-1", EndpointState.READY))

    assert w.endpoints.chat_channel("ep-1") == "C7"


# --- the sweep: dead endpoints, idle reminders, the TTL -------------------------------------------------


def _live(w: World, ep: EndpointRecord) -> EndpointRecord:
    """``ep`` stored READY, and READY on the backend too (so check_ready leaves it)."""
    w.add(ep)
    ops = w.backend.west if ep.options.target else w.backend.home
    ops.remote[ep.name] = ready(ep.name)
    return ep


def test_the_idle_reminder_comes_at_exactly_the_default_idle_hours(tmp_path: Path) -> None:
    w = world(tmp_path)
    ready_at = START + timedelta(hours=1)
    _live(w, record("ep-1", EndpointState.READY, ready_at=ready_at))
    w.set_now(ready_at + timedelta(hours=24) - MS)
    assert w.endpoints.sweep() == 0
    assert w.outbox() == [] and w.changes == []

    w.set_now(ready_at + timedelta(hours=24))
    assert w.endpoints.sweep() == 1

    assert w.get("ep-1").idle_reminder_at == ready_at + timedelta(hours=24)
    assert [(q.key, q.post.kind, q.post.data) for q in w.outbox()] == [
        (
            f"job-1:deploy:ep-1:idle:{ready_at.timestamp():.0f}",
            PostKind.IDLE_REMINDER,
            {"endpoint": "ep-1", "idle_hours": 24.0, "budget_note": ""},
        )
    ]
    assert w.changes == [1]
    assert w.endpoints.sweep() == 0  # reminded once
    assert len(w.outbox()) == 1


def test_idle_hours_count_from_the_last_use_and_are_rounded(tmp_path: Path) -> None:
    w = world(tmp_path, idle_hours=2)
    used = START + timedelta(hours=5)
    _live(w, record("ep-1", EndpointState.READY, ready_at=START, last_used_at=used))
    w.set_now(used + timedelta(hours=1, minutes=59))
    assert w.endpoints.sweep() == 0

    w.set_now(used + timedelta(hours=2, minutes=3, seconds=1))  # 2.0503 hours
    assert w.endpoints.sweep() == 1

    [queued] = w.outbox()
    assert queued.key == f"job-1:deploy:ep-1:idle:{used.timestamp():.0f}"
    assert queued.post.data["idle_hours"] == 2.1


def test_an_endpoint_never_ready_counts_from_its_creation(tmp_path: Path) -> None:
    w = world(tmp_path, idle_hours=1)
    _live(w, record("ep-1", EndpointState.READY))
    w.set_now(START + timedelta(hours=1))

    assert w.endpoints.sweep() == 1
    assert w.outbox()[0].key == f"job-1:deploy:ep-1:idle:{START.timestamp():.0f}"


def test_a_reminder_at_the_last_use_is_not_repeated_and_an_older_one_is(tmp_path: Path) -> None:
    w = world(tmp_path, idle_hours=1)
    used = START + timedelta(minutes=30)
    _live(w, record("ep-same", EndpointState.READY, last_used_at=used, idle_reminder_at=used))
    _live(
        w,
        record("ep-older", EndpointState.READY, at=START + MS, last_used_at=used, idle_reminder_at=used - MS),
    )
    w.set_now(used + timedelta(hours=3))

    assert w.endpoints.sweep() == 1
    assert [q.post.data["endpoint"] for q in w.outbox()] == ["ep-older"]
    assert w.get("ep-same").idle_reminder_at == used


def test_the_reminder_says_when_the_channel_s_budget_is_spent(tmp_path: Path) -> None:
    costs = FakeCosts()
    budgets = FakeBudgets()
    w = world(tmp_path, costs=costs, budgets=budgets, idle_hours=1)
    _live(w, record("ep-1", EndpointState.READY, sku="GlobalStandard"))
    now = START + timedelta(hours=2)
    w.set_now(now)

    assert w.endpoints.sweep() == 1

    assert costs.rates == [("m", "GlobalStandard")]
    assert budgets.calls == [("", "C7", Money(amount=Decimal("1.5"), currency="USD"), now)]
    assert [q.post.data["budget_note"] for q in w.outbox()] == ["This channel has spent its budget."]


@pytest.mark.parametrize("with_costs", [True, False])
def test_the_reminder_has_no_budget_note_without_both_costs_and_budgets(
    tmp_path: Path, with_costs: bool
) -> None:
    costs = FakeCosts() if with_costs else None
    budgets = None if with_costs else FakeBudgets()
    w = world(tmp_path, costs=costs, budgets=budgets, idle_hours=1)
    _live(w, record("ep-1", EndpointState.READY))
    w.set_now(START + timedelta(hours=2))

    assert w.endpoints.sweep() == 1

    assert [q.post.data["budget_note"] for q in w.outbox()] == [""]
    assert (costs.rates if costs else budgets.calls if budgets else None) == []


def test_the_ttl_tears_down_at_exactly_its_hours_from_ready(tmp_path: Path) -> None:
    w = world(tmp_path, ttl_hours=3)
    ready_at = START + timedelta(hours=1)
    _live(w, record("ep-1", EndpointState.READY, ready_at=ready_at, target="west"))
    w.set_now(ready_at + timedelta(hours=3) - MS)
    assert w.endpoints.sweep() == 0
    assert w.get("ep-1").state is EndpointState.READY

    now = ready_at + timedelta(hours=3)
    w.set_now(now)
    assert w.endpoints.sweep() == 1

    done = w.get("ep-1")
    assert (done.state, done.deleted_by) == (EndpointState.DELETED, "scheduler")
    assert ("delete", "ep-1") in w.backend.west.calls
    assert [(q.key, q.post.kind, q.post.data) for q in w.outbox()] == [
        ("job-1:deploy:ep-1:ttl", PostKind.TTL_TEARDOWN, {"endpoint": "ep-1", "ttl_hours": 3}),
        (
            "job-1:deploy:ep-1:deleted",
            PostKind.TORN_DOWN,
            {"endpoint": "ep-1", "by": "", "model": "ep-1-model"},
        ),
    ]
    audit = [(e.actor, e.action, e.target, e.result, e.detail, e.surface) for e in w.store.audit_log]
    assert audit == [("scheduler", "tear_down", "ep-1", "ok", "TTL", Surface.SCHEDULER)]


def test_the_ttl_counts_from_creation_when_never_ready_and_every_endpoint_is_swept(tmp_path: Path) -> None:
    w = world(tmp_path, ttl_hours=1, idle_hours=1)
    _live(w, record("ep-old", EndpointState.READY))  # created at START, past the TTL
    _live(w, record("ep-new", EndpointState.READY, at=START + MS, ready_at=START + timedelta(hours=2)))
    w.set_now(START + timedelta(hours=2, minutes=30))

    assert w.endpoints.sweep() == 1  # the TTL for ep-old; ep-new is neither idle nor old enough

    assert {e.name: e.state for e in w.store.endpoints} == {
        "ep-old": EndpointState.DELETED,
        "ep-new": EndpointState.READY,
    }


def test_a_ttl_teardown_is_not_also_an_idle_reminder_and_the_sweep_goes_on(tmp_path: Path) -> None:
    w = world(tmp_path, ttl_hours=24, idle_hours=1)
    _live(w, record("ep-old", EndpointState.READY))
    _live(w, record("ep-idle", EndpointState.READY, at=START + MS, ready_at=START + timedelta(hours=20)))
    w.set_now(START + timedelta(hours=25))

    assert w.endpoints.sweep() == 2

    assert kinds(w) == [PostKind.TTL_TEARDOWN, PostKind.TORN_DOWN, PostKind.IDLE_REMINDER]
    assert [q.post.data["endpoint"] for q in w.outbox()] == ["ep-old", "ep-old", "ep-idle"]


def test_a_ttl_teardown_someone_else_started_is_audited_as_a_duplicate(tmp_path: Path) -> None:
    w = world(tmp_path, ttl_hours=1)
    _live(w, record("ep-1", EndpointState.READY))

    def tear_down_meanwhile(tx: MemoryTx, post: ThreadPost) -> None:
        if post.kind is PostKind.TTL_TEARDOWN:
            tx.transition_endpoint("ep-1", (EndpointState.READY,), EndpointState.DELETING, deleted_by="UX")

    w.store.on_post = tear_down_meanwhile
    w.set_now(START + timedelta(hours=2))

    assert w.endpoints.sweep() == 0

    assert [(e.actor, e.result, e.detail) for e in w.store.audit_log] == [("scheduler", "duplicate", "TTL")]
    assert (w.get("ep-1").state, w.get("ep-1").deleted_by) == (EndpointState.DELETING, "UX")
    assert ("delete", "ep-1") not in w.backend.home.calls
    assert kinds(w) == [PostKind.TTL_TEARDOWN] and w.changes == []


def test_the_sweep_counts_dead_endpoints_and_does_not_remind_about_them(tmp_path: Path) -> None:
    w = world(tmp_path, idle_hours=1)
    w.add(record("ep-gone", EndpointState.READY))  # the backend does not know it
    w.set_now(START + timedelta(hours=5))

    assert w.endpoints.sweep() == 1

    assert kinds(w) == [PostKind.DEPLOY_FAILED]
    assert w.get("ep-gone").state is EndpointState.FAILED


def test_every_endpoint_past_the_ttl_is_torn_down_and_counted(tmp_path: Path) -> None:
    w = world(tmp_path, ttl_hours=1)
    _live(w, record("ep-a", EndpointState.READY))
    _live(w, record("ep-b", EndpointState.READY, at=START + MS))
    w.set_now(START + timedelta(hours=1, minutes=1))

    assert w.endpoints.sweep() == 2

    assert {e.name: e.state for e in w.store.endpoints} == {
        "ep-a": EndpointState.DELETED,
        "ep-b": EndpointState.DELETED,
    }


def test_every_idle_endpoint_is_reminded_and_counted(tmp_path: Path) -> None:
    w = world(tmp_path, idle_hours=1)
    _live(w, record("ep-a", EndpointState.READY))
    _live(w, record("ep-b", EndpointState.READY, at=START + MS))
    w.set_now(START + timedelta(hours=3))

    assert w.endpoints.sweep() == 2

    assert [q.post.data["endpoint"] for q in w.outbox()] == ["ep-a", "ep-b"]


def test_a_ttl_teardown_the_backend_refuses_stays_deleting_by_the_scheduler(tmp_path: Path) -> None:
    w = world(tmp_path, ttl_hours=1)
    _live(w, record("ep-1", EndpointState.READY))
    w.backend.home.delete_error = Unavailable("throttled")
    now = START + timedelta(hours=2)
    w.set_now(now)

    with pytest.raises(Unavailable):
        w.endpoints.sweep()

    ep = w.get("ep-1")
    assert (ep.state, ep.deleted_by, ep.updated_at) == (EndpointState.DELETING, "scheduler", now)
