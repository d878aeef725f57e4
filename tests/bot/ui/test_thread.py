from __future__ import annotations

from typing import Any

import pytest

from bot.ui.ids import Action
from bot.ui.ids import Block as B
from bot.ui.thread import thread_post
from commands.models import JobState
from commands.records import PostKind, ThreadPost
from tests.bot.ui.helpers import (
    HOSTILE,
    all_text,
    assert_escaped,
    assert_fallback_ok,
    assert_message_ok,
    block,
    buttons,
    has_block,
    make_job,
    rendered,
)

APPROVERS = ["U0APPROVER", "S0ONCALL"]
METRIC = {
    "step": 120,
    "epoch": 2,
    "train_loss": 0.4321,
    "valid_loss": 0.5123,
    "train_mean_token_accuracy": 0.87,
}

#: each kind's data, as PostKind's comments list it
EVALUATION_RESULT: dict[str, Any] = {
    "evaluation_id": "ft-support-1-ev-abc123",
    "state": "succeeded",
    "examples": 2,
    "total": 2,
    "base_model": "Phi-4-mini-instruct",
    "tuned": {"exact": 50.0, "f1": 75.0, "chrf": 61.2, "mean_length": 24.0, "failures": 0},
    "base": {"exact": 0.0, "f1": 20.0, "chrf": 23.4, "mean_length": 80.0, "failures": 0},
    "tally": {"wins": 2, "ties": 0, "losses": 0},
    "differing": [
        {"prompt": "p", "reference": "r", "tuned": "t", "base": "b", "tuned_chrf": 61.2, "base_chrf": 2.0}
    ],
    "headline": "chrF 61.2 vs base 23.4 on 2 held-out examples",
    "requested_by": "U1",
}
SAMPLE_DATA: dict[PostKind, dict[str, Any]] = {
    PostKind.QUEUED: {},
    PostKind.RUNNING: {},
    PostKind.EPOCH: {"metric": METRIC, "epoch": 2},
    PostKind.SUCCEEDED: {"final_train_loss": 0.31, "final_valid_loss": 0.42, "trained_tokens": 1_370_367},
    PostKind.FAILED: {"reason": "ResourceQuotaExceeded: no capacity in eastus2"},
    PostKind.CANCELLED: {"by": "U0CANCELLER"},
    PostKind.EVENT: {},
    PostKind.LOSS_CHART: {},
    PostKind.OVERFIT_WARNING: {"train_loss": 0.12, "valid_loss": 0.9, "best_valid_loss": 0.5},
    PostKind.APPROVAL_REQUEST: {"approval_id": 7, "requested_by": "U0ASKER", "approvers": APPROVERS},
    PostKind.APPROVAL_DECIDED: {"approval_id": 7, "decided_by": "U0APPROVER", "approved": True},
    PostKind.DEPLOYING: {"endpoint": "phi-support-ep", "by": "U0APPROVER"},
    PostKind.DEPLOYED: {"endpoint": "phi-support-ep"},
    PostKind.DEPLOY_FAILED: {"endpoint": "phi-support-ep", "reason": "Region not supported"},
    PostKind.TORN_DOWN: {"endpoint": "phi-support-ep", "by": "U0APPROVER", "model": "phi-4-mini-support"},
    PostKind.CHAT: {
        "endpoint": "phi-support-ep",
        "by": "U0CHATTER",
        "prompt": "How do I reset my password?",
        "system": "You are a support agent.",
        "reply": "Open Settings, then Security.",
        "usage": {"prompt_tokens": 12, "completion_tokens": 30, "total_tokens": 42},
        "content_filter": {"hate": {"filtered": False, "severity": "safe"}},
    },
    PostKind.IDLE_REMINDER: {"endpoint": "phi-support-ep", "idle_hours": 24},
    PostKind.TTL_TEARDOWN: {"endpoint": "phi-support-ep", "ttl_hours": 72},
    PostKind.REFUSED: {"action": "tear down", "by": "U0NOBODY"},
    PostKind.INFO: {},
    PostKind.EVALUATION: EVALUATION_RESULT,
    PostKind.EVALUATION_CHART: EVALUATION_RESULT,
    PostKind.CHECKPOINTS: {
        "checkpoints": [
            {"number": 1, "model": "m:ckpt-1", "step": 20, "epoch": 1, "metrics": {"train_loss": 0.9}},
            {"number": 2, "model": "m:ckpt-2", "step": 40, "epoch": 2, "metrics": {"valid_loss": 0.7}},
        ]
    },
    PostKind.PAUSED: {"by": "U0PAUSER"},
    PostKind.RESUMED: {"by": "U0PAUSER"},
    PostKind.RERUN: {"job": "ft-support-2", "by": "U0RERUNNER"},
}


