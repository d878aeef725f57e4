"""Budgets over signed HTTP (FTBOT_BUDGETS): a submit over its channel's budget is held with an approval
request carrying the numbers; Approve submits it, Reject or 24 hours without a decision end it with nothing
submitted; a deploy whose first day of hosting is over budget needs an approver's click, even an
approver's own; a channel hears once at 80% and once at 100%; the idle reminder says the endpoint still
bills past the budget."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from bot.demo.slack import Message
from bot.scheduling.budgets import BudgetSweep
from bot.ui.ids import Action, Callback
from bot.ui.ids import Block as B
from commands.costs.budgets import BudgetGuard, Budgets
from commands.models import EndpointState, JobState
from tests.bot.listeners.test_costs import PRICES
from tests.fakes.foundry import GPT41, FakeFoundry, make_foundry
from tests.support.data import chat_lines
from tests.support.wait import until
from tests.support.world import APPROVER, CHANNEL, MEMBER, World, block, buttons, open_world, view_update

DATA = "submit --model ftbot-tiny --data {url} --split 0.2"


def _world(tmp_path: Path, budget: str, idle_hours: str = "24") -> Iterator[World]:
    prices = tmp_path / "prices.yaml"
    prices.write_text(PRICES)
    with open_world(
        tmp_path, FTBOT_PRICES=str(prices), FTBOT_BUDGETS=budget, FTBOT_ENDPOINT_IDLE_HOURS=idle_hours
    ) as w:
        yield w


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    yield from _world(tmp_path, f"{CHANNEL}=1.50,default=1000")


def _guard(world: World) -> BudgetGuard:
    assert world.services.budgets is not None
    return world.services.budgets


def _held(world: World) -> tuple[str, Message, str]:
    """Submit over budget: the job id, its approval request in the thread and the request's id."""
    world.slash(DATA.format(url=world.files.url("train.jsonl")))
    text = world.wait_response("Held")
    job_id = text.split("`")[1]
    assert world.services.lifecycle.queries.card(job_id).job.state is JobState.HELD
    world.settle()
    request = next(m for m in world.thread() if "Approve" in buttons(m, B.APPROVAL_ACTIONS))
    return job_id, request, buttons(request, B.APPROVAL_ACTIONS)["Approve"]["value"]


def _estimate(world: World, job_id: str) -> str:
    summary = world.services.lifecycle.queries.card(job_id).job.summary
    assert summary is not None and summary.billed_tokens_estimate > 0
    return f"USD {summary.billed_tokens_estimate * 2:,.2f}"  # USD 2 per trained token (PRICES)


def test_over_budget_submit_is_held_until_an_approver_approves(world: World) -> None:
    job_id, request, approval_id = _held(world)
    text = block(request.blocks, B.APPROVAL_TEXT)["text"]["text"]
    assert f"spent *USD 0.00*, this request *{_estimate(world, job_id)}*, budget *USD 1.50*" in text
    assert world.backend.calls["submit_job"] == 0
    world.tick(3)  # the scheduler never starts a held job
    assert world.backend.calls["submit_job"] == 0
    assert (
        "Held over this channel's monthly budget"
        in block(world.card().blocks, B.CARD_APPROVAL)["text"]["text"]
    )

    assert world.click(Action.APPROVE, approval_id, user=MEMBER) == 200  # not an approver: refused
    world.wait_response("Only approvers")
    assert world.services.lifecycle.queries.card(job_id).job.state is JobState.HELD

    assert world.click(Action.APPROVE, approval_id, user=APPROVER) == 200
    world.wait_response("approved: submitting")
    assert world.backend.calls["submit_job"] == 1
    world.until(lambda: world.services.lifecycle.queries.card(job_id).job.state is JobState.SUCCEEDED)
    world.settle()
    assert any("approved over-budget request" in m.text for m in world.thread())
    with world.services.store.transaction() as tx:
        entries = tx.audit_entries()
    assert any(e.action == "approve" and e.actor == APPROVER and e.target == job_id for e in entries)
    assert any(e.action == "submit.hold" and e.target == job_id for e in entries)


