"""The job card: the one parent message per job, edited in place as the job moves."""

from __future__ import annotations

from datetime import datetime

from slack_sdk.models.blocks import ActionsBlock, Block, ButtonElement, HeaderBlock

from bot.ui.blocks import FALLBACK_MAX, FIELD_MAX, context, fields_section, section
from bot.ui.budgets import SUBMIT, held_card_text
from bot.ui.buttons import (
    cancel_button,
    deploy_button,
    deploy_options_button,
    evaluate_button,
    pause_button,
    rerun_button,
    resume_button,
    tear_down_button,
    test_chat_button,
)
from bot.ui.costs import card_costs_text
from bot.ui.deploy import options_text
from bot.ui.ids import Block as B
from bot.ui.status import (
    HOURLY_COST_NOTE,
    elapsed,
    endpoint_age,
    endpoint_state_text,
    job_state_text,
    metric_text,
    since,
)
from bot.ui.text import clip, code, escape, escape_clip, link, mention, number, plain
from commands.costs.recorder import JobCosts
from commands.lifecycle.holds import unestimated
from commands.models import EndpointState, Hyperparameters, JobState, Method
from commands.records import ApprovalRecord, DatasetSummary, EndpointRecord, JobCard, JobRecord

CANCELLABLE = frozenset({JobState.PENDING, JobState.HELD, JobState.QUEUED, JobState.RUNNING, JobState.PAUSED})
RERUNNABLE = frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED})
#: a message's link, from its channel and ts (Slack redirects it to the workspace's own address)
MESSAGE_LINK = "https://slack.com/archives/{channel}/p{ts}"


def message_link(channel: str, ts: str) -> str:
    return MESSAGE_LINK.format(channel=channel, ts=ts.replace(".", ""))


def rerun_text(job: JobRecord, origin: tuple[str, str] | None) -> str:
    """``Rerun of JOB``, linked to the first job's card (and so its thread) once that card is posted."""
    first = code(clip(job.rerun_of or "", 100))
    if origin is None:
        return f":repeat: Rerun of {first}"
    return f":repeat: Rerun of {first}: {link(message_link(*origin), 'its card and thread')}"


def hyperparameters_text(hp: Hyperparameters) -> str:
    def show(value: object) -> str:
        return "Default" if value is None else escape(value)

    return (
        f"n_epochs: {show(hp.n_epochs)}\n"
        f"batch_size: {show(hp.batch_size)}\n"
        f"learning_rate_multiplier: {show(hp.learning_rate_multiplier)}"
        + (f"\nbeta: {show(hp.beta)}" if hp.beta is not None else "")
    )


def data_summary_text(summary: DatasetSummary | None, fallback_name: str | None) -> str:
    if summary is None:
        return code(clip(fallback_name or "dataset", 80)) + "\n_not summarised_"
    if summary.not_checked:  # a dataset the service keeps, too large to validate here
        lines = [f"{code(clip(summary.training_name, 80))}: _{escape_clip(summary.not_checked, 300)}_"]
    else:
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


def card_buttons(
    job: JobRecord, endpoint: EndpointRecord | None, *, pausable: bool = False, deploy_dialog: bool = False
) -> list[ButtonElement]:
    """Buttons by state: Cancel while the job can stop (with Pause while it runs, Resume while it is
    paused, where the backend can pause), Deploy when it succeeded and nothing is live (opening the Deploy
    dialog from a second button where there are options), Test chat and Tear down while its endpoint is
    ready, and Rerun… once it has finished (succeeded, failed or cancelled)."""
    if job.state in CANCELLABLE:
        buttons = [cancel_button(job.id)]
        if pausable and job.state is JobState.RUNNING:
            buttons.insert(0, pause_button(job.id))
        if pausable and job.state is JobState.PAUSED:
            buttons.insert(0, resume_button(job.id))
        return buttons
    rerun = [rerun_button(job.id)] if job.state in RERUNNABLE else []
    if endpoint is not None and endpoint.state is EndpointState.READY:
        return [test_chat_button(endpoint.name), tear_down_button(endpoint.name), *rerun]
    if job.state is JobState.SUCCEEDED and (endpoint is None or not endpoint.live):
        return [deploy_button(job.id)] + ([deploy_options_button(job.id)] if deploy_dialog else []) + rerun
    return rerun


