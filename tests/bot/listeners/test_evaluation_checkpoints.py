"""Evaluate a checkpoint's endpoint end to end over signed HTTP: `/finetune eval JOB --checkpoint N` with
nothing serving it says so and offers Deploy with that checkpoint chosen (deploying nothing); deployed
through that dialog, the evaluation names the checkpoint in the thread, on the card and in the store, and
`/finetune compare` shows its figures beside the other job's, with each job's cost."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.demo.payloads import payload_body, view_submission
from bot.ui.ids import Action, Callback
from bot.ui.ids import Block as B
from commands.models import JobState
from tests.fakes.backend import RichFakeBackend
from tests.support.world import (
    APPROVER,
    CHANNEL,
    World,
    block,
    buttons,
    evaluation_posts,
    open_world,
    selected,
    submit,
    view_update,
)

PRICES = """\
currency: USD
models:
  ftbot-tiny:
    training_per_million_tokens: 2000000   # USD 2 per trained token
    hosting_per_hour: 36000                # USD 10 per second
"""


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    prices = tmp_path / "prices.yaml"
    prices.write_text(PRICES)
    with open_world(tmp_path, backend=RichFakeBackend(), FTBOT_PRICES=str(prices)) as w:
        yield w


def _succeeded(world: World) -> str:
    job_id = submit(world)
    world.until(lambda: world.services.lifecycle.queries.card(job_id).job.state is JobState.SUCCEEDED)
    world.settle()
    return job_id


def _answer(world: World, fragment: str) -> dict[str, Any]:
    world.wait_response(fragment)
    return next(r for r in world.fake.responses if fragment in r.get("text", ""))


def _deploy_from_the_offer(world: World, job_id: str, offer: dict[str, Any]) -> str:
    """Click ``Deploy checkpoint 2`` in ``offer``; submit the dialog as an approver; the ready endpoint."""
    button = buttons_of(offer)["Deploy checkpoint 2"]
    assert (button["action_id"], button["value"]) == (Action.DEPLOY_CHOSEN, f"{job_id}:2")
    seen = len(world.fake.calls_to("views.update"))
    world.click(Action.DEPLOY_CHOSEN, button["value"], user=APPROVER, trigger="trig-ckpt")
    dialog = view_update(world, Callback.DEPLOY, after=seen)
    chosen = block(dialog["blocks"], B.DEPLOY_CHECKPOINT)["element"]["initial_option"]["value"]
    assert chosen == "2" and world.backend.calls["deploy_model"] == 0  # nothing deployed by the click
    picked = selected(Action.DEPLOY_CHECKPOINT, chosen, "static_select")
    values: dict[str, Any] = {B.DEPLOY_CHECKPOINT: picked}
    metadata = dialog["private_metadata"]
    body = view_submission(Callback.DEPLOY, values, user=APPROVER, private_metadata=metadata)
    assert world.bot.post(payload_body(body)).status == 200
    world.until(lambda: "Test chat" in buttons(world.card()))
    model = world.backend.jobs[job_id]["spec"].output_model_name
    assert [m for m, _, _ in world.backend.deploys] == [f"{model}:ckpt-2"]
    return str(buttons(world.card())["Test chat"]["value"])


def buttons_of(answer: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["text"]["text"]: e for e in block(answer["blocks"], B.EVAL_ACTIONS)["elements"]}


def test_eval_of_a_checkpoint_offers_its_deploy_then_names_it_everywhere(world: World) -> None:
    job_id = _succeeded(world)
    world.slash(f"eval {job_id} --checkpoint 2")
    offer = _answer(world, "no live endpoint serving checkpoint 2")
    assert offer["text"] == (
        f"Job {job_id} has no live endpoint serving checkpoint 2. Deploy checkpoint 2 first, then evaluate "
        "it again: ftbot never deploys for an evaluation."
    )
    assert list(buttons_of(offer)) == ["Deploy checkpoint 2"]
    assert world.backend.calls["deploy_model"] == 0
    assert world.services.evaluations.evaluations.latest(job_id) is None
    endpoint = _deploy_from_the_offer(world, job_id, offer)

    world.slash(f"eval {job_id} --checkpoint 2 --examples 4")
    started = world.wait_response("Evaluating")
    assert f"Evaluating `{job_id}` (checkpoint 2, endpoint `{endpoint}`) on 4 examples" in started
    post = evaluation_posts(world)[0]
    summary = block(post.blocks, B.EVAL_SUMMARY)["text"]["text"]
    assert f"Evaluated checkpoint 2 (endpoint `{endpoint}`)." in summary
    stored = world.services.evaluations.evaluations.latest(job_id)
    assert stored is not None and (stored.checkpoint, stored.endpoint, stored.done) == (2, endpoint, 4)
    line = block(world.card().blocks, B.CARD_EVALUATION)["text"]["text"]
    assert line.startswith("*Evaluation* Checkpoint 2: chrF ") and line.endswith(" on 4 held-out examples")

    world.slash(f"eval {job_id} --checkpoint 1")
    assert _answer(world, "not checkpoint 1")["text"] == (
        f":warning: Endpoint `{endpoint}` of `{job_id}` serves checkpoint 2, not checkpoint 1. A job has one "
        "endpoint at a time: tear it down, deploy checkpoint 1, then evaluate it."
    )
    world.slash(f"eval {job_id} --checkpoint 7")
    assert _answer(world, "no checkpoint 7")["text"] == (
        f":warning: `{job_id}` has no checkpoint 7 (deployable: 1, 2); its thread lists them."
    )
    assert len(world.backend.deploys) == 1

    world.fake.responses.clear()  # Evaluate on the card evaluates the live endpoint: checkpoint 2's
    world.click(Action.EVALUATE, job_id)
    again = world.wait_response("Evaluating")
    assert f"Evaluating `{job_id}` (checkpoint 2, endpoint `{endpoint}`) on 6 examples" in again
    world.services.evaluations.wait()
    latest = world.services.evaluations.evaluations.latest(job_id)
    assert latest is not None and latest.id != stored.id and latest.checkpoint == 2


def test_compare_shows_the_evaluation_figures_and_cost_side_by_side(world: World) -> None:
    first = _succeeded(world)
    world.click(Action.DEPLOY, first, user=APPROVER)
    world.until(lambda: "Test chat" in buttons(world.card()))
    world.slash(f"eval {first} --examples 4")
    world.wait_response("Evaluating")
    assert evaluation_posts(world)
    world.slash(f"rerun {first} --epochs 1")
    second = _all_started(world)[1]
    world.until(lambda: world.services.lifecycle.queries.card(second).job.state is JobState.SUCCEEDED)

    world.slash(f"compare {first} {second}")
    world.wait_response("Compared")
    message = next(m for m in world.fake.channel_messages(CHANNEL) if "Comparing" in m.text)
    fields = [f["text"] for f in block(message.blocks, f"{B.COMPARE_FIELDS}.evaluation")["fields"]]
    # the fake's replies on 4 held-out examples: "echo: <prompt>", the base "I am ftbot-tiny and cannot say."
    assert fields[0] == (
        "*Evaluation*\nchrF 21.8 vs base 6.2\nToken F1 44.4 vs base 0.0\nExact match 0.0% vs base 0.0%\n"
        "on 4 held-out examples"
    )
    assert fields[1] == "*Evaluation*\n_Not evaluated_"
    billed = [world.services.lifecycle.queries.card(j).job.summary for j in (first, second)]
    assert billed[0] is not None and billed[1] is not None
    assert fields[2].startswith(
        f"*Cost*\n*Training cost (estimated):* USD {billed[0].billed_tokens_estimate * 2:,.2f}\n"
        "*Hosting so far:* USD "
    )
    assert fields[2].endswith(" (USD 36,000.00 per hour)")
    second_cost = billed[1].billed_tokens_estimate * 2
    assert fields[3] == f"*Cost*\n*Training cost (estimated):* USD {second_cost:,.2f}"
    assert json.dumps(message.blocks).count("Checkpoint") == 0  # the final model was evaluated


def _all_started(world: World) -> list[str]:
    world.until(lambda: len([t for t in world.response_texts() if "Started" in t]) >= 2)
    return [t.split("`")[1] for t in world.response_texts() if "Started" in t]
