from __future__ import annotations

from datetime import timedelta

import pytest

from bot.ui.card import job_card
from bot.ui.ids import Action
from bot.ui.ids import Block as B
from commands.models import EndpointState, Hyperparameters, JobState
from tests.bot.ui.helpers import (
    HOSTILE,
    NOW,
    all_text,
    assert_escaped,
    assert_fallback_ok,
    assert_message_ok,
    block,
    buttons,
    has_block,
    make_approval,
    make_card,
    make_endpoint,
    make_job,
    make_summary,
)

DESTRUCTIVE = {"Cancel", "Deploy", "Tear down", "Reject"}


def _labels(card_blocks: list) -> set[str]:
    return set(buttons(card_blocks, B.CARD_ACTIONS)) if has_block(card_blocks, B.CARD_ACTIONS) else set()


@pytest.mark.parametrize(
    ("state", "endpoint_state", "expected"),
    [
        (JobState.PENDING, None, {"Cancel"}),
        (JobState.QUEUED, None, {"Cancel"}),
        (JobState.RUNNING, None, {"Cancel"}),
        (JobState.SUCCEEDED, None, {"Deploy", "Evaluate", "Rerun…"}),
        (JobState.SUCCEEDED, EndpointState.CREATING, {"Evaluate", "Rerun…"}),
        (JobState.SUCCEEDED, EndpointState.READY, {"Test chat", "Tear down", "Evaluate", "Rerun…"}),
        (JobState.SUCCEEDED, EndpointState.DELETING, {"Evaluate", "Rerun…"}),
        (JobState.SUCCEEDED, EndpointState.DELETED, {"Deploy", "Evaluate", "Rerun…"}),
        (JobState.SUCCEEDED, EndpointState.FAILED, {"Deploy", "Evaluate", "Rerun…"}),
        (JobState.FAILED, None, {"Rerun…"}),
        (JobState.CANCELLED, None, {"Rerun…"}),
        (JobState.UNKNOWN, None, set()),
    ],
)
def test_buttons_by_state(state: JobState, endpoint_state: EndpointState | None, expected: set[str]) -> None:
    endpoint = make_endpoint(endpoint_state) if endpoint_state else None
    text, blocks = job_card(make_card(make_job(state), endpoint), NOW)
    assert_message_ok(blocks)
    assert_fallback_ok(text)
    assert _labels(blocks) == expected
    assert has_block(blocks, B.CARD_ACTIONS) == bool(expected), "no actions block without a button"


def test_button_ids_values_and_confirm_dialogs() -> None:
    _, running = job_card(make_card(make_job(JobState.RUNNING)), NOW)
    _, succeeded = job_card(make_card(make_job(JobState.SUCCEEDED)), NOW)
    _, deployed = job_card(make_card(make_job(JobState.SUCCEEDED), make_endpoint()), NOW)
    found = {
        **buttons(running, B.CARD_ACTIONS),
        **buttons(succeeded, B.CARD_ACTIONS),
        **buttons(deployed, B.CARD_ACTIONS),
    }
    assert found["Cancel"]["action_id"] == Action.CANCEL and found["Cancel"]["value"] == "ft-support-1"
    assert found["Deploy"]["action_id"] == Action.DEPLOY and found["Deploy"]["value"] == "ft-support-1"
    assert (
        found["Test chat"]["action_id"] == Action.TEST_CHAT
        and found["Test chat"]["value"] == "phi-support-ep"
    )
    assert (
        found["Tear down"]["action_id"] == Action.TEAR_DOWN
        and found["Tear down"]["value"] == "phi-support-ep"
    )
    for label, button in found.items():
        assert ("confirm" in button) == (label in DESTRUCTIVE), label
    assert "billed by the hour" in found["Deploy"]["confirm"]["text"]["text"]
    assert "remains" in found["Tear down"]["confirm"]["text"]["text"]