def test_rejected_submit_is_cancelled_and_nothing_is_submitted(world: World) -> None:
    job_id, _, approval_id = _held(world)
    assert world.click(Action.REJECT, approval_id, user=APPROVER) == 200
    world.wait_response("rejected: nothing was submitted")
    world.tick(3)
    assert world.services.lifecycle.queries.card(job_id).job.state is JobState.CANCELLED
    assert world.backend.calls["submit_job"] == 0
    said = " ".join(m.text for m in world.thread())
    assert "rejected over-budget request" in said and "Nothing was submitted" in said


def test_a_hold_nobody_decides_on_ends_after_24_hours(world: World) -> None:
    job_id, _, approval_id = _held(world)
    holds = world.services.lifecycle.holds
    assert holds.expire() == 0  # not yet

    class Later:
        def now(self) -> datetime:
            return world.services.clock.now() + timedelta(hours=24, minutes=1)

    holds.clock = Later()
    assert holds.expire() == 1
    assert holds.expire() == 0  # idempotent
    world.settle()
    assert world.services.lifecycle.queries.card(job_id).job.state is JobState.CANCELLED
    assert world.backend.calls["submit_job"] == 0
    assert any("No approver decided within 24 hours" in m.text for m in world.thread())
    world.click(Action.APPROVE, approval_id, user=APPROVER)  # too late: already decided
    world.wait_response("already rejected")
    assert world.backend.calls["submit_job"] == 0


def test_the_submitter_can_withdraw_a_held_job(world: World) -> None:
    job_id, _, _ = _held(world)
    world.click(Action.CANCEL, job_id, user=MEMBER)
    world.quiesce()
    world.tick()
    assert world.services.lifecycle.queries.card(job_id).job.state is JobState.CANCELLED
    assert world.services.lifecycle.queries.card(job_id).pending_approval is None
    assert world.backend.calls["submit_job"] == 0


def test_deploy_over_budget_needs_an_approvers_click_and_the_channel_hears_once(tmp_path: Path) -> None:
    for world in _world(tmp_path, f"{CHANNEL}=1000000000", idle_hours="0.0002"):
        _deploy_over_budget(world)


def _deploy_over_budget(world: World) -> None:
    world.slash(DATA.format(url=world.files.url("train.jsonl")))
    job_id = world.wait_response("Started").split("`")[1]
    world.until(lambda: world.services.lifecycle.queries.card(job_id).job.state is JobState.SUCCEEDED)
    spent = world.services.costs.report(team_id="T1").total
    assert spent > 0
    # USD 5 left after training (over 80% used); a day of hosting (USD 864,000) is over the budget
    budget = spent + Decimal(5)
    assert spent * 100 >= budget * 80
    _guard(world).budgets = Budgets(channels={CHANNEL: budget})

    world.click(Action.DEPLOY_OPTIONS, job_id, user=APPROVER)  # the dialog says so before anyone asks
    warning = block(view_update(world, Callback.DEPLOY)["blocks"], B.DEPLOY_BUDGET)["elements"][0]["text"]
    assert "hosting (USD 864,000.00, default SKU) would take this channel past its monthly budget" in warning
    assert f"(USD {spent:,.2f} spent of USD {budget:,.2f})" in warning

    world.click(Action.DEPLOY, job_id, user=APPROVER)  # even an approver's own click asks first
    world.wait_response("approval request")
    world.settle()
    assert world.backend.calls["deploy_model"] == 0
    card_ts = world.card().ts  # before the budget notices join the channel
    request = next(m for m in world.thread() if "Approve" in buttons(m, B.APPROVAL_ACTIONS))
    text = block(request.blocks, B.APPROVAL_TEXT)["text"]["text"]
    assert f"spent *USD {spent:,.2f}*, this request *USD 864,000.00*, budget *USD {budget:,.2f}*" in text

    sweep = BudgetSweep(
        world.services.lifecycle.holds, _guard(world), world.services.workspaces, world.services.clock
    )
    assert sweep.notify(world.services.clock.now()) == 1  # 80%
    assert sweep.notify(world.services.clock.now()) == 0  # once

    approval_id = buttons(request, B.APPROVAL_ACTIONS)["Approve"]["value"]
    world.click(Action.APPROVE, approval_id, user=APPROVER)
    world.wait_response("approved")
    world.until(
        lambda: (
            (e := world.services.lifecycle.queries.card(job_id).endpoint) is not None
            and e.state is EndpointState.READY
        )
    )
    time.sleep(1.2)  # hosting bills USD 10 a second: past the budget; idle past 0.72 s
    assert sweep.notify(world.services.clock.now()) == 1  # 100%
    assert sweep.notify(world.services.clock.now()) == 0
    notices = [
        m
        for m in world.fake.channel_messages(CHANNEL)
        if any(b.get("block_id") == B.BUDGET_NOTICE for b in m.blocks)
    ]
    assert len(notices) == 2
    assert "used 80% of its monthly budget" in notices[0].text
    assert "used its whole monthly budget" in notices[1].text

    world.services.poller.sweep()
    world.settle()
    reminder = next(m for m in world.fake.thread(CHANNEL, card_ts) if "has been idle" in m.text)
    assert (
        "This channel has spent USD " in reminder.text and f"of its USD {budget:,.2f} budget" in reminder.text
    )
    assert "keeps billing at USD 36,000.00 an hour" in json.dumps(reminder.blocks)


