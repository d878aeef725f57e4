"""Evaluate end to end over signed HTTP: the card's button, the worker, the store, the thread and the card."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.ui.ids import Action
from bot.ui.ids import Block as B
from commands.evaluation.records import EvaluationState
from commands.models import JobState
from commands.records import Actor, Surface
from tests.fakes.backend import FakeBackend
from tests.support.world import (
    APPROVER,
    CHANNEL,
    MEMBER,
    World,
    block,
    buttons,
    evaluation_posts,
    open_world,
    submit,
)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with open_world(tmp_path) as w:
        yield w


def _succeeded(world: World, *, split: bool = True) -> str:
    if split:
        job_id = submit(world)
    else:
        world.slash(f"submit --model ftbot-tiny --data {world.files.url('train.jsonl')}")
        job_id = world.wait_response("Started").split("`")[1]
    world.until(lambda: world.services.lifecycle.queries.card(job_id).job.state is JobState.SUCCEEDED)
    return job_id


def _deployed(world: World, job_id: str) -> str:
    world.click(Action.DEPLOY, job_id, user=APPROVER)
    world.until(lambda: "Test chat" in buttons(world.card()))
    return str(buttons(world.card())["Test chat"]["value"])


def _evaluated(world: World) -> dict[str, Any]:
    posts = evaluation_posts(world)
    assert len(posts) == 1
    return {"blocks": posts[0].blocks, "text": json.dumps(posts[0].blocks)}


def test_evaluate_against_the_base_model_on_held_out_examples(world: World) -> None:
    job_id = _succeeded(world)
    _deployed(world, job_id)
    assert "Evaluate" in buttons(world.card())
    assert world.click(Action.EVALUATE, job_id, user=MEMBER) == 200  # anyone in the channel
    world.wait_response("Evaluating")
    post = _evaluated(world)
    table = block(post["blocks"], B.EVAL_TABLE)["text"]["text"]
    assert "fine-tuned" in table and "base" in table and "chrF" in table
    assert "Per example on chrF" in table
    assert "seen in training" not in str(post["text"])
    assert any(b["block_id"].startswith(f"{B.EVAL_EXAMPLE}.1") for b in post["blocks"])
    # the chart, uploaded into the thread like the loss chart
    charts = [f for m in world.thread() for f in m.files if "evaluation" in world.fake.uploads[f]["filename"]]
    assert len(charts) == 1 and world.fake.uploads[charts[0]]["content"].startswith(b"\x89PNG")
    # the card's Evaluation line and the stored result
    line = block(world.card().blocks, B.CARD_EVALUATION)["text"]["text"]
    assert "vs base" in line and "6 held-out examples" in line
    stored = world.services.evaluations.evaluations.latest(job_id)
    assert stored is not None and stored.state is EvaluationState.SUCCEEDED and stored.done == 6
    assert world.backend.calls["chat"] == 6 and world.backend.calls["chat_base"] == 6


def test_without_validation_data_the_examples_are_labelled_seen_in_training(world: World) -> None:
    job_id = _succeeded(world, split=False)
    _deployed(world, job_id)
    world.click(Action.EVALUATE, job_id)
    post = _evaluated(world)
    assert "seen in training" in str(post["text"])
    assert "seen in training" in block(world.card().blocks, B.CARD_EVALUATION)["text"]["text"]


def test_without_a_base_model_it_evaluates_the_fine_tuned_model_and_says_why(world: World) -> None:
    world.backend.base_missing = "no deployment of the base model is named in FTBOT_FOUNDRY_BASE_DEPLOYMENTS"
    job_id = _succeeded(world)
    _deployed(world, job_id)
    world.click(Action.EVALUATE, job_id)
    world.wait_response("fine-tuned model alone")
    post = _evaluated(world)
    assert "Fine-tuned model only" in str(post["text"]) and "FTBOT_FOUNDRY_BASE_DEPLOYMENTS" in str(
        post["text"]
    )
    assert world.backend.calls["chat_base"] == 0
    assert "no base model to compare" in block(world.card().blocks, B.CARD_EVALUATION)["text"]["text"]


def test_without_a_live_endpoint_it_offers_deploy_and_deploys_nothing(world: World) -> None:
    job_id = _succeeded(world)
    world.click(Action.EVALUATE, job_id)
    world.wait_response("no live endpoint")
    answer = next(r for r in world.fake.responses if "no live endpoint" in r.get("text", ""))
    assert "Deploy" in {e["text"]["text"] for e in block(answer["blocks"], B.EVAL_ACTIONS)["elements"]}
    assert world.backend.calls["deploy_model"] == 0
    assert world.services.evaluations.evaluations.latest(job_id) is None


def test_a_second_click_while_running_says_one_is_running_and_progress_shows_on_the_card(
    world: World,
) -> None:
    job_id = _succeeded(world)
    _deployed(world, job_id)
    world.backend.chat_gate = gate = threading.Event()
    try:
        world.click(Action.EVALUATE, job_id)
        world.wait_response("Evaluating")
        world.settle()
        assert "Evaluating: 0/6" in block(world.card().blocks, B.CARD_EVALUATION)["text"]["text"]
        world.click(Action.EVALUATE, job_id, user=APPROVER)
        world.wait_response("already running")
    finally:
        gate.set()
    _evaluated(world)
    assert world.backend.calls["chat"] == 6


def test_an_evaluation_cut_short_by_a_restart_is_resumed_and_reported(tmp_path: Path) -> None:
    backend = FakeBackend()
    with open_world(tmp_path, backend=backend) as world:
        job_id = _succeeded(world)
        _deployed(world, job_id)
        actor = Actor(user_id=MEMBER, channel_id=CHANNEL, surface=Surface.BUTTON)
        # recorded, then the process dies before it asks anything: only the stored row remains
        record = world.services.evaluations.evaluations.start(actor, job_id)
        world.settle()
        assert "Evaluating: 0/6" in block(world.card().blocks, B.CARD_EVALUATION)["text"]["text"]
    with open_world(tmp_path, backend=backend) as world:  # the same store and data: a restart
        assert world.services.evaluations.resume(stale_after=timedelta(0)) == [record.id]
        stored = world.services.evaluations.evaluations.get(record.id)
        assert stored.state is EvaluationState.SUCCEEDED and stored.done == stored.total == 6
        assert "vs base" in (world.services.lifecycle.queries.card(job_id).evaluation or "")
        assert world.services.evaluations.resume(stale_after=timedelta(0)) == []  # taken over once
        assert backend.calls["chat"] == 6
