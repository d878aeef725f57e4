"""The Deploy dialog, its parser, and Pause/Resume/Deploy on the card by what the backend can do."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from bot.ui.card import card_buttons, job_card
from bot.ui.deploy import deploy_dialog, parse_deploy
from bot.ui.ids import Action
from bot.ui.ids import Block as B
from bot.ui.review import review_view
from bot.ui.wizard import wizard_view
from commands.costs.budgets import Overspend
from commands.costs.prices import Money
from commands.errors import InvalidInput
from commands.lifecycle import DeployChoices
from commands.models import Checkpoint, DeployOptions, JobState, Tier
from tests.bot.ui.helpers import (
    HOSTILE,
    assert_escaped,
    assert_view_ok,
    block,
    has_block,
    make_card,
    make_job,
)
from tests.commands.dataset.helpers import good, run

SKUS = (
    Tier(name="Standard", label="Standard", note="Regional, hourly fee."),
    Tier(name="Developer", label="Developer", note="No hourly fee; deleted after 24 hours."),
)
CHECKPOINTS = tuple(
    Checkpoint(number=n, model=f"m:ckpt-{n}", step=10 * n, epoch=n, metrics={"train_loss": 1 / n})
    for n in (1, 2, 3)
)


def choices(*, approver: bool, checkpoints: tuple[Checkpoint, ...] = CHECKPOINTS) -> DeployChoices:
    return DeployChoices(
        job_id="ft-support-1", model="m", checkpoints=checkpoints, skus=SKUS, approver=approver
    )


def selected(action: str, value: str) -> dict[str, Any]:
    return {action: {"type": "static_select", "selected_option": {"value": value}}}


def test_an_approver_chooses_the_model_and_the_sku() -> None:
    view = assert_view_ok(deploy_dialog(choices(approver=True)))
    options = block(view["blocks"], B.DEPLOY_CHECKPOINT)["element"]["options"]
    assert [o["value"] for o in options] == ["final", "1", "2", "3"]
    assert "Checkpoint 2 · epoch 2 · step 20 · train loss 0.5000" in options[2]["text"]["text"]
    sku = block(view["blocks"], B.DEPLOY_SKU)["element"]
    assert sku["initial_option"]["value"] == "Standard"
    assert view["submit"]["text"] == "Deploy" and view["private_metadata"] == "ft-support-1"


def test_anyone_else_requests_with_the_default_sku_named() -> None:
    view = assert_view_ok(deploy_dialog(choices(approver=False, checkpoints=())))
    assert not has_block(view["blocks"], B.DEPLOY_SKU) and not has_block(view["blocks"], B.DEPLOY_CHECKPOINT)
    note = block(view["blocks"], B.DEPLOY_NOTE)["elements"][0]["text"]
    assert "SKU: Standard (approvers can choose another)" in note and "approval request" in note
    assert view["submit"]["text"] == "Request deploy"


def test_hostile_job_ids_and_models_are_escaped() -> None:
    view = assert_view_ok(
        deploy_dialog(DeployChoices(job_id=HOSTILE, model=HOSTILE, skus=SKUS, approver=True))
    )
    assert_escaped(view["blocks"])


def test_parse_reads_the_options_and_refuses_damaged_values() -> None:
    assert parse_deploy({}) == DeployOptions()
    values: dict[str, Any] = {
        B.DEPLOY_CHECKPOINT: selected(Action.DEPLOY_CHECKPOINT, "2"),
        B.DEPLOY_SKU: selected(Action.DEPLOY_SKU, "Developer"),
    }
    assert parse_deploy(values) == DeployOptions(checkpoint=2, sku="Developer")
    assert parse_deploy({B.DEPLOY_CHECKPOINT: selected(Action.DEPLOY_CHECKPOINT, "final")}) == DeployOptions()
    cases: tuple[tuple[dict[str, Any], str], ...] = (
        ({B.DEPLOY_CHECKPOINT: selected(Action.DEPLOY_CHECKPOINT, "٣")}, B.DEPLOY_CHECKPOINT),
        ({B.DEPLOY_SKU: selected(Action.DEPLOY_SKU, "<!channel>")}, B.DEPLOY_SKU),
    )
    for bad, field in cases:
        with pytest.raises(InvalidInput) as e:
            parse_deploy(bad)
        assert e.value.field == field


def test_card_buttons_follow_what_the_backend_can_do() -> None:
    def labels(state: JobState, **flags: bool) -> list[str]:
        return [b.text.text for b in card_buttons(make_job(state), None, **flags)]  # type: ignore[union-attr]

    assert labels(JobState.RUNNING) == ["Cancel"]
    assert labels(JobState.RUNNING, pausable=True) == ["Pause", "Cancel"]
    assert labels(JobState.PAUSED, pausable=True) == ["Resume", "Cancel"]
    assert labels(JobState.QUEUED, pausable=True) == ["Cancel"]
    plain = [b.to_dict() for b in card_buttons(make_job(JobState.SUCCEEDED), None)]
    both = [b.to_dict() for b in card_buttons(make_job(JobState.SUCCEEDED), None, deploy_dialog=True)]
    assert [b["action_id"] for b in plain] == [Action.DEPLOY, Action.RERUN] and "confirm" in plain[0]
    assert [b["action_id"] for b in both] == [Action.DEPLOY, Action.DEPLOY_OPTIONS, Action.RERUN]
    assert "confirm" in both[0] and "confirm" not in both[1]  # the dialog says what it bills


def test_the_card_shows_a_paused_job_and_resume() -> None:
    card = make_card(make_job(JobState.PAUSED)).model_copy(update={"pausable": True})
    _, blocks = job_card(card, make_job().created_at)
    actions = block(blocks, B.CARD_ACTIONS)["elements"]
    assert [a["text"]["text"] for a in actions] == ["Resume", "Cancel"]
    assert "Paused" in block(blocks, B.CARD_STATE)["text"]["text"]


def test_wizard_shows_tiers_only_when_the_backend_has_them() -> None:
    plain = assert_view_ok(wizard_view(backend_kind="local", channel_id="C1"))
    assert has_block(plain["blocks"], B.METHOD) and not has_block(plain["blocks"], B.TRAINING_TYPE)
    tiered = assert_view_ok(wizard_view(backend_kind="foundry", channel_id="C1", tiers=SKUS))
    radio = block(tiered["blocks"], B.TRAINING_TYPE)["element"]
    assert radio["initial_option"]["value"] == "Standard" and has_block(tiered["blocks"], B.BETA)


def test_review_says_what_each_tier_means() -> None:
    view = assert_view_ok(
        review_view(report=run(good(12)), summary=[("Method", "DPO")], private_metadata="k", tiers=SKUS)
    )
    notes = block(view["blocks"], B.REVIEW_TIERS)["elements"][0]["text"]
    assert "*Standard*: Regional, hourly fee." in notes and "*Developer*: No hourly fee" in notes


def _over(request: Decimal | None) -> Overspend:
    def usd(amount: Decimal | int) -> Money:
        return Money(amount=Decimal(amount), currency="USD")

    return Overspend(
        channel_id="C1",
        spent=usd(80),
        request=None if request is None else usd(request),
        budget=usd(100),
        unestimated=None if request is not None else "no price",
    )


def test_the_dialog_warns_before_a_deploy_over_the_channels_budget() -> None:
    plain = assert_view_ok(deploy_dialog(choices(approver=True)))
    assert not has_block(plain["blocks"], B.DEPLOY_BUDGET)
    over = replace(choices(approver=True), over_budget=_over(Decimal(24)))
    view = assert_view_ok(deploy_dialog(over))
    assert view["blocks"][-1]["block_id"] == B.DEPLOY_BUDGET
    assert block(view["blocks"], B.DEPLOY_BUDGET)["elements"][0]["text"] == (
        ":warning: Over budget: a first day of hosting (USD 24.00, default SKU) would take this channel past "
        "its monthly budget (USD 80.00 spent of USD 100.00), so the deploy waits for an approver's Approve "
        "in the job's thread, an approver's own included."
    )
    unestimated = replace(choices(approver=True), over_budget=_over(None))  # never for a deploy: no line
    assert not has_block(assert_view_ok(deploy_dialog(unestimated))["blocks"], B.DEPLOY_BUDGET)
