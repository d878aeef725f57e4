"""The job card: the one parent message per job, edited in place as the job moves.

Also the small pieces the other builders share (mentions, durations, links, the action buttons), so a
button looks and behaves the same on the card, in the thread, in a list and in App Home.
"""

from __future__ import annotations

import re
from datetime import datetime

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.ui.ids import Action
from bot.ui.ids import Block as B
from bot.ui.text import clip, code, escape
from commands.models import EndpointState, Hyperparameters, JobState, MetricPoint
from commands.records import ApprovalRecord, DatasetSummary, EndpointRecord, JobCard, JobRecord

SECTION_MAX = 3000
FIELD_MAX = 2000
MESSAGE_MAX_BLOCKS = 50
FALLBACK_MAX = 3000  # chat.update refuses text over 4,000 characters (msg_too_long)

JOB_STATE_EMOJI: dict[JobState, str] = {
    JobState.PENDING: ":hourglass_flowing_sand:",
    JobState.QUEUED: ":inbox_tray:",
    JobState.RUNNING: ":gear:",
    JobState.SUCCEEDED: ":white_check_mark:",
    JobState.FAILED: ":x:",
    JobState.CANCELLED: ":no_entry_sign:",
    JobState.UNKNOWN: ":grey_question:",
}
ENDPOINT_STATE_EMOJI: dict[EndpointState, str] = {
    EndpointState.CREATING: ":construction:",
    EndpointState.READY: ":large_green_circle:",
    EndpointState.FAILED: ":red_circle:",
    EndpointState.DELETING: ":wastebasket:",
    EndpointState.DELETED: ":white_circle:",
}
CANCELLABLE = frozenset({JobState.PENDING, JobState.QUEUED, JobState.RUNNING})
HOURLY_COST_NOTE = "Hosting is billed by the hour until the endpoint is torn down."

_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,30}$")
_GROUP_ID = re.compile(r"^S[A-Z0-9]{2,30}$")
_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,30}$")


# --- text pieces ----------------------------------------------------------------------------------


def escape_clip(text: object, limit: int) -> str:
    """``escape(text)`` cut to at most ``limit`` characters without splitting an ``&amp;``-style entity."""
    raw = str(text)
    out = escape(raw)
    if len(out) <= limit:
        return out
    parts: list[str] = []
    used = 0
    budget = max(0, limit - 1)
    for ch in raw[:budget]:
        piece = escape(ch)
        if used + len(piece) > budget:
            break
        parts.append(piece)
        used += len(piece)
    return "".join(parts) + "…"


def plain(text: object, limit: int) -> str:
    """Text for a ``plain_text`` object (headers, option labels): Slack does not parse mentions there,
    but ``<``, ``>`` and ``&`` are dropped anyway so no client ever reads one as markup."""
    return clip(re.sub(r"[<>&]", "", str(text)), limit)


def mention(user_id: str | None) -> str:
    """``<@U…>`` for a Slack user id; anything else (``scheduler``, junk) shows as escaped text."""
    if not user_id:
        return "someone"
    if user_id == "scheduler":
        return "ftbot (scheduled)"
    if _USER_ID.match(user_id):
        return f"<@{user_id}>"
    return escape_clip(user_id, 80)


def channel_mention(channel_id: str | None) -> str:
    if channel_id and _CHANNEL_ID.match(channel_id):
        return f"<#{channel_id}>"
    return escape_clip(channel_id or "a channel", 80)


def approver_mention(approver_id: str) -> str:
    """Users as ``<@U…>``, user groups as ``<!subteam^S…>`` (FTBOT_APPROVERS holds both)."""
    if _GROUP_ID.match(approver_id):
        return f"<!subteam^{approver_id}>"
    return mention(approver_id)


def duration(seconds: float) -> str:
    """``45s``, ``12m``, ``3h 05m``, ``2d 4h``: short enough for a field, precise enough to act on."""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    minutes, _ = divmod(s, 60)
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h"


def since(start: datetime | None, now: datetime) -> str:
    return "—" if start is None else duration((now - start).total_seconds())


