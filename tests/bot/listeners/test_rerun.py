"""End to end over signed HTTP: Rerun… on a finished card opens the wizard pre-filled with the job's
choices (found by block_id) and starts a rerun through the same Review step; `/finetune rerun` does it in
one line with overrides; the new card says "Rerun of" with a link to the first card, and the first thread
points to the rerun. Also ``Deploy best checkpoint`` on an overfitting warning, through approval."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.demo.payloads import payload_body, view_submission
from bot.ui.card import message_link
from bot.ui.ids import Action, Callback
from bot.ui.ids import Block as B
from commands.models import JobState, MetricPoint
from commands.records import JobRecord
from tests.fakes.backend import RichFakeBackend
from tests.support.world import (
    APPROVER,
    CHANNEL,
    MEMBER,
    World,
    block,
    buttons,
    open_world,
    selected,
    submit,
    view_update,
)

#: validation loss by epoch: best at epoch 2, then it runs away while training loss keeps falling
OVERFIT = {1: 1.0, 2: 0.6, 3: 0.8, 4: 1.0}


class OverfittingBackend(RichFakeBackend):
    def _advance(self, job_id: str, j: dict) -> None:
        super()._advance(job_id, j)
        last: MetricPoint | None = j["metrics"][-1] if j["metrics"] else None
        if last is not None and last.valid_loss is not None and last.epoch in OVERFIT:
            j["metrics"][-1] = last.model_copy(update={"valid_loss": OVERFIT[last.epoch]})


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with open_world(tmp_path, backend=RichFakeBackend()) as w:
        yield w


def _started(world: World, count: int) -> str:
    """The job id of the ``count``-th "Started" answer."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        started = [t for t in world.response_texts() if "Started" in t]
        if len(started) >= count:
            return started[count - 1].split("`")[1]
        time.sleep(0.02)
    raise AssertionError(f"fewer than {count} jobs started: {world.response_texts()}")


def _job(world: World, job_id: str) -> JobRecord:
    with world.services.store.transaction() as tx:
        return tx.get_job(job_id)


def _finished(world: World, job_id: str) -> None:
    world.until(lambda: _job(world, job_id).state is JobState.SUCCEEDED)
    world.until(world.delivered, ticks=800)  # two jobs share the channel's pacing


def _card(world: World, job_id: str) -> Any:
    cards = [m for m in world.fake.channel_messages(CHANNEL) if job_id in m.text]
    assert len(cards) == 1, [m.text for m in world.fake.channel_messages(CHANNEL)]
    return cards[0]


def _intake(world: World) -> int:
    return sum(1 for _ in world.services.intake.root.iterdir())


def _initial(view: dict[str, Any], block_id: str) -> Any:
    element = block(view["blocks"], block_id)["element"]
    option = element.get("initial_option")
    return option["value"] if option else element.get("initial_value")


def _typed(action: str, value: str) -> dict[str, Any]:
    return {action: {"type": "number_input", "value": value}}


def test_rerun_from_the_button_is_prefilled_and_linked_both_ways(world: World) -> None:
    first = submit(world)  # --split 0.2
    _finished(world, first)
    assert "Rerun…" in buttons(_card(world, first))
    seen = len(world.fake.calls_to("views.update"))
    world.click(Action.RERUN, first, trigger="trig-rerun-1")
    assert world.fake.wait_for("views.open")[-1].body["trigger_id"] == "trig-rerun-1"
    wizard = view_update(world, Callback.RERUN, after=seen)
    assert wizard["private_metadata"] == first
    assert first in json.dumps(block(wizard["blocks"], B.RERUN_INTRO))
    assert _initial(wizard, B.BASE_MODEL) == "ftbot-tiny"
    assert _initial(wizard, B.METHOD) == "supervised"
    assert _initial(wizard, B.VALIDATION_MODE) == "split"
    assert float(_initial(wizard, B.VALIDATION_SPLIT)) == 20
    assert _initial(wizard, B.PARAMS_MODE) == "default"
    dataset = _initial(wizard, B.TRAINING_EXISTING)  # the data already here: reused, not downloaded
    assert dataset and (world.services.intake.root / dataset / "train.jsonl").is_file()

    downloads = _intake(world)  # every download lands in a new intake folder
    values: dict[str, Any] = {
        B.BASE_MODEL: selected(Action.BASE_MODEL, "ftbot-tiny", "external_select"),
        B.TRAINING_EXISTING: selected(Action.TRAINING_EXISTING, dataset, "static_select"),
        B.VALIDATION_MODE: selected(Action.VALIDATION_MODE, "split", "radio_buttons"),
        B.VALIDATION_SPLIT: _typed(Action.VALIDATION_SPLIT, "20"),
        B.PARAMS_MODE: selected(Action.PARAMS_MODE, "custom", "radio_buttons"),
        B.EPOCHS: _typed(Action.EPOCHS, "2"),
    }
    r = world.bot.post(
        payload_body(
            view_submission(Callback.RERUN, values, user=MEMBER, private_metadata=first, view_id="VR")
        )
    )
    assert r.status == 200 and r.json()["response_action"] == "update"
    review = view_update(world, Callback.REVIEW, after=seen)
    assert first in json.dumps(block(review["blocks"], B.REVIEW))  # "Rerun of" on the review
    r = world.bot.post(
        payload_body(
            view_submission(Callback.REVIEW, {}, user=MEMBER, private_metadata=review["private_metadata"])
        )
    )
    assert r.status == 200
    world.until(lambda: len(world.services.lifecycle.queries.jobs(channel_id=CHANNEL)) == 2)
    second = next(j for j in world.services.lifecycle.queries.jobs(channel_id=CHANNEL) if j.id != first)
    assert second.rerun_of == first and second.spec.hyperparameters.n_epochs == 2
    assert second.summary is not None and second.summary.split_fraction == 0.2
    assert _intake(world) == downloads  # the data was reused, not downloaded again
    _finished(world, second.id)

    first_card = _card(world, first)
    line = block(_card(world, second.id).blocks, B.CARD_RERUN)["elements"][0]["text"]
    assert f"Rerun of `{first}`" in line and message_link(CHANNEL, first_card.ts) in line
    pointer = [m for m in world.fake.thread(CHANNEL, first_card.ts) if "reran this job" in m.text]
    assert len(pointer) == 1 and second.id in pointer[0].text and MEMBER in pointer[0].text


