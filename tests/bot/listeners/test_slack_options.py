"""End to end over signed HTTP, on a backend with the optional ports (``RichFakeBackend``: pause and
resume, checkpoints, training tiers and deployment SKUs, a base model that trains with DPO): the wizard's
Method and Training tier, DPO data checks, Pause and Resume, the checkpoints post, and the Deploy dialog
through an approval to the backend call."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.demo.payloads import payload_body, view_submission, wizard_values
from bot.ui.ids import Action, Callback
from bot.ui.ids import Block as B
from commands.models import EndpointState, JobState, Method
from tests.fakes.backend import FakeBackend, RichFakeBackend
from tests.support.data import preference_lines
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

OTHER = "UOTHER0001"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    www = tmp_path / "www"
    www.mkdir()
    (www / "prefs.jsonl").write_text(preference_lines(20))
    (www / "bad-prefs.jsonl").write_text(
        preference_lines(11) + json.dumps({"input": {"messages": []}, "preferred_output": "x"}) + "\n"
    )
    with open_world(tmp_path, backend=RichFakeBackend()) as w:
        yield w


def state(world: World, job_id: str) -> JobState:
    return world.services.lifecycle.queries.card(job_id).job.state


def test_wizard_offers_method_and_tier_and_starts_a_dpo_job(world: World) -> None:
    world.slash("")
    wizard = view_update(world, Callback.WIZARD)
    tiers = block(wizard["blocks"], B.TRAINING_TYPE)["element"]["options"]
    assert [o["value"] for o in tiers] == ["Standard", "GlobalStandard", "Developer"]
    assert {o["value"] for o in block(wizard["blocks"], B.METHOD)["element"]["options"]} == {
        "supervised",
        "dpo",
    }

    file = world.fake.add_file((world.files.root / "prefs.jsonl").read_bytes(), "prefs.jsonl")
    values = wizard_values("ftbot-tiny", file)
    values[B.METHOD] = selected(Action.METHOD, "dpo")
    values[B.TRAINING_TYPE] = selected(Action.TRAINING_TYPE, "Developer")
    r = world.bot.post(
        payload_body(
            view_submission(Callback.WIZARD, values, user=MEMBER, private_metadata=CHANNEL, view_id="VW")
        )
    )
    assert r.status == 200 and r.json()["response_action"] == "update"
    review = view_update(world, Callback.REVIEW, "VW")
    assert review["submit"]["text"] == "Start training"
    notes = block(review["blocks"], B.REVIEW_TIERS)["elements"][0]["text"]
    assert "Regional: data stays" in notes and "half of Global" in notes  # one line per tier
    assert "Developer" in json.dumps(block(review["blocks"], B.REVIEW))
    r = world.bot.post(
        payload_body(
            view_submission(Callback.REVIEW, {}, user=MEMBER, private_metadata=review["private_metadata"])
        )
    )
    assert r.status == 200
    world.until(lambda: len(world.fake.channel_messages(CHANNEL)) == 1)
    job = world.services.lifecycle.queries.jobs(channel_id=CHANNEL)[0]
    assert job.spec.method is Method.DPO and job.spec.training_type == "Developer"


def test_wizard_refuses_beta_without_dpo_on_its_field(world: World) -> None:
    file = world.fake.add_file((world.files.root / "train.jsonl").read_bytes(), "train.jsonl")
    values = wizard_values("ftbot-tiny", file, epochs=2)
    values[B.BETA] = {Action.BETA: {"type": "number_input", "value": "0.1"}}
    r = world.bot.post(
        payload_body(view_submission(Callback.WIZARD, values, user=MEMBER, private_metadata=CHANNEL))
    )
    assert r.json()["response_action"] == "errors" and "DPO" in r.json()["errors"][B.BETA]


def test_dpo_data_errors_have_lines_and_a_model_without_dpo_is_refused(world: World) -> None:
    world.slash(f"validate --method dpo {world.files.url('bad-prefs.jsonl')}")
    text = json.dumps(world.fake.responses)
    world.wait_response("Dataset check")
    deadline = time.monotonic() + 10
    while "missing_input" not in text and time.monotonic() < deadline:
        time.sleep(0.02)
        text = json.dumps(world.fake.responses)
    assert "missing_input" in text and "12" in text
    world.slash(f"submit --model Phi-4-mini-instruct --method dpo --data {world.files.url('prefs.jsonl')}")
    world.wait_response("cannot be fine-tuned with DPO")
    assert world.backend.calls["submit_job"] == 0


def test_pause_and_resume_buttons_and_commands(world: World) -> None:
    world.backend.epochs = 50
    job_id = submit(world)
    world.until(lambda: state(world, job_id) is JobState.RUNNING)
    world.until(lambda: "Pause" in buttons(world.card()))
    assert "confirm" in buttons(world.card())["Pause"] and "Cancel" in buttons(world.card())

    world.click(Action.PAUSE, job_id, user=OTHER)
    world.wait_response("Only the submitter")
    assert world.backend.calls["pause_job"] == 0

    world.click(Action.PAUSE, job_id, user=MEMBER)
    world.wait_response("Pause of")
    world.until(lambda: "Resume" in buttons(world.card()) and "Pause" not in buttons(world.card()))
    assert state(world, job_id) is JobState.PAUSED

    world.slash(f"resume {job_id}", user=OTHER)
    world.wait_response("can resume")
    world.slash(f"resume {job_id}", user=APPROVER)
    world.wait_response("resumes")
    world.until(lambda: "Pause" in buttons(world.card()))
    world.settle()
    texts = " ".join(m.text for m in world.thread())
    assert "paused the job" in texts and "resumed the job" in texts
    audit = [(e.action, e.actor, e.result) for e in _audit(world) if e.action in ("pause", "resume")]
    assert ("pause", OTHER, "denied") in audit and ("pause", MEMBER, "ok") in audit
    assert ("resume", APPROVER, "ok") in audit


def _audit(world: World) -> list[Any]:
    with world.services.store.transaction() as tx:
        return list(tx.audit_entries())


def test_checkpoints_post_and_the_deploy_dialog_through_approval(world: World) -> None:
    job_id = submit(world)
    world.until(lambda: state(world, job_id) is JobState.SUCCEEDED)
    world.settle()
    listing = next(m for m in world.thread() if "Checkpoints" in m.text)
    assert "Checkpoint 1 · epoch 1 · step 2" in listing.text and "train loss" in listing.text
    offered = buttons(world.card())
    assert "confirm" in offered["Deploy"]  # one click deploys the final model, as on every backend
    assert "confirm" not in offered["Deploy with options…"]  # the dialog says what it bills

    world.click(Action.DEPLOY_OPTIONS, job_id, user=MEMBER, trigger="trig-deploy-1")
    opened = world.fake.wait_for("views.open")[-1]
    assert opened.body["trigger_id"] == "trig-deploy-1"
    dialog = view_update(world, Callback.DEPLOY)
    choices = block(dialog["blocks"], B.DEPLOY_CHECKPOINT)["element"]["options"]
    assert [o["value"] for o in choices] == ["final", "1", "2"]
    assert not any(b.get("block_id") == B.DEPLOY_SKU for b in dialog["blocks"])  # approvers choose SKUs
    assert dialog["submit"]["text"] == "Request deploy"
    values: dict[str, Any] = {B.DEPLOY_CHECKPOINT: selected(Action.DEPLOY_CHECKPOINT, "1", "static_select")}
    r = world.bot.post(
        payload_body(
            view_submission(Callback.DEPLOY, values, user=MEMBER, private_metadata=dialog["private_metadata"])
        )
    )
    assert r.status == 200
    world.quiesce()
    world.settle()
    request = next(m for m in world.thread() if "Approve" in buttons(m, B.APPROVAL_ACTIONS))
    assert "checkpoint 1" in json.dumps(request.blocks)
    assert any("approval request" in m.text for m in world.fake.ephemeral if m.user == MEMBER)
    approval = buttons(request, B.APPROVAL_ACTIONS)["Approve"]["value"]
    world.click(Action.APPROVE, approval, user=APPROVER)
    world.wait_response("approved")
    world.until(lambda: _endpoint_ready(world, job_id))
    model = world.backend.jobs[job_id]["spec"].output_model_name
    assert [(m, sku) for m, _, sku in world.backend.deploys] == [(f"{model}:ckpt-1", None)]


def test_an_approver_deploys_a_checkpoint_with_a_sku_from_the_dialog(world: World) -> None:
    job_id = submit(world)
    world.until(lambda: state(world, job_id) is JobState.SUCCEEDED)
    world.click(Action.DEPLOY_OPTIONS, job_id, user=APPROVER)
    dialog = view_update(world, Callback.DEPLOY)
    skus = block(dialog["blocks"], B.DEPLOY_SKU)["element"]["options"]
    assert [o["value"] for o in skus] == ["Standard", "GlobalStandard", "Developer"]
    assert "deleted after 24 hours" in json.dumps(skus)
    values: dict[str, Any] = {
        B.DEPLOY_CHECKPOINT: selected(Action.DEPLOY_CHECKPOINT, "2", "static_select"),
        B.DEPLOY_SKU: selected(Action.DEPLOY_SKU, "GlobalStandard"),
    }
    r = world.bot.post(
        payload_body(view_submission(Callback.DEPLOY, values, user=APPROVER, private_metadata=job_id))
    )
    assert r.status == 200
    world.until(lambda: _endpoint_ready(world, job_id))
    model = world.backend.jobs[job_id]["spec"].output_model_name
    assert [(m, sku) for m, _, sku in world.backend.deploys] == [(f"{model}:ckpt-2", "GlobalStandard")]
    world.settle()
    assert "checkpoint 2" in json.dumps(block(world.card().blocks, B.CARD_ENDPOINT))
    world.slash(f"deploy {job_id} --checkpoint 7", user=APPROVER)
    world.wait_response("already deployed")


def test_a_non_approver_cannot_choose_a_sku_and_a_missing_checkpoint_is_named(world: World) -> None:
    job_id = submit(world)
    world.until(lambda: state(world, job_id) is JobState.SUCCEEDED)
    world.slash(f"deploy {job_id} --sku Developer", user=MEMBER)
    world.wait_response("Only approvers choose the deployment SKU")
    world.slash(f"deploy {job_id} --checkpoint 9", user=APPROVER)
    world.wait_response("no checkpoint 9")
    assert world.backend.calls["deploy_model"] == 0


def _endpoint_ready(world: World, job_id: str) -> bool:
    endpoint = world.services.lifecycle.queries.card(job_id).endpoint
    return endpoint is not None and endpoint.state is EndpointState.READY


def test_a_backend_without_the_options_keeps_one_click_deploy_and_says_it_cannot_pause(
    tmp_path: Path,
) -> None:
    with open_world(tmp_path, backend=FakeBackend()) as world:
        world.backend.epochs = 50
        job_id = submit(world)
        world.until(lambda: state(world, job_id) is JobState.RUNNING)
        world.settle()
        assert set(buttons(world.card())) == {"Cancel"}
        world.slash(f"pause {job_id}")
        world.wait_response("cannot pause jobs")


def test_a_damaged_deploy_dialog_is_answered_in_the_modal(world: World) -> None:
    bad: dict[str, Any] = {B.DEPLOY_CHECKPOINT: selected(Action.DEPLOY_CHECKPOINT, "x1", "static_select")}
    r = world.bot.post(
        payload_body(view_submission(Callback.DEPLOY, bad, user=MEMBER, private_metadata="ft-x-1"))
    )
    assert r.status == 200 and B.DEPLOY_CHECKPOINT in r.json()["errors"]
    r = world.bot.post(
        payload_body(view_submission(Callback.DEPLOY, {}, user=MEMBER, private_metadata="<!here>"))
    )
    assert r.status == 200 and "damaged" in json.dumps(r.json())
    assert world.backend.calls["deploy_model"] == 0