def link(url: str | None, label: str) -> str:
    """A mrkdwn link for an http(s) URL we got from a backend; anything odd is shown as plain text."""
    if not url or not url.startswith(("https://", "http://")) or any(c in url for c in "|<> \n\t"):
        return escape(label)
    return f"<{url.replace('&', '&amp;')}|{escape(label)}>"


def number(n: int | float) -> str:
    return f"{n:,}" if isinstance(n, int) else f"{n:,.4g}"


def job_state_text(job: JobRecord) -> str:
    word = job.state.value.capitalize()
    if job.state is JobState.UNKNOWN and job.service_status:
        word = f"Unknown ({escape_clip(job.service_status, 60)})"
    return f"{JOB_STATE_EMOJI[job.state]} *{word}*"


def endpoint_state_text(endpoint: EndpointRecord) -> str:
    return f"{ENDPOINT_STATE_EMOJI[endpoint.state]} {endpoint.state.value}"


def elapsed(job: JobRecord, now: datetime) -> str:
    end = job.finished_at if job.state.terminal and job.finished_at else now
    return duration((end - job.created_at).total_seconds())


def endpoint_age(endpoint: EndpointRecord, now: datetime) -> str:
    return since(endpoint.ready_at or endpoint.created_at, now)


def hyperparameters_text(hp: Hyperparameters) -> str:
    def show(value: object) -> str:
        return "Default" if value is None else escape(value)

    return (
        f"n_epochs: {show(hp.n_epochs)}\n"
        f"batch_size: {show(hp.batch_size)}\n"
        f"learning_rate_multiplier: {show(hp.learning_rate_multiplier)}"
    )


def data_summary_text(summary: DatasetSummary | None, fallback_name: str | None) -> str:
    if summary is None:
        return code(clip(fallback_name or "dataset", 80)) + "\n_not summarised_"
    lines = [f"{code(clip(summary.training_name, 80))}: {number(summary.examples)} examples"]
    if summary.total_tokens:
        lines.append(f"{number(summary.total_tokens)} tokens")
    if summary.billed_tokens_estimate:
        epochs = f" ({summary.epochs} epochs)" if summary.epochs else ""
        lines.append(f"Billed tokens ≈ {number(summary.billed_tokens_estimate)}{epochs}")
    if summary.approximate_tokens:
        lines.append("_Token counts are approximate for this model's tokenizer._")
    if summary.validation_name:
        extra = f", {number(summary.validation_examples)} examples" if summary.validation_examples else ""
        lines.append(f"Validation: {code(clip(summary.validation_name, 80))}{extra}")
    elif summary.split_fraction:
        lines.append(f"Validation: automatic split, {summary.split_fraction:.0%}")
    else:
        lines.append("Validation: none")
    if summary.warnings:
        lines.append(f":warning: {number(summary.warnings)} warning(s)")
    return clip("\n".join(lines), FIELD_MAX)


def metric_text(point: MetricPoint) -> str:
    parts = [f"step {point.step}"]
    if point.epoch is not None:
        parts.insert(0, f"epoch {point.epoch}")
    if point.train_loss is not None:
        parts.append(f"train loss {point.train_loss:.4f}")
    if point.valid_loss is not None:
        parts.append(f"validation loss {point.valid_loss:.4f}")
    if point.train_mean_token_accuracy is not None:
        parts.append(f"train accuracy {point.train_mean_token_accuracy:.1%}")
    if point.valid_mean_token_accuracy is not None:
        parts.append(f"validation accuracy {point.valid_mean_token_accuracy:.1%}")
    return " · ".join(parts)


def section(block_id: str, text: str) -> SectionBlock:
    return SectionBlock(block_id=block_id, text=MarkdownTextObject(text=clip(text, SECTION_MAX)))


def context(block_id: str, text: str) -> ContextBlock:
    return ContextBlock(block_id=block_id, elements=[MarkdownTextObject(text=clip(text, SECTION_MAX))])


def truncate(blocks: list[Block], limit: int, more_block: Block) -> list[Block]:
    return blocks if len(blocks) <= limit else [*blocks[: limit - 1], more_block]


# --- buttons --------------------------------------------------------------------------------------


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


