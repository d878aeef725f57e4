"""Budget holds of submits whose cost could not be estimated: data the service keeps, too large to read
here, has no billed-token count, so in a channel with a budget (FTBOT_BUDGETS) the submit waits for an
approver with the reason in words; a model without a training price is never held; a channel without a
budget is never held."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from commands.costs.book import MemoryCostBook
from commands.costs.budgets import BudgetGuard, Overspend, parse_budgets
from commands.costs.prices import Money, PriceTable
from commands.costs.recorder import Costs
from commands.errors import PermissionDenied
from commands.lifecycle import Lifecycle
from commands.lifecycle.base import Deps
from commands.lifecycle.holds import (
    HELD_STATUS,
    HOLD_HOURS,
    SUBMIT,
    Holds,
    end_hold,
    open_hold,
    unestimated,
    withdraw_hold,
)
from commands.lifecycle.values import LocalData, ServiceData, SubmitRequest
from commands.models import JobState
from commands.records import (
    Actor,
    ApprovalRecord,
    ApprovalState,
    DatasetSummary,
    JobRecord,
    PostKind,
    Surface,
)
from tests.commands.lifecycle.records import job_record
from tests.fakes.backend import FakeBackend
from tests.support.data import chat_lines
from tests.support.doubles import APPROVER, Approvers, Clock
from tests.support.memory_store import MemoryStore, MemoryTx, Tables

PHI = "Phi-4-mini-instruct"
CHANNEL = "CBUDGET1"
MEMBER = Actor(user_id="UMEMBER01", team_id="T1", channel_id=CHANNEL, surface=Surface.SLASH)
BOSS = Actor(user_id=APPROVER, team_id="T1", channel_id=CHANNEL, surface=Surface.BUTTON)
WHY = "it is 2.5 MB, over the 1 MB download limit"
REASON = f"The cost of this job could not be estimated: its data was not read here ({WHY})."


class _AzureFake(FakeBackend):
    kind = "azure"  # reads ``azureml:NAME:VERSION`` data assets


def _life(tmp_path: Path, budgets: str, priced: Mapping[str, object] | None = None) -> Lifecycle:
    clock = Clock()
    models = {PHI: {"training_per_million_tokens": 2}} if priced is None else priced
    prices = PriceTable.model_validate({"currency": "USD", "models": models})
    costs = Costs(MemoryCostBook(), clock, prices)
    return Lifecycle(
        backend=_AzureFake(),
        store=MemoryStore(),
        clock=clock,
        approvers=Approvers(),
        work_dir=tmp_path,
        costs=costs,
        budgets=BudgetGuard(parse_budgets(budgets), costs),
    )


def _unread(model: str = PHI) -> SubmitRequest:
    data = ServiceData(ref="azureml:support-chats:2", name="support-chats:2", not_checked=WHY)
    return SubmitRequest(model=model, training=data)


def _backend(life: Lifecycle) -> FakeBackend:
    assert isinstance(life.jobs.backend, FakeBackend)
    return life.jobs.backend


def _request_post(life: Lifecycle, job_id: str) -> dict[str, object]:
    store = life.jobs.store
    assert isinstance(store, MemoryStore)
    [post] = [p for p in store.posts(job_id) if p.kind is PostKind.APPROVAL_REQUEST]
    return dict(post.data)


def test_unread_data_in_a_channel_with_a_budget_is_held_with_the_reason(tmp_path: Path) -> None:
    life = _life(tmp_path, f"{CHANNEL}=1000")  # plenty left: the hold is for the missing estimate

    job = life.jobs.launch(MEMBER, _unread, what="submit").job

    assert job.state is JobState.HELD and unestimated(job)
    assert job.summary is not None and job.summary.billed_tokens_estimate == 0
    assert _backend(life).calls["submit_job"] == 0
    data = _request_post(life, job.id)
    assert data["budget_unestimated"] == REASON
    assert (data["budget_spent"], data["budget_amount"]) == ("USD 0.00", "USD 1,000.00")
    assert "budget_request" not in data  # no estimate, so no number is pretended
    store = life.jobs.store
    assert isinstance(store, MemoryStore)
    [hold] = [e for e in store.audit_log if e.action == "submit.hold"]
    assert hold.detail == f"cost not estimated ({REASON}): spent=USD 0.00 budget=USD 1,000.00"

    approval = life.queries.card(job.id).pending_approval
    assert approval is not None
    life.holds.decide(BOSS, approval.id, approve=True)
    assert _backend(life).calls["submit_job"] == 1
    assert life.queries.card(job.id).job.state is not JobState.HELD
    [decided] = [p for p in store.posts(job.id) if p.kind is PostKind.APPROVAL_DECIDED]
    assert decided.data["unestimated"] is True and decided.data["approved"] is True


def test_a_rejected_unestimated_submit_ends_with_nothing_submitted(tmp_path: Path) -> None:
    life = _life(tmp_path, "default=5")
    job = life.jobs.launch(MEMBER, _unread, what="submit").job
    approval = life.queries.card(job.id).pending_approval
    assert approval is not None

    life.holds.decide(BOSS, approval.id, approve=False)

    assert life.queries.card(job.id).job.state is JobState.CANCELLED
    assert _backend(life).calls["submit_job"] == 0
    store = life.jobs.store
    assert isinstance(store, MemoryStore)
    [ended] = [p for p in store.posts(job.id) if p.kind is PostKind.CANCELLED]
    assert ended.data["reason"] == "Rejected: its cost could not be estimated; nothing was submitted."


@pytest.mark.parametrize(
    ("budgets", "priced"),
    [
        ("COTHER1=5", None),  # this channel has no budget
        (f"{CHANNEL}=5", {}),  # the model has no price: budgets cannot apply, as for read data
        (f"{CHANNEL}=5", {PHI: {"hosting_per_hour": 1}}),  # priced, but not its training
        ("COTHER1=5", {PHI: {"training_per_hour": 5}}),  # billed by the hour, in a channel with no budget
    ],
)
def test_no_hold_without_a_budget_or_a_training_price_by_the_token(
    tmp_path: Path, budgets: str, priced: Mapping[str, object] | None
) -> None:
    life = _life(tmp_path, budgets, priced)
    job = life.jobs.launch(MEMBER, _unread, what="submit").job
    assert job.state is not JobState.HELD
    assert _backend(life).calls["submit_job"] == 1


@pytest.mark.parametrize("read", [True, False])
def test_training_billed_by_the_hour_is_held_where_a_budget_applies(tmp_path: Path, read: bool) -> None:
    data = tmp_path / "train.jsonl"
    data.write_text(chat_lines(30))
    request = (
        SubmitRequest(model=PHI, training=LocalData(path=data, name="train.jsonl")) if read else _unread()
    )
    life = _life(tmp_path, f"{CHANNEL}=1000", {PHI: {"training_per_hour": "12.5"}})  # plenty left

    job = life.jobs.launch(MEMBER, lambda: request, what="submit").job

    assert (job.state, job.service_status) == (JobState.HELD, "awaiting budget approval: cost not estimated")
    assert unestimated(job) and _backend(life).calls["submit_job"] == 0
    data_ = _request_post(life, job.id)
    assert data_["budget_unestimated"] == (
        f"The cost of this job could not be estimated: {PHI} is billed by the hour of training "
        "(USD 12.50 an hour), and how long it trains is not known before it runs."
    )
    assert "budget_request" not in data_


def test_a_hold_over_the_budget_says_awaiting_budget_approval(tmp_path: Path) -> None:
    data = tmp_path / "train.jsonl"
    data.write_text(chat_lines(30))
    request = SubmitRequest(model=PHI, training=LocalData(path=data, name="train.jsonl"))
    life = _life(tmp_path, f"{CHANNEL}=1", {PHI: {"training_per_million_tokens": 1_000_000}})
    job = life.jobs.launch(MEMBER, lambda: request, what="submit").job
    assert (job.state, job.service_status) == (JobState.HELD, "awaiting budget approval")


def test_read_data_is_held_only_over_the_budget(tmp_path: Path) -> None:
    data = tmp_path / "train.jsonl"
    data.write_text(chat_lines(30))
    request = SubmitRequest(model=PHI, training=LocalData(path=data, name="train.jsonl"))
    per_token = {PHI: {"training_per_million_tokens": 1_000_000}}  # USD 1 a token
    life = _life(tmp_path, f"{CHANNEL}=1000000", per_token)
    fits = life.jobs.launch(MEMBER, lambda: request, what="submit").job
    assert fits.state is not JobState.HELD and not unestimated(fits)

    life = _life(tmp_path, f"{CHANNEL}=100", per_token)
    over = life.jobs.launch(MEMBER, lambda: request, what="submit").job
    assert over.state is JobState.HELD and not unestimated(over)
    data_ = _request_post(life, over.id)
    assert "budget_unestimated" not in data_
    assert over.summary is not None and over.summary.billed_tokens_estimate > 100
    assert data_["budget_request"] == f"USD {over.summary.billed_tokens_estimate:,}.00"


# --- Holds and its helpers on records put straight into the store -----------------------------------------

JOB = "ftbot-held-1"
T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
OVER = Overspend(
    channel_id=CHANNEL,
    spent=Money(amount=Decimal(80), currency="USD"),
    request=Money(amount=Decimal(30), currency="USD"),
    budget=Money(amount=Decimal(100), currency="USD"),
)


class _Jobs:
    def __init__(self) -> None:
        self.started: list[str] = []

    def start(self, job_id: str) -> JobRecord:
        self.started.append(job_id)
        return _held(job_id)


class _Deploys:
    def __init__(self) -> None:
        self.asked: list[tuple[str, int, bool]] = []
        self.answer: ApprovalRecord | None = None

    def decide(self, actor: Actor, approval_id: int, approve: bool) -> ApprovalRecord:
        self.asked.append((actor.user_id, approval_id, approve))
        assert self.answer is not None
        return self.answer


class _RacyStore(MemoryStore):
    """A store where another process decides first (``lost`` approvals) or ends a job between the sweep's
    read of the held jobs (``stale``, when set) and its own transaction. ``decisions``: what it was told
    to decide (approval, approved, by), as the port takes it."""

    def __init__(self) -> None:
        super().__init__()
        self.lost: set[int] = set()
        self.stale: list[JobRecord] | None = None
        self.decisions: list[tuple[int, object, str]] = []

    @contextmanager
    def transaction(self) -> Iterator[MemoryTx]:
        with super().transaction() as tx:
            yield _RacyTx(self, tx.t)


class _RacyTx(MemoryTx):
    def __init__(self, store: _RacyStore, tables: Tables) -> None:
        super().__init__(tables)
        self.store = store

    def decide_approval(
        self, approval_id: int, approved: bool, by: str, at: datetime
    ) -> ApprovalRecord | None:
        self.store.decisions.append((approval_id, approved, by))
        if approval_id in self.store.lost:
            return None
        return super().decide_approval(approval_id, approved, by, at)

    def held_jobs(self, *, before: datetime) -> list[JobRecord]:
        if self.store.stale is not None:
            return list(self.store.stale)
        return super().held_jobs(before=before)


def _held(
    job_id: str = JOB, *, minutes: int = 0, unread: bool = False, state: JobState = JobState.HELD
) -> JobRecord:
    summary = DatasetSummary(training_name="t.jsonl", examples=0, not_checked=WHY if unread else None)
    record = job_record(job_id, channel=CHANNEL, user=MEMBER.user_id, minutes=minutes)
    return record.model_copy(update={"state": state, "summary": summary, "service_status": HELD_STATUS})


@dataclass
class _World:
    holds: Holds
    store: MemoryStore
    clock: Clock
    jobs: _Jobs
    deploys: _Deploys
    changes: list[int]

    def job(self, job_id: str = JOB) -> JobRecord:
        with self.store.transaction() as tx:
            return tx.get_job(job_id)

    def approval(self, approval_id: int) -> ApprovalRecord:
        with self.store.transaction() as tx:
            return tx.get_approval(approval_id)

    def posts(self, kind: PostKind, job_id: str = JOB) -> list[dict[str, object]]:
        return [dict(p.data) for p in self.store.posts(job_id) if p.kind is kind]


def _world(tmp_path: Path, *jobs: JobRecord, store: MemoryStore | None = None) -> _World:
    store = store if store is not None else MemoryStore()
    clock = Clock()
    changes: list[int] = []
    deps = Deps(
        backend=FakeBackend(),
        store=store,
        clock=clock,
        approvers=Approvers(),
        work_dir=tmp_path,
        on_change=lambda: changes.append(1),
    )
    with store.transaction() as tx:
        for job in jobs:
            tx.add_job(job)
    starts, decides = _Jobs(), _Deploys()
    return _World(Holds(deps, starts, decides), store, clock, starts, decides, changes)


def _request(w: _World, job_id: str = JOB, action: str = SUBMIT) -> ApprovalRecord:
    with w.store.transaction() as tx:
        approval, _ = tx.open_approval(job_id, action, MEMBER.user_id, T0)
    return approval


def test_open_hold_records_the_request_its_audit_and_its_post(tmp_path: Path) -> None:
    w = _world(tmp_path, _held())
    with w.store.transaction() as tx:
        approval = open_hold(w.holds, tx, MEMBER, JOB, OVER)
    assert (approval.action, approval.requested_by, approval.job_id) == (SUBMIT, MEMBER.user_id, JOB)
    assert approval.state is ApprovalState.PENDING
    assert approval.created_at == datetime(
        2026, 11, 26, 12, 0, 0, 1000, tzinfo=UTC
    )  # the clock's first reading
    [audit] = w.store.audit_log
    assert (audit.actor, audit.action, audit.target, audit.result) == (
        MEMBER.user_id,
        "submit.hold",
        JOB,
        "ok",
    )
    assert audit.detail == "over budget: spent=USD 80.00 request=USD 30.00 budget=USD 100.00"
    assert w.posts(PostKind.APPROVAL_REQUEST) == [
        {
            "approval_id": approval.id,
            "requested_by": MEMBER.user_id,
            "approvers": [APPROVER],
            "action": "submit",
            "hold_hours": 24,
            "budget_spent": "USD 80.00",
            "budget_request": "USD 30.00",
            "budget_amount": "USD 100.00",
        }
    ]
    assert [q.key for q in w.store.outbox] == [f"{JOB}:approval:{approval.id}:request"]


def test_a_deploy_request_is_decided_by_deploys(tmp_path: Path) -> None:
    w = _world(tmp_path)  # the job is not even in the store: only the approval is read
    approval = _request(w, "ftbot-gone-1", action="deploy")
    w.deploys.answer = approval
    assert w.holds.decide(MEMBER, approval.id, False) is approval
    assert w.deploys.asked == [(MEMBER.user_id, approval.id, False)]
    assert w.store.audit_log == [] and w.jobs.started == []


def test_approve_moves_a_held_submit_on_to_submission(tmp_path: Path) -> None:
    w = _world(tmp_path, _held())
    approval = _request(w)
    version = w.job().version
    decided = w.holds.decide(BOSS, approval.id, True)
    assert decided.state is ApprovalState.APPROVED and decided.decided_by == APPROVER
    job = w.job()
    assert (job.state, job.service_status, job.version) == (JobState.PENDING, "submitting", version + 1)
    assert w.jobs.started == [JOB] and w.deploys.asked == []
    [audit] = [e for e in w.store.audit_log if e.actor == APPROVER]
    assert (audit.action, audit.target, audit.result, audit.detail) == (
        "approve",
        JOB,
        "ok",
        "over-budget submit",
    )
    assert w.posts(PostKind.APPROVAL_DECIDED) == [
        {
            "approval_id": approval.id,
            "decided_by": APPROVER,
            "approved": True,
            "requested_by": MEMBER.user_id,
            "action": "submit",
        }
    ]
    assert w.posts(PostKind.CANCELLED) == []


def test_reject_ends_a_held_submit_with_the_reason(tmp_path: Path) -> None:
    w = _world(tmp_path, _held())
    approval = _request(w)
    decided = w.holds.decide(BOSS, approval.id, False)
    assert decided.state is ApprovalState.REJECTED and w.jobs.started == []
    job = w.job()
    assert job.state is JobState.CANCELLED and job.finished_at == decided.decided_at
    assert w.posts(PostKind.CANCELLED) == [
        {"reason": "Rejected over the channel's budget; nothing was submitted.", "held": True, "by": APPROVER}
    ]
    [audit] = [e for e in w.store.audit_log if e.actor == APPROVER]
    assert (audit.action, audit.result, audit.detail) == ("reject", "ok", "over-budget submit")
    [post] = w.posts(PostKind.APPROVAL_DECIDED)
    assert post["approved"] is False and "unestimated" not in post


def test_an_unestimated_submit_says_so_when_decided(tmp_path: Path) -> None:
    w = _world(tmp_path, _held(unread=True))
    approval = _request(w)
    w.holds.decide(BOSS, approval.id, True)
    [audit] = [e for e in w.store.audit_log if e.actor == APPROVER]
    assert audit.detail == "unestimated submit"
    [post] = w.posts(PostKind.APPROVAL_DECIDED)
    assert post["unestimated"] is True and post["action"] == "submit"


@pytest.mark.parametrize(("approve", "action"), [(True, "approve"), (False, "reject")])
def test_only_approvers_decide_on_a_held_submit(tmp_path: Path, approve: bool, action: str) -> None:
    w = _world(tmp_path, _held())
    approval = _request(w)
    with pytest.raises(PermissionDenied) as e:
        w.holds.decide(MEMBER, approval.id, approve)
    assert e.value.message == f"Only approvers can {action} ({JOB})."
    [denied] = w.store.audit_log
    assert (denied.actor, denied.action, denied.target, denied.result) == (
        MEMBER.user_id,
        action,
        JOB,
        "denied",
    )
    assert w.job().state is JobState.HELD and w.approval(approval.id).state is ApprovalState.PENDING


def test_a_hold_expires_after_exactly_hold_hours(tmp_path: Path) -> None:
    store = _RacyStore()
    w = _world(tmp_path, _held(), store=store)
    approval = _request(w)
    w.clock.t = T0 + timedelta(hours=HOLD_HOURS) - timedelta(milliseconds=2)  # the next reading: 1 ms short
    assert w.holds.expire() == 0
    assert w.job().state is JobState.HELD and w.changes == []
    assert w.holds.expire() == 1  # read at exactly HOLD_HOURS
    now = T0 + timedelta(hours=HOLD_HOURS)
    job = w.job()
    assert job.state is JobState.CANCELLED and job.service_status == "cancelled"
    assert job.finished_at == now and job.updated_at == now
    closed = w.approval(approval.id)
    assert (closed.state, closed.decided_by, closed.decided_at) == (ApprovalState.REJECTED, "scheduler", now)
    reason = "No approver decided within 24 hours, so nothing was submitted."
    assert w.posts(PostKind.CANCELLED) == [{"reason": reason, "held": True, "by": None}]
    [audit] = w.store.audit_log
    assert (audit.actor, audit.action, audit.target, audit.result, audit.surface) == (
        "scheduler",
        "reject",
        JOB,
        "ok",
        Surface.SCHEDULER,
    )
    assert audit.detail == f"over-budget submit expired ({reason})"
    assert w.changes == [1]
    assert w.holds.expire() == 0 and w.changes == [1]
    assert store.decisions == [(approval.id, False, "scheduler")]  # a reject, as the port's bool says


def test_a_hold_without_a_request_expires_too(tmp_path: Path) -> None:
    w = _world(tmp_path, _held(), _held("ftbot-held-2", minutes=1))
    w.clock.t = T0 + timedelta(days=2)
    assert w.holds.expire() == 2
    assert w.job().state is JobState.CANCELLED and w.job("ftbot-held-2").state is JobState.CANCELLED


def test_expire_skips_a_hold_an_approver_decided_meanwhile(tmp_path: Path) -> None:
    store = _RacyStore()
    w = _world(tmp_path, _held(), _held("ftbot-held-2", minutes=1), store=store)
    first = _request(w)
    _request(w, "ftbot-held-2")
    store.lost.add(first.id)
    w.clock.t = T0 + timedelta(days=2)
    assert w.holds.expire() == 1
    assert w.job().state is JobState.HELD and w.posts(PostKind.CANCELLED) == []
    assert w.job("ftbot-held-2").state is JobState.CANCELLED


def test_expire_skips_a_job_that_is_no_longer_held(tmp_path: Path) -> None:
    store = _RacyStore()
    ended = _held(state=JobState.CANCELLED)
    w = _world(tmp_path, ended, _held("ftbot-held-2", minutes=1), store=store)
    store.stale = [_held(), _held("ftbot-held-2", minutes=1)]
    w.clock.t = T0 + timedelta(days=2)
    assert w.holds.expire() == 1
    assert w.posts(PostKind.CANCELLED) == [] and w.store.audit_log[0].target == "ftbot-held-2"
    assert w.job("ftbot-held-2").state is JobState.CANCELLED


def test_withdraw_closes_the_request_and_ends_the_hold(tmp_path: Path) -> None:
    store = _RacyStore()
    w = _world(tmp_path, _held(), _held("ftbot-held-2"), store=store)
    approval = _request(w)
    ended = withdraw_hold(w.holds, MEMBER, JOB)
    assert ended.state is JobState.CANCELLED and ended == w.job()
    closed = w.approval(approval.id)
    assert (closed.state, closed.decided_by) == (ApprovalState.REJECTED, MEMBER.user_id)
    assert closed.decided_at == ended.finished_at
    assert w.posts(PostKind.CANCELLED) == [
        {"reason": "Withdrawn before it was submitted.", "held": True, "by": MEMBER.user_id}
    ]
    assert [q.key for q in w.store.outbox] == [f"{JOB}:state:cancelled"]
    assert w.changes == [1]
    other = withdraw_hold(w.holds, BOSS, "ftbot-held-2")  # no request to close
    assert other.state is JobState.CANCELLED and w.changes == [1, 1]
    assert store.decisions == [(approval.id, False, MEMBER.user_id)]


def test_end_hold_returns_the_cancelled_job(tmp_path: Path) -> None:
    w = _world(tmp_path, _held())
    now = T0 + timedelta(hours=1)
    with w.store.transaction() as tx:
        ended = end_hold(w.holds, tx, JOB, "why", now)
    assert ended == w.job() and ended.finished_at == now and ended.updated_at == now
    assert ended.service_status == "cancelled"
    assert w.posts(PostKind.CANCELLED) == [{"reason": "why", "held": True, "by": None}]


@pytest.mark.parametrize(
    ("summary", "expected"),
    [
        (None, False),
        (DatasetSummary(training_name="t", examples=0), False),
        (DatasetSummary(training_name="t", examples=0, not_checked="big"), True),
        (DatasetSummary(training_name="t", examples=0, not_checked="", billed_tokens_estimate=0), True),
        (DatasetSummary(training_name="t", examples=0, not_checked="big", billed_tokens_estimate=5), False),
    ],
)
def test_unestimated_reads_the_summary(summary: DatasetSummary | None, expected: bool) -> None:
    assert unestimated(_held().model_copy(update={"summary": summary})) is expected


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("awaiting budget approval: cost not estimated", True),
        ("awaiting budget approval", False),
        ("submitting", False),
    ],
)
def test_unestimated_reads_the_status_first(status: str, expected: bool) -> None:
    summary = DatasetSummary(training_name="t", examples=30, billed_tokens_estimate=5000)
    assert unestimated(_held().model_copy(update={"summary": summary, "service_status": status})) is expected