def _post(kind: PostKind, text: str = "", **data: Any) -> ThreadPost:
    return ThreadPost(job_id="ft-support-1", kind=kind, text=text, data={**SAMPLE_DATA[kind], **data})


def test_every_kind_has_sample_data() -> None:
    assert set(SAMPLE_DATA) == set(PostKind)


@pytest.mark.parametrize("kind", list(PostKind))
def test_every_kind_renders_valid_blocks(kind: PostKind) -> None:
    text, blocks = thread_post(
        _post(kind, text="Detail from the service."), make_job(JobState.SUCCEEDED), APPROVERS
    )
    assert_message_ok(blocks)
    assert_fallback_ok(text)
    assert "Detail from the service." in all_text(blocks) or kind is PostKind.CHAT


@pytest.mark.parametrize("kind", list(PostKind))
def test_every_kind_escapes_hostile_text(kind: PostKind) -> None:
    hostile = {k: HOSTILE for k, v in SAMPLE_DATA[kind].items() if isinstance(v, str)}
    post = ThreadPost(job_id="x", kind=kind, text=HOSTILE, data={**SAMPLE_DATA[kind], **hostile})
    job = make_job(JobState.FAILED, job_id=HOSTILE, error=HOSTILE, output_model=HOSTILE)
    text, blocks = thread_post(post, job, [*APPROVERS, HOSTILE])
    assert_message_ok(blocks)
    assert_escaped(blocks, text)


def test_failed_and_succeeded_mention_the_submitter() -> None:
    job = make_job(JobState.FAILED, user_id="U0SUBMIT")
    text, blocks = thread_post(_post(PostKind.FAILED), job, APPROVERS)
    body = block(blocks, B.THREAD_TEXT)["text"]["text"]
    assert "<@U0SUBMIT>" in body and "<@U0SUBMIT>" in text
    assert "ResourceQuotaExceeded: no capacity in eastus2" in body
    text, blocks = thread_post(
        _post(PostKind.SUCCEEDED), make_job(JobState.SUCCEEDED, output_model="phi-ft"), []
    )
    assert "<@U0SUBMIT>" in block(blocks, B.THREAD_TEXT)["text"]["text"] and "phi-ft" in text
    details = block(blocks, B.THREAD_DETAILS)["text"]["text"]
    assert "0.3100" in details and "0.4200" in details and "1,370,367" in details


def test_failed_without_a_reason_in_data_uses_the_jobs_error() -> None:
    _, blocks = thread_post(_post(PostKind.FAILED, reason=None), make_job(JobState.FAILED, error="OOM"), [])
    assert "OOM" in block(blocks, B.THREAD_TEXT)["text"]["text"]


def test_approval_request_mentions_approvers_and_has_buttons() -> None:
    text, blocks = thread_post(_post(PostKind.APPROVAL_REQUEST), make_job(JobState.SUCCEEDED), [])
    body = block(blocks, B.APPROVAL_TEXT)["text"]["text"]
    assert "<@U0APPROVER>" in body and "<!subteam^S0ONCALL>" in body and "<@U0ASKER>" in body
    found = buttons(blocks, B.APPROVAL_ACTIONS)
    assert set(found) == {"Approve", "Reject"}
    assert found["Approve"]["action_id"] == Action.APPROVE and found["Approve"]["value"] == "7"
    assert found["Reject"]["action_id"] == Action.REJECT and found["Reject"]["value"] == "7"
    assert "confirm" in found["Reject"] and "confirm" not in found["Approve"]
    assert "<!subteam^S0ONCALL>" in text  # the notification text pings too


def test_approval_request_falls_back_to_configured_approvers_and_warns_when_none() -> None:
    post = ThreadPost(
        job_id="j", kind=PostKind.APPROVAL_REQUEST, data={"approval_id": 3, "requested_by": "U0A"}
    )
    _, blocks = thread_post(post, make_job(JobState.SUCCEEDED), ["S0GROUP"])
    assert "<!subteam^S0GROUP>" in block(blocks, B.APPROVAL_TEXT)["text"]["text"]
    _, blocks = thread_post(post, make_job(JobState.SUCCEEDED), [])
    assert "No approvers are configured" in block(blocks, B.APPROVAL_TEXT)["text"]["text"]


