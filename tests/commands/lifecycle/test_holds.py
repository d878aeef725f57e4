"""Budget holds of submits whose cost could not be estimated: data the service keeps, too large to read
here, has no billed-token count, so in a channel with a budget (FTBOT_BUDGETS) the submit waits for an
approver with the reason in words; a model without a training price is never held; a channel without a
budget is never held."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from commands.costs.book import MemoryCostBook
from commands.costs.budgets import BudgetGuard, parse_budgets
from commands.costs.prices import PriceTable
from commands.costs.recorder import Costs
from commands.lifecycle import Lifecycle
from commands.lifecycle.holds import unestimated
from commands.lifecycle.values import LocalData, ServiceData, SubmitRequest
from commands.models import JobState
from commands.records import Actor, PostKind, Surface
from tests.fakes.backend import FakeBackend
from tests.support.data import chat_lines
from tests.support.doubles import APPROVER, Approvers, Clock
from tests.support.memory_store import MemoryStore

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
        (f"{CHANNEL}=5", {PHI: {"training_per_hour": 5}}),  # billed by time: never estimated, read or not
    ],
)
def test_no_hold_without_a_budget_or_a_training_price_by_the_token(
    tmp_path: Path, budgets: str, priced: Mapping[str, object] | None
) -> None:
    life = _life(tmp_path, budgets, priced)
    job = life.jobs.launch(MEMBER, _unread, what="submit").job
    assert job.state is not JobState.HELD
    assert _backend(life).calls["submit_job"] == 1


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