def endpoint_text(endpoint: EndpointRecord, now: datetime) -> str:
    text = f"*Endpoint* {code(clip(endpoint.name, 100))}: {endpoint_state_text(endpoint)}"
    if endpoint.options.checkpoint is not None or endpoint.options.sku or endpoint.options.target:
        text += f" · {options_text(endpoint.options)}"
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


def approval_text(approval: ApprovalRecord, job: JobRecord) -> str:
    if approval.action == SUBMIT:  # a submit held over the channel's budget, or with no estimate
        return held_card_text(approval, mention(approval.requested_by), unestimated=unestimated(job))
    return (
        f":hourglass: Deploy of {options_text(approval.options)} requested by "
        f"{mention(approval.requested_by)} (request #{approval.id}): waiting for an approver."
    )


def _fields(job: JobRecord) -> list[str]:
    fields = [
        f"*Base model*\n{code(clip(job.base_model, 150))}",
        f"*Task*\n{escape(job.spec.task.value)}",
        f"*Data*\n{data_summary_text(job.summary, job.spec.training.name)}",
        f"*Hyperparameters*\n{hyperparameters_text(job.spec.hyperparameters)}",
        f"*Submitted by*\n{mention(job.user_id)}",
    ]
    if job.spec.suffix:
        fields.append(f"*Suffix*\n{code(clip(job.spec.suffix, 40))}")
    if job.spec.method is not Method.SUPERVISED or job.spec.training_type:
        tier = f" · tier {code(clip(job.spec.training_type, 40))}" if job.spec.training_type else ""
        fields.append(f"*Method*\n{escape(job.spec.method.value.upper())}{tier}")
    if job.output_model:
        fields.append(f"*Output model*\n{code(clip(job.output_model, 200))}")
    return fields


def card_blocks(
    card: JobCard, now: datetime, *, with_header: bool = True, costs: JobCosts | None = None
) -> list[Block]:
    """``costs``: the money line (None: no cost facts or prices to show)."""
    job = card.job
    state = f"{job_state_text(job)} · {elapsed(job, now)} elapsed"
    if card.metrics:
        state += f"\nLatest: {metric_text(card.metrics[-1])}"
    blocks: list[Block] = []
    if with_header:
        blocks.append(HeaderBlock(block_id=B.CARD_HEADER, text=plain(f"Fine-tuning job {job.id}", 150)))
    blocks += [section(B.CARD_STATE, state), fields_section(B.CARD_FIELDS, _fields(job))]
    if job.rerun_of:
        blocks.append(context(B.CARD_RERUN, rerun_text(job, card.rerun_origin)))
    if card.endpoint is not None:
        blocks.append(section(B.CARD_ENDPOINT, endpoint_text(card.endpoint, now)))
    if card.evaluation:
        blocks.append(section(B.CARD_EVALUATION, f"*Evaluation* {escape_clip(card.evaluation, 500)}"))
    money = card_costs_text(costs) if costs is not None else None
    if money:
        blocks.append(section(B.CARD_COSTS, money))
    if card.pending_approval is not None:
        blocks.append(section(B.CARD_APPROVAL, approval_text(card.pending_approval, job)))
    if job.state is JobState.FAILED:
        reason = escape_clip(job.error, 2800) if job.error else "The service gave no reason."
        blocks.append(section(B.CARD_ERROR, f":x: *Failed:* {reason}"))
    buttons = card_buttons(job, card.endpoint, pausable=card.pausable, deploy_dialog=card.deploy_dialog)
    if job.state is JobState.SUCCEEDED:
        buttons.append(evaluate_button(job.id))
    if buttons:
        blocks.append(ActionsBlock(block_id=B.CARD_ACTIONS, elements=buttons))
    notes = [f"Job {code(clip(job.id, 100))}"]
    if job.studio_url:
        notes.append(link(job.studio_url, "Open in Azure AI Foundry studio"))
    blocks.append(context(B.CARD_CONTEXT, " · ".join(notes)))
    return blocks


def card_fallback(job: JobRecord) -> str:
    return clip(f"Fine-tuning job {escape(job.id)}: {job.state.value}", FALLBACK_MAX)


def job_card(card: JobCard, now: datetime, costs: JobCosts | None = None) -> tuple[str, list[Block]]:
    """The card's fallback text and blocks (post it once, then ``chat.update`` it with these)."""
    return card_fallback(card.job), card_blocks(card, now, costs=costs)