def card_buttons(job: JobRecord, endpoint: EndpointRecord | None) -> list[ButtonElement]:
    """Buttons by state: Cancel while the job can stop, Deploy when it succeeded and nothing is live,
    Test chat and Tear down while its endpoint is ready."""
    if job.state in CANCELLABLE:
        return [cancel_button(job.id)]
    if endpoint is not None and endpoint.state is EndpointState.READY:
        return [test_chat_button(endpoint.name), tear_down_button(endpoint.name)]
    if job.state is JobState.SUCCEEDED and (endpoint is None or not endpoint.live):
        return [deploy_button(job.id)]
    return []


# --- the card -------------------------------------------------------------------------------------


def endpoint_text(endpoint: EndpointRecord, now: datetime) -> str:
    text = f"*Endpoint* {code(clip(endpoint.name, 100))}: {endpoint_state_text(endpoint)}"
    if endpoint.live:
        text += f" · up {endpoint_age(endpoint, now)}"
        if endpoint.last_used_at:
            text += f" · last used {since(endpoint.last_used_at, now)} ago"
        text += f"\n_{HOURLY_COST_NOTE}_"
    if endpoint.state is EndpointState.FAILED and endpoint.error:
        text += f"\n:x: {escape_clip(endpoint.error, 1500)}"
    if endpoint.state is EndpointState.DELETED:
        text += "\nThe model remains and can be redeployed."
    return text


def approval_text(approval: ApprovalRecord) -> str:
    return (
        f":hourglass: Deploy requested by {mention(approval.requested_by)} (request #{approval.id}): "
        "waiting for an approver."
    )


def card_blocks(card: JobCard, now: datetime, *, with_header: bool = True) -> list[Block]:
    job = card.job
    state = f"{job_state_text(job)} · {elapsed(job, now)} elapsed"
    if card.metrics:
        state += f"\nLatest: {metric_text(card.metrics[-1])}"
    fields = [
        f"*Base model*\n{code(clip(job.base_model, 150))}",
        f"*Task*\n{escape(job.spec.task.value)}",
        f"*Data*\n{data_summary_text(job.summary, job.spec.training.name)}",
        f"*Hyperparameters*\n{hyperparameters_text(job.spec.hyperparameters)}",
        f"*Submitted by*\n{mention(job.user_id)}",
    ]
    if job.spec.suffix:
        fields.append(f"*Suffix*\n{code(clip(job.spec.suffix, 40))}")
    if job.output_model:
        fields.append(f"*Output model*\n{code(clip(job.output_model, 200))}")
    blocks: list[Block] = []
    if with_header:
        blocks.append(HeaderBlock(block_id=B.CARD_HEADER, text=plain(f"Fine-tuning job {job.id}", 150)))
    blocks += [
        section(B.CARD_STATE, state),
        SectionBlock(
            block_id=B.CARD_FIELDS, fields=[MarkdownTextObject(text=clip(f, FIELD_MAX)) for f in fields[:10]]
        ),
    ]
    if card.endpoint is not None:
        blocks.append(section(B.CARD_ENDPOINT, endpoint_text(card.endpoint, now)))
    if card.pending_approval is not None:
        blocks.append(section(B.CARD_APPROVAL, approval_text(card.pending_approval)))
    if job.state is JobState.FAILED:
        reason = escape_clip(job.error, 2800) if job.error else "The service gave no reason."
        blocks.append(section(B.CARD_ERROR, f":x: *Failed:* {reason}"))
    buttons = card_buttons(job, card.endpoint)
    if buttons:
        blocks.append(ActionsBlock(block_id=B.CARD_ACTIONS, elements=buttons))
    notes = [f"Job {code(clip(job.id, 100))}"]
    if job.studio_url:
        notes.append(link(job.studio_url, "Open in Azure AI Foundry studio"))
    blocks.append(context(B.CARD_CONTEXT, " · ".join(notes)))
    return blocks


def card_fallback(job: JobRecord) -> str:
    return clip(f"Fine-tuning job {escape(job.id)}: {job.state.value}", FALLBACK_MAX)


def job_card(card: JobCard, now: datetime) -> tuple[str, list[Block]]:
    """The card's fallback text and blocks (post it once, then ``chat.update`` it with these)."""
    return card_fallback(card.job), card_blocks(card, now)
