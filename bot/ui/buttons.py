"""The action buttons, so a button looks and behaves the same on the card, in the thread and in a list:
one action id each, the job, endpoint or request as its value, and a confirm dialog before anything
that stops, bills or refuses."""

from __future__ import annotations

from slack_sdk.models.blocks import ButtonElement, ConfirmObject

from bot.ui.ids import Action
from bot.ui.limits import BUTTON_VALUE_MAX, CONFIRM_BUTTON_MAX, CONFIRM_TEXT_MAX, CONFIRM_TITLE_MAX
from bot.ui.status import HOURLY_COST_NOTE
from bot.ui.text import clip, escape_clip


def _confirm(title: str, text: str, confirm: str, deny: str) -> ConfirmObject:
    return ConfirmObject(
        title=clip(title, CONFIRM_TITLE_MAX),
        text=clip(text, CONFIRM_TEXT_MAX),
        confirm=clip(confirm, CONFIRM_BUTTON_MAX),
        deny=clip(deny, CONFIRM_BUTTON_MAX),
        style="danger",
    )


def _value(value: str) -> str:
    """A button's value: what the click names (a job, an endpoint, a request), within Slack's limit."""
    return value[:BUTTON_VALUE_MAX]


def cancel_button(job_id: str) -> ButtonElement:
    return ButtonElement(
        text="Cancel",
        action_id=Action.CANCEL,
        value=_value(job_id),
        style="danger",
        confirm=_confirm(
            "Cancel this job?",
            f"Job {escape_clip(job_id, 100)} stops and cannot be resumed; you would submit it again.",
            "Cancel job",
            "Keep it",
        ),
    )


def pause_button(job_id: str) -> ButtonElement:
    return ButtonElement(
        text="Pause",
        action_id=Action.PAUSE,
        value=_value(job_id),
        confirm=ConfirmObject(
            title="Pause this job?",
            text=clip(
                f"Job {escape_clip(job_id, 100)} stops training after its current step; Resume takes it up "
                "again.",
                CONFIRM_TEXT_MAX,
            ),
            confirm="Pause",
            deny="Keep running",
        ),
    )


def resume_button(job_id: str) -> ButtonElement:
    return ButtonElement(text="Resume", action_id=Action.RESUME, value=_value(job_id), style="primary")


def deploy_options_button(job_id: str) -> ButtonElement:
    """Opens the Deploy dialog (a checkpoint instead of the final model, a SKU), which says what it
    bills, so it needs no confirm of its own."""
    return ButtonElement(text="Deploy with options…", action_id=Action.DEPLOY_OPTIONS, value=_value(job_id))


def rerun_button(job_id: str) -> ButtonElement:
    """Opens the wizard pre-filled with a finished job's choices; nothing starts before its Review."""
    return ButtonElement(text="Rerun…", action_id=Action.RERUN, value=_value(job_id))


def deploy_best_button(job_id: str) -> ButtonElement:
    """Opens the Deploy dialog with the checkpoint of lowest validation loss chosen (it says what it
    bills, so no confirm of its own)."""
    return ButtonElement(text="Deploy best checkpoint", action_id=Action.DEPLOY_BEST, value=_value(job_id))


#: a button naming a job and one of its checkpoints: ``JOB:N`` (a job id has no colon)
CHECKPOINT_SEPARATOR = ":"


def deploy_checkpoint_button(job_id: str, checkpoint: int) -> ButtonElement:
    """Opens the Deploy dialog with checkpoint ``checkpoint`` chosen (it says what it bills, so no confirm
    of its own); nothing deploys before the dialog is submitted."""
    return ButtonElement(
        text=f"Deploy checkpoint {checkpoint}",
        action_id=Action.DEPLOY_CHOSEN,
        value=_value(f"{job_id}{CHECKPOINT_SEPARATOR}{checkpoint}"),
    )


def deploy_button(job_id: str) -> ButtonElement:
    """Deploy the final model with the defaults, after a confirm."""
    return ButtonElement(
        text="Deploy",
        action_id=Action.DEPLOY,
        value=_value(job_id),
        style="primary",
        confirm=_confirm(
            "Deploy this model?",
            f"This creates a serverless endpoint for job {escape_clip(job_id, 100)}. {HOURLY_COST_NOTE} "
            "If you are not an approver, an approval request goes to the thread.",
            "Deploy",
            "Not now",
        ),
    )


def evaluate_button(job_id: str) -> ButtonElement:
    """Ask the fine-tuned model and its base model the held-out examples (anyone may; it bills only the
    replies of an endpoint already live)."""
    return ButtonElement(text="Evaluate", action_id=Action.EVALUATE, value=_value(job_id))


def test_chat_button(endpoint_name: str) -> ButtonElement:
    return ButtonElement(text="Test chat", action_id=Action.TEST_CHAT, value=_value(endpoint_name))


def tear_down_button(endpoint_name: str) -> ButtonElement:
    return ButtonElement(
        text="Tear down",
        action_id=Action.TEAR_DOWN,
        value=_value(endpoint_name),
        style="danger",
        confirm=_confirm(
            "Tear down this endpoint?",
            f"Endpoint {escape_clip(endpoint_name, 100)} is deleted and stops answering. "
            "The fine-tuned model remains and can be redeployed.",
            "Tear down",
            "Keep it",
        ),
    )


def approve_button(approval_id: int) -> ButtonElement:
    return ButtonElement(
        text="Approve", action_id=Action.APPROVE, value=_value(str(approval_id)), style="primary"
    )


def reject_button(approval_id: int) -> ButtonElement:
    return ButtonElement(
        text="Reject",
        action_id=Action.REJECT,
        value=_value(str(approval_id)),
        style="danger",
        confirm=_confirm(
            "Reject this request?",
            f"Deploy request #{escape_clip(approval_id, 40)} is rejected.",
            "Reject",
            "Back",
        ),
    )
