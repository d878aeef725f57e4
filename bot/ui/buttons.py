"""The action buttons, so a button looks and behaves the same on the card, in the thread and in a list:
one action id each, the job, endpoint or request as its value, and a confirm dialog before anything
that stops, bills or refuses."""

from __future__ import annotations

from slack_sdk.models.blocks import ButtonElement, ConfirmObject

from bot.ui.ids import Action
from bot.ui.status import HOURLY_COST_NOTE
from bot.ui.text import clip, escape_clip


def _confirm(title: str, text: str, confirm: str, deny: str) -> ConfirmObject:
    return ConfirmObject(title=title, text=clip(text, 300), confirm=confirm, deny=deny, style="danger")


def cancel_button(job_id: str) -> ButtonElement:
    return ButtonElement(
        text="Cancel",
        action_id=Action.CANCEL,
        value=job_id,
        style="danger",
        confirm=_confirm(
            "Cancel this job?",
            f"Job {escape_clip(job_id, 100)} stops and cannot be resumed; you would submit it again.",
            "Cancel job",
            "Keep it",
        ),
    )


def deploy_button(job_id: str) -> ButtonElement:
    return ButtonElement(
        text="Deploy",
        action_id=Action.DEPLOY,
        value=job_id,
        style="primary",
        confirm=_confirm(
            "Deploy this model?",
            f"This creates a serverless endpoint for job {escape_clip(job_id, 100)}. {HOURLY_COST_NOTE} "
            "If you are not an approver, an approval request goes to the thread.",
            "Deploy",
            "Not now",
        ),
    )


def test_chat_button(endpoint_name: str) -> ButtonElement:
    return ButtonElement(text="Test chat", action_id=Action.TEST_CHAT, value=endpoint_name)


def tear_down_button(endpoint_name: str) -> ButtonElement:
    return ButtonElement(
        text="Tear down",
        action_id=Action.TEAR_DOWN,
        value=endpoint_name,
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
    return ButtonElement(text="Approve", action_id=Action.APPROVE, value=str(approval_id), style="primary")


def reject_button(approval_id: int) -> ButtonElement:
    return ButtonElement(
        text="Reject",
        action_id=Action.REJECT,
        value=str(approval_id),
        style="danger",
        confirm=_confirm(
            "Reject this request?", f"Deploy request #{approval_id} is rejected.", "Reject", "Back"
        ),
    )
