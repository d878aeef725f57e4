"""The ephemeral replies a user gets for what they typed (``/finetune …``) or clicked (card buttons).

The card and its thread tell the channel; these tell the one person who asked.
"""

from __future__ import annotations

from slack_sdk.models.blocks import Block

from bot.ui.text import clip, code, escape, mention, number
from bot.ui.validation import validation_report_blocks
from commands import grammar
from commands.dataset import ValidationReport
from commands.lifecycle import DeployOutcome, Launched
from commands.lifecycle.holds import unestimated
from commands.models import ChatReply, JobState
from commands.records import ApprovalRecord, EndpointRecord, JobRecord, LaunchRecord

_WORKING: dict[type, str] = {
    grammar.Submit: "Checking your dataset before anything is submitted…",
    grammar.Validate: "Checking the dataset…",
    grammar.Deploy: "Working on the deploy…",
    grammar.Chat: "Asking the model…",
    grammar.Teardown: "Tearing down…",
    grammar.Cancel: "Cancelling…",
    grammar.Pause: "Pausing…",
    grammar.Resume: "Resuming…",
    grammar.Evaluate: "Starting the evaluation…",
}


def working(cmd: grammar.Command) -> str:
    """The ack of a subcommand whose work goes on after Slack's 3 seconds."""
    return _WORKING.get(type(cmd), "One moment…")


def launched(done: Launched, cost: str | None = None) -> str:
    """``cost``: the estimated training cost line (None: the model has no price)."""
    job = done.job
    unread = done.checked.request.training.path is None  # kept by the service, too large to check here
    examples = "not validated locally" if unread else f"{done.checked.report.examples} examples"
    summary = job.summary
    billed = (
        f", billed tokens ≈ {number(summary.billed_tokens_estimate)}"
        if summary and summary.billed_tokens_estimate
        else ""
    )
    money = f"; {cost}" if cost else ""
    if job.state is JobState.HELD:  # over the channel's budget (FTBOT_BUDGETS): an approver decides
        cause = "its data was not read here" if unread else "it is billed by the hour of training"
        why = (
            f"its cost could not be estimated ({cause}) and this channel has a monthly budget"
            if unestimated(job)
            else "it would take this channel past its monthly budget"
        )
        return (
            f":raised_hand: Held {code(job.id)} on {code(job.base_model)} "
            f"({examples}{billed}{money}): {why}, so an approver decides in its thread. "
            "Nothing has been submitted yet."
        )
    return (
        f":rocket: Started {code(job.id)} on {code(job.base_model)} ({examples}{billed}{money}). "
        "Its card in the channel tracks it."
    )


def dataset_checked(name: str, report: ValidationReport) -> tuple[str, list[Block]]:
    return f"Dataset check of {escape(name)}", validation_report_blocks(report, title=name)


def deploy_requested(job_id: str, outcome: DeployOutcome, *, clicked: bool = False) -> str:
    if outcome.endpoint is not None:
        return f":rocket: Deploying {code(job_id)} as {code(outcome.endpoint.name)}."
    if clicked:
        if outcome.approval_is_new:
            return ":hourglass: You are not an approver, so an approval request was posted in the thread."
        return ":hourglass: A deploy request for this job is already waiting for an approver."
    if outcome.approval_is_new:
        return f":hourglass: Approval requested for deploying {code(job_id)}; approvers were asked."
    return f":hourglass: A deploy of {code(job_id)} is already waiting for an approver."


def approval_decided(approval: ApprovalRecord, approve: bool) -> str:
    if approval.action == "submit":  # a submit held over the channel's budget
        word = "approved: submitting" if approve else "rejected: nothing was submitted"
        return f"Held job {code(approval.job_id)} {word}."
    word = "approved: deploying" if approve else "rejected"
    return f"Deploy of {code(approval.job_id)} {word}."


def chat_answered(endpoint: str, reply: ChatReply) -> str:
    return f"*{escape(endpoint)}*: {escape(reply.content[:2900])}"


def torn_down(endpoint: EndpointRecord, *, clicked: bool = False) -> str:
    if clicked:
        return f":wastebasket: {code(endpoint.name)} is torn down; the model remains and can be redeployed."
    return (
        f":wastebasket: {code(endpoint.name)} is torn down. "
        f"The model {code(endpoint.model)} remains and can be redeployed."
    )


def cancel_requested(job: JobRecord, *, clicked: bool = False) -> str:
    if clicked:
        return f":octagonal_sign: Cancel of {code(job.id)} requested."
    return f":octagonal_sign: Cancel of {code(job.id)} requested; the card will show when it stops."


def paused_or_resumed(job: JobRecord, action: str) -> str:
    """To whoever clicked Pause or Resume (or typed it): the card follows the service's state."""
    if action == "pause":
        return (
            f":double_vertical_bar: Pause of {code(job.id)} requested; Resume on the card takes it up again."
        )
    return f":arrow_forward: {code(job.id)} resumes; the card shows when it runs again."


def submit_launch(model: str, data_address: str) -> str:
    """What a ``/finetune submit`` asked, plain: kept while its dataset is checked. ``data_address`` is
    the dataset URL already stripped of its secrets (``bot.datasets.names.safe_url``)."""
    return f"/finetune submit --model {model} --data {data_address}"[:300]


def wizard_launch(model: str, training_name: str) -> str:
    """What a wizard's Start training asked, plain: kept while its dataset is checked."""
    return f"the wizard's Start training of {model} on {training_name}"[:300]


def interrupted_launch(launch: LaunchRecord) -> str:
    """To the user whose launch was cut short by a restart of ftbot while its dataset was checked."""
    return (
        f":warning: {mention(launch.user_id)} ftbot restarted while it was checking the dataset for "
        f"{code(clip(launch.what, 300))}, so nothing was submitted. Please run it again."
    )