def test_data_too_large_to_read_here_is_held_because_its_cost_cannot_be_estimated(tmp_path: Path) -> None:
    """A foundry ``file-…`` over the download limit has no billed-token count: in a channel with a budget
    the submit waits for an approver, who reads why; Approve submits it to the service."""
    foundry = FakeFoundry(auto_advance=True)
    backend, _, _ = make_foundry(foundry)
    file_id = foundry.add_file("support.jsonl", chat_lines(30).encode())
    prices = tmp_path / "prices.yaml"
    prices.write_text(f"currency: USD\nmodels:\n  {GPT41}:\n    training_per_million_tokens: 25\n")
    with open_world(tmp_path, backend=backend, FTBOT_PRICES=str(prices), FTBOT_BUDGETS="default=1000") as w:
        w.services.intake.downloader.max_bytes = 1024
        w.slash(f"submit --model {GPT41} --data {file_id}")
        said = w.wait_response("Held")
        assert "its cost could not be estimated (its data was not read here)" in said
        assert foundry.jobs == {}
        w.settle()
        request = next(m for m in w.thread() if "Approve" in buttons(m, B.APPROVAL_ACTIONS))
        text = block(request.blocks, B.APPROVAL_TEXT)["text"]["text"]
        size = f"{len(chat_lines(30).encode()) / 1024:.3g} KB"
        assert (
            "The cost of this job could not be estimated: its data was not read here "
            f"(it is {size}, over the 1 KB download limit)." in text
        )
        assert "spent *USD 0.00* of *USD 1,000.00*), so an approver decides" in text
        card = block(w.card().blocks, B.CARD_APPROVAL)["text"]["text"]
        assert "Held because its cost could not be estimated" in card

        w.click(Action.APPROVE, buttons(request, B.APPROVAL_ACTIONS)["Approve"]["value"], user=APPROVER)
        w.wait_response("approved: submitting")
        until(lambda: bool(foundry.jobs), 30, "the approved job to be created")
        (job,) = foundry.jobs.values()
        assert job["training_file"] == file_id  # referenced as it is, never uploaded
        w.settle()
        assert any("(its cost could not be estimated). Submitting the job." in m.text for m in w.thread())


def test_training_billed_by_the_hour_is_held_because_its_cost_cannot_be_estimated(tmp_path: Path) -> None:
    prices = tmp_path / "prices.yaml"
    prices.write_text("currency: USD\nmodels:\n  ftbot-tiny:\n    training_per_hour: 100\n")
    with open_world(tmp_path, FTBOT_PRICES=str(prices), FTBOT_BUDGETS="default=1000") as w:
        w.slash(DATA.format(url=w.files.url("train.jsonl")))
        said = w.wait_response("Held")
        assert "its cost could not be estimated (it is billed by the hour of training)" in said
        w.settle()
        request = next(m for m in w.thread() if "Approve" in buttons(m, B.APPROVAL_ACTIONS))
        text = block(request.blocks, B.APPROVAL_TEXT)["text"]["text"]
        assert (
            "The cost of this job could not be estimated: ftbot-tiny is billed by the hour of training "
            "(USD 100.00 an hour), and how long it trains is not known before it runs." in text
        )
        card = block(w.card().blocks, B.CARD_APPROVAL)["text"]["text"]
        assert "Held because its cost could not be estimated" in card
        assert w.backend.calls.get("submit_job", 0) == 0