def test_fields_show_model_data_hyperparameters_and_submitter() -> None:
    job = make_job(
        JobState.RUNNING,
        summary=make_summary(),
        hyperparameters=Hyperparameters(n_epochs=4, learning_rate_multiplier=0.1),
    )
    _, blocks = job_card(make_card(job), NOW)
    fields = all_text([block(blocks, B.CARD_FIELDS)])
    assert "Phi-4-mini-instruct" in fields
    assert "chat_completion" in fields
    assert "1,234 examples" in fields and "456,789 tokens" in fields
    assert "1,370,367" in fields and "3 epochs" in fields
    assert "approximate" in fields
    assert "automatic split, 10%" in fields
    assert (
        "n_epochs: 4" in fields
        and "batch_size: Default" in fields
        and "learning_rate_multiplier: 0.1" in fields
    )
    assert "<@U0SUBMIT>" in fields
    state = block(blocks, B.CARD_STATE)["text"]["text"]
    assert ":gear:" in state and "Running" in state and "42m elapsed" in state
    assert block(blocks, B.CARD_HEADER)["text"]["text"] == "Fine-tuning job ft-support-1"


def test_elapsed_stops_when_the_job_finishes() -> None:
    job = make_job(JobState.SUCCEEDED, age=timedelta(hours=5), finished_after=timedelta(hours=1, minutes=5))
    _, blocks = job_card(make_card(job), NOW)
    assert "1h 05m elapsed" in block(blocks, B.CARD_STATE)["text"]["text"]


def test_endpoint_line_has_state_and_age_but_never_a_key_or_uri() -> None:
    _, blocks = job_card(make_card(make_job(JobState.SUCCEEDED), make_endpoint()), NOW)
    text = block(blocks, B.CARD_ENDPOINT)["text"]["text"]
    assert "phi-support-ep" in text and "ready" in text and "up 5h 03m" in text
    assert "billed by the hour" in text
    assert "scoring" not in text and "models.ai.azure.com" not in text and "key" not in text.lower()


def test_pending_approval_and_studio_link() -> None:
    job = make_job(JobState.SUCCEEDED, studio_url="https://ai.azure.com/jobs/ft-support-1?wsid=a&tid=b")
    _, blocks = job_card(make_card(job, approval=make_approval()), NOW)
    assert "<@U0ASKER>" in block(blocks, B.CARD_APPROVAL)["text"]["text"]
    assert "#7" in block(blocks, B.CARD_APPROVAL)["text"]["text"]
    ctx = block(blocks, B.CARD_CONTEXT)["elements"][0]["text"]
    assert "<https://ai.azure.com/jobs/ft-support-1?wsid=a&amp;tid=b|Open in Azure AI Foundry studio>" in ctx


def test_failed_card_shows_the_reason() -> None:
    _, blocks = job_card(make_card(make_job(JobState.FAILED, error="Quota exceeded in eastus2")), NOW)
    assert "Quota exceeded in eastus2" in block(blocks, B.CARD_ERROR)["text"]["text"]
    _, no_reason = job_card(make_card(make_job(JobState.FAILED)), NOW)
    assert "no reason" in block(no_reason, B.CARD_ERROR)["text"]["text"]
    _, running = job_card(make_card(make_job(JobState.RUNNING)), NOW)
    assert not has_block(running, B.CARD_ERROR)


def test_hostile_strings_are_escaped_everywhere() -> None:
    job = make_job(
        JobState.FAILED,
        job_id=f"job {HOSTILE}",
        base_model=HOSTILE,
        training_name=HOSTILE,
        user_id=HOSTILE,
        error=HOSTILE,
        suffix=HOSTILE[:40],
        summary=make_summary(training_name=HOSTILE, validation_name=HOSTILE, validation_examples=3),
        studio_url="https://evil.example/|<!channel>",
        output_model=HOSTILE,
    )
    text, blocks = job_card(
        make_card(job, make_endpoint(EndpointState.FAILED, name=HOSTILE, error=HOSTILE)), NOW
    )
    assert_message_ok(blocks)
    assert_escaped(blocks, text)


def test_huge_inputs_stay_within_limits() -> None:
    big = "x&<" * 4000
    job = make_job(
        JobState.FAILED, base_model=big, error=big, training_name=big, summary=make_summary(training_name=big)
    )
    text, blocks = job_card(make_card(job, make_endpoint(EndpointState.FAILED, error=big)), NOW)
    assert_message_ok(blocks)
    assert_fallback_ok(text)