def test_approval_request_needs_an_id() -> None:
    post = ThreadPost(job_id="j", kind=PostKind.APPROVAL_REQUEST, data={"requested_by": "U0A"})
    with pytest.raises(ValueError, match="approval_id"):
        thread_post(post, make_job(JobState.SUCCEEDED), APPROVERS)


def test_approval_decided_both_ways() -> None:
    _, yes = thread_post(_post(PostKind.APPROVAL_DECIDED), make_job(), [])
    _, no = thread_post(_post(PostKind.APPROVAL_DECIDED, approved=False), make_job(), [])
    assert "approved" in all_text(yes) and "<@U0APPROVER>" in all_text(yes)
    assert "rejected" in all_text(no) and "Nothing was deployed" in all_text(no)


def test_idle_reminder_has_a_tear_down_button_with_confirm() -> None:
    _, blocks = thread_post(_post(PostKind.IDLE_REMINDER), make_job(JobState.SUCCEEDED), [])
    found = buttons(blocks, B.THREAD_ACTIONS)
    assert set(found) == {"Tear down"}
    assert (
        found["Tear down"]["action_id"] == Action.TEAR_DOWN
        and found["Tear down"]["value"] == "phi-support-ep"
    )
    assert "confirm" in found["Tear down"]
    assert "24 hours" in all_text(blocks) and "billed by the hour" in all_text(blocks)


def test_overfitting_offers_the_best_checkpoint_and_a_rerun_points_to_its_job() -> None:
    _, blocks = thread_post(_post(PostKind.OVERFIT_WARNING), make_job(JobState.SUCCEEDED), [])
    found = buttons(blocks, B.THREAD_ACTIONS)
    assert (
        set(found) == {"Deploy best checkpoint"}
        and found["Deploy best checkpoint"]["value"] == "ft-support-1"
    )
    _, rerun = thread_post(_post(PostKind.RERUN), make_job(JobState.SUCCEEDED), [])
    text = block(rerun, B.THREAD_TEXT)["text"]["text"]
    assert "`ft-support-2`" in text and "<@U0RERUNNER>" in text


def test_deployed_offers_test_chat_and_tear_down() -> None:
    _, blocks = thread_post(_post(PostKind.DEPLOYED), make_job(JobState.SUCCEEDED), [])
    assert set(buttons(blocks, B.THREAD_ACTIONS)) == {"Test chat", "Tear down"}


@pytest.mark.parametrize(
    "kind",
    [k for k in PostKind if k not in (PostKind.IDLE_REMINDER, PostKind.DEPLOYED, PostKind.OVERFIT_WARNING)],
)
def test_other_posts_have_no_thread_buttons(kind: PostKind) -> None:
    _, blocks = thread_post(_post(kind), make_job(JobState.SUCCEEDED), APPROVERS)
    assert not has_block(blocks, B.THREAD_ACTIONS)


def test_torn_down_says_the_model_remains() -> None:
    _, blocks = thread_post(_post(PostKind.TORN_DOWN), make_job(JobState.SUCCEEDED), [])
    text = block(blocks, B.THREAD_TEXT)["text"]["text"]
    assert "phi-4-mini-support" in text and "remains" in text and "redeployed" in text
    _, ttl = thread_post(_post(PostKind.TTL_TEARDOWN), make_job(JobState.SUCCEEDED), [])
    assert "72 hours" in all_text(ttl) and "remains" in all_text(ttl)


def test_epoch_shows_its_metrics() -> None:
    _, blocks = thread_post(_post(PostKind.EPOCH), make_job(), [])
    text = block(blocks, B.THREAD_TEXT)["text"]["text"]
    assert "Epoch 2" in text and "step 120" in text
    assert "train loss 0.4321" in text and "validation loss 0.5123" in text and "87.0%" in text


def test_overfit_warning_explains() -> None:
    _, blocks = thread_post(_post(PostKind.OVERFIT_WARNING), make_job(JobState.SUCCEEDED), [])
    text = block(blocks, B.THREAD_TEXT)["text"]["text"]
    assert "0.1200" in text and "0.9000" in text and "0.5000" in text
    assert "overfitting" in text and "fewer epochs" in text