def test_rerun_command_with_overrides_and_its_refusals(world: World) -> None:
    first = submit(world)
    world.slash(f"rerun {first} --epochs 1")
    world.wait_response("rerun it once it has")  # not finished yet: nothing starts
    _finished(world, first)
    downloads = _intake(world)
    world.slash(f"rerun {first} --epochs 1 --learning-rate-multiplier 0.5 --suffix again")
    second = _started(world, 2)
    rerun = _job(world, second)
    assert rerun.rerun_of == first and rerun.base_model == "ftbot-tiny"
    hp = rerun.spec.hyperparameters
    assert (hp.n_epochs, hp.batch_size, hp.learning_rate_multiplier) == (1, None, 0.5)
    assert rerun.spec.suffix == "again" and rerun.summary and rerun.summary.split_fraction == 0.2
    assert _intake(world) == downloads
    refused = world.slash(f"rerun {first} --beta 0.1")  # a usage error is the ack itself
    assert "`rerun` has no flag `--beta`" in refused["text"]
    world.slash("rerun no-such-job")
    world.wait_response("There is no job")


def test_rerun_says_when_the_data_is_gone(world: World) -> None:
    first = submit(world)
    _finished(world, first)
    for folder in world.services.intake.root.iterdir():
        for f in folder.glob("*.jsonl"):
            f.unlink()
    world.slash(f"rerun {first}")
    world.wait_response("no longer on this machine")
    seen = len(world.fake.calls_to("views.update"))
    world.click(Action.RERUN, first, trigger="trig-rerun-2")
    wizard = view_update(world, Callback.RERUN, after=seen)
    assert "give it again" in json.dumps(block(wizard["blocks"], B.RERUN_INTRO))
    assert not any(
        b.get("block_id") == B.TRAINING_EXISTING and b["element"].get("initial_option")
        for b in wizard["blocks"]
    )


def test_deploy_best_checkpoint_from_the_overfitting_warning_through_approval(tmp_path: Path) -> None:
    with open_world(tmp_path, backend=OverfittingBackend(epochs=4)) as world:
        _deploy_best(world)


def _deploy_best(world: World) -> None:
    job_id = submit(world)
    _finished(world, job_id)
    thread = world.fake.thread(CHANNEL, _card(world, job_id).ts)
    warning = next(m for m in thread if "running away" in m.text)
    button = buttons(warning, B.THREAD_ACTIONS)["Deploy best checkpoint"]
    seen = len(world.fake.calls_to("views.update"))
    world.click(Action.DEPLOY_BEST, button["value"], user=MEMBER, trigger="trig-best")
    dialog = view_update(world, Callback.DEPLOY, after=seen)
    assert _initial(dialog, B.DEPLOY_CHECKPOINT) == "2"  # epoch 2 had the lowest validation loss
    values: dict[str, Any] = {B.DEPLOY_CHECKPOINT: selected(Action.DEPLOY_CHECKPOINT, "2", "static_select")}
    r = world.bot.post(
        payload_body(
            view_submission(Callback.DEPLOY, values, user=MEMBER, private_metadata=dialog["private_metadata"])
        )
    )
    assert r.status == 200
    world.settle()
    request = next(
        m
        for m in world.fake.thread(CHANNEL, _card(world, job_id).ts)
        if "Approve" in buttons(m, B.APPROVAL_ACTIONS)
    )
    assert "checkpoint 2" in json.dumps(request.blocks)
    world.click(Action.APPROVE, buttons(request, B.APPROVAL_ACTIONS)["Approve"]["value"], user=APPROVER)
    world.wait_response("approved")
    model = world.backend.jobs[job_id]["spec"].output_model_name
    world.until(lambda: bool(world.backend.deploys))
    assert [m for m, _, _ in world.backend.deploys] == [f"{model}:ckpt-2"]