def test_loss_chart_text_is_the_uploads_comment() -> None:
    text, blocks = thread_post(_post(PostKind.LOSS_CHART), make_job(JobState.SUCCEEDED), [])
    assert "Loss by step" in text and "ft-support-1" in text
    assert text == block(blocks, B.THREAD_TEXT)["text"]["text"]


def test_chat_shows_prompt_reply_usage_and_filter_but_never_a_key() -> None:
    post = _post(PostKind.CHAT, api_key="sk-SECRET-KEY", key="k3y-SECRET")
    text, blocks = thread_post(post, make_job(JobState.SUCCEEDED), [])
    assert_message_ok(blocks)
    prompt = block(blocks, B.CHAT_PROMPT_TEXT)["text"]["text"]
    assert (
        "How do I reset my password?" in prompt
        and "You are a support agent." in prompt
        and "<@U0CHATTER>" in prompt
    )
    assert "Open Settings, then Security." in block(blocks, B.CHAT_REPLY_TEXT)["text"]["text"]
    usage = all_text([block(blocks, B.CHAT_USAGE)])
    assert "12 prompt + 30 completion = 42" in usage and "hate: safe" in usage
    assert "SECRET" not in rendered(blocks, text)


def test_chat_content_filter_shows_what_was_filtered() -> None:
    post = _post(PostKind.CHAT, content_filter={"violence": {"filtered": True, "severity": "medium"}})
    _, blocks = thread_post(post, make_job(), [])
    assert ":no_entry: violence: filtered (medium)" in all_text([block(blocks, B.CHAT_USAGE)])


def test_chat_with_huge_prompt_and_reply_stays_within_limits() -> None:
    prompt = "Why? <!channel> & " * 600  # ~10,800 characters, escaping makes it longer
    reply = "word " * 2000 + "<@U0HOSTILE>&" * 400
    text, blocks = thread_post(_post(PostKind.CHAT, prompt=prompt, reply=reply), make_job(), [])
    dicts = assert_message_ok(blocks)
    assert_fallback_ok(text)
    assert_escaped(blocks, text)
    reply_parts = [d for d in dicts if str(d.get("block_id", "")).startswith(B.CHAT_REPLY_TEXT)]
    assert 2 <= len(reply_parts) <= 3
    assert "Reply clipped" in all_text([block(blocks, B.CHAT_USAGE)])


def test_chat_reply_split_loses_nothing_when_it_fits() -> None:
    reply = "\n".join(f"line {i}: " + "x" * 50 for i in range(100))  # ~6,000 chars: two sections
    _, blocks = thread_post(_post(PostKind.CHAT, reply=reply), make_job(), [])
    joined = "".join(
        d["text"]["text"].removeprefix("*Reply:*\n")
        for d in assert_message_ok(blocks)
        if str(d.get("block_id", "")).startswith(B.CHAT_REPLY_TEXT)
    )
    assert joined == reply
    assert "Reply clipped" not in all_text(blocks)


def test_checkpoints_are_listed_with_step_epoch_and_losses() -> None:
    text, blocks = thread_post(_post(PostKind.CHECKPOINTS), make_job(JobState.SUCCEEDED), APPROVERS)
    listed = block(blocks, B.THREAD_TEXT)["text"]["text"]
    assert "Checkpoint 1 · epoch 1 · step 20 · train loss 0.9000" in listed
    assert "Checkpoint 2 · epoch 2 · step 40 · valid loss 0.7000" in listed
    assert "--checkpoint N" in listed
    assert_message_ok(blocks)
    assert_fallback_ok(text)


def test_damaged_checkpoints_are_skipped_and_a_request_shows_its_options() -> None:
    _, blocks = thread_post(
        _post(PostKind.CHECKPOINTS, checkpoints=[{"number": "x"}, "junk"]), make_job(JobState.SUCCEEDED), []
    )
    assert "no deployable checkpoints" in block(blocks, B.THREAD_TEXT)["text"]["text"]
    options = {"checkpoint": 2, "sku": "GlobalStandard"}
    _, blocks = thread_post(_post(PostKind.APPROVAL_REQUEST, options=options), make_job(), APPROVERS)
    assert "checkpoint 2, SKU `GlobalStandard`" in block(blocks, B.APPROVAL_TEXT)["text"]["text"]
    _, blocks = thread_post(_post(PostKind.DEPLOYING, options=options), make_job(), APPROVERS)
    assert "Deploying checkpoint 2" in block(blocks, B.THREAD_TEXT)["text"]["text"]
