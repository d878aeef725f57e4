"""Messages in a job's thread: one builder for every ``PostKind``.

``ThreadPost.data`` holds plain values (the store keeps it as JSON); this module reads only the keys
listed on ``PostKind`` and ignores anything else, so a stray value (a key, a token) is never shown.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

from pydantic import ValidationError
from slack_sdk.models.blocks import ActionsBlock, Block, ButtonElement

from bot.ui.blocks import SECTION_MAX, context, section
from bot.ui.budgets import (
    SUBMIT,
    budget_line,
    held_cancelled_text,
    held_decided_text,
    held_submit_text,
)
from bot.ui.buttons import (
    approve_button,
    deploy_best_button,
    reject_button,
    tear_down_button,
    test_chat_button,
)
from bot.ui.chat import side_by_side
from bot.ui.deploy import checkpoints_text, options_from_data, options_text
from bot.ui.evaluation import evaluation_chart_comment, evaluation_post
from bot.ui.ids import Block as B
from bot.ui.status import HOURLY_COST_NOTE, metric_text
from bot.ui.text import approver_mention, clip, code, escape, escape_clip, mention, number
from commands.models import MetricPoint, Usage
from commands.records import JobRecord, PostKind, ThreadPost

PROMPT_MAX = 2900
SYSTEM_MAX = 600
REPLY_SECTION_MAX = 2900
REPLY_SECTIONS = 3  # up to ~8,700 characters of a reply; more is clipped with a note


# --- reading data ---------------------------------------------------------------------------------


def _str(data: Mapping[str, object], key: str) -> str | None:
    value = data.get(key)
    return None if value is None or value == "" else str(value)


def _float(data: Mapping[str, object], key: str) -> float | None:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        return float(value)
    except ValueError:
        return None


def _metric(value: object) -> MetricPoint | None:
    if isinstance(value, MetricPoint):
        return value
    if isinstance(value, Mapping):
        try:
            return MetricPoint.model_validate(dict(value))
        except ValidationError:
            return None
    return None


def _usage(value: object) -> Usage | None:
    if isinstance(value, Usage):
        return value
    if isinstance(value, Mapping):
        try:
            return Usage.model_validate({k: v for k, v in value.items() if k in Usage.model_fields})
        except ValidationError:
            return None
    return None


def _chunks(text: str, limit: int, max_chunks: int) -> tuple[list[str], int]:
    """Split ``text`` into escaped pieces of at most ``limit`` characters, preferring to break at a
    newline or a space. Returns the pieces and how many raw characters they cover."""
    pieces: list[str] = []
    pos = 0
    while pos < len(text) and len(pieces) < max_chunks:
        used = 0
        end = pos
        while end < len(text):
            width = len(escape(text[end]))
            if used + width > limit:
                break
            used += width
            end += 1
        if end < len(text):  # cut at a line or word break when one is near
            window = text[pos:end]
            cut = max(window.rfind("\n"), window.rfind(" "))
            if cut > len(window) - 300 and cut > 0:
                end = pos + cut + 1
        pieces.append(escape(text[pos:end]))
        pos = end
    return pieces, pos


def _content_filter_text(content_filter: object) -> str | None:
    if not isinstance(content_filter, Mapping) or not content_filter:
        return None
    parts = []
    for category, result in list(content_filter.items())[:12]:
        if isinstance(result, Mapping):
            severity = result.get("severity")
            filtered = result.get("filtered") is True
            detected = result.get("detected")
            word = "filtered" if filtered else str(severity or ("detected" if detected else "ok"))
            if filtered and severity:
                word += f" ({severity})"
            mark = ":no_entry: " if filtered else ""
        else:
            mark, word = "", str(result)
        parts.append(f"{mark}{escape_clip(category, 40)}: {escape_clip(word, 40)}")
    return "Content filter: " + ", ".join(parts)


# --- one builder per kind -------------------------------------------------------------------------


def _summary_lines(data: Mapping[str, object]) -> list[str]:
    lines = []
    final = _metric(data.get("metric"))
    if final is not None:
        lines.append(f"Final: {metric_text(final)}")
    labels = {
        "final_train_loss": "Final training loss",
        "final_valid_loss": "Final validation loss",
        "best_valid_loss": "Best validation loss",
        "train_loss": "Training loss",
        "valid_loss": "Validation loss",
    }
    for key, label in labels.items():
        value = _float(data, key)
        if value is not None:
            lines.append(f"{label}: {value:.4f}")
    for key, label in (("steps", "Steps"), ("epochs", "Epochs"), ("trained_tokens", "Trained tokens")):
        value = _float(data, key)
        if value is not None:
            lines.append(f"{label}: {number(int(value))}")
    note = _str(data, "metrics_note")
    if note:
        lines.append(f"_{escape_clip(note, 500)}_")
    return lines


def _approval_request(post: ThreadPost, job: JobRecord, approvers: Sequence[str]) -> tuple[str, list[Block]]:
    data = post.data
    approval_id = data.get("approval_id")
    if (
        isinstance(approval_id, bool)
        or not isinstance(approval_id, int | str)
        or not str(approval_id).isascii()
        or not str(approval_id).isdigit()
        or len(str(approval_id)) > 18
    ):
        raise ValueError("an approval_request post needs data['approval_id'] (an integer)")
    aid = int(approval_id)
    listed = data.get("approvers")
    who = [str(a) for a in listed] if isinstance(listed, list | tuple) else list(approvers)
    asker = mention(_str(data, "requested_by"))
    options = options_from_data(data.get("options"))
    what = f" ({options_text(options)})" if options is not None else ""
    text = (
        f":raised_hand: {asker} asks to deploy job {code(clip(job.id, 100))}{what} (request #{aid}). "
        + HOURLY_COST_NOTE
    )
    if data.get("action") == SUBMIT:  # a submit held over the channel's budget
        text = held_submit_text(asker, clip(job.id, 100), aid, data)
    elif budget_line(data):  # a deploy whose first day of hosting is over budget
        text += "\n" + budget_line(data)
    if who:
        text += "\nApprovers: " + " ".join(approver_mention(a) for a in who[:20])
        if len(who) > 20:
            text += f" and {len(who) - 20} more"
        text += ". Only an approver's click counts."
    else:
        text += "\n:warning: No approvers are configured (FTBOT_APPROVERS), so nobody can approve this yet."
    if post.text:
        text += "\n" + escape_clip(post.text, 500)
    blocks: list[Block] = [
        section(B.APPROVAL_TEXT, text),
        ActionsBlock(block_id=B.APPROVAL_ACTIONS, elements=[approve_button(aid), reject_button(aid)]),
    ]
    return clip(text, 3000), blocks


def _chat(post: ThreadPost) -> tuple[str, list[Block]]:
    data = post.data
    endpoint = _str(data, "endpoint") or "endpoint"
    prompt = _str(data, "prompt") or ""
    system = _str(data, "system")
    reply = _str(data, "reply") or ""
    head = f":speech_balloon: {mention(_str(data, 'by'))} asked {code(clip(endpoint, 100))}:"
    if system:
        head += f"\n*System:* {escape_clip(system, SYSTEM_MAX)}"
    blocks: list[Block] = [
        section(B.CHAT_PROMPT_TEXT, f"{head}\n*Prompt:*\n{escape_clip(prompt, PROMPT_MAX)}")
    ]
    pieces, covered = _chunks(reply, REPLY_SECTION_MAX, REPLY_SECTIONS)
    if not pieces:
        pieces = ["_(empty reply)_"]
    for i, piece in enumerate(pieces):
        block_id = B.CHAT_REPLY_TEXT if i == 0 else f"{B.CHAT_REPLY_TEXT}.{i + 1}"
        blocks.append(section(block_id, ("*Reply:*\n" if i == 0 else "") + piece))
    notes = []
    if covered < len(reply):
        notes.append(f"Reply clipped: {number(covered)} of {number(len(reply))} characters shown.")
    usage = _usage(data.get("usage"))
    if usage is not None:
        notes.append(
            f"Tokens: {number(usage.prompt_tokens)} prompt + {number(usage.completion_tokens)} completion"
            f" = {number(usage.total_tokens)}"
        )
    cost = _str(data, "cost")
    if cost:
        notes.append(f"Cost: {escape_clip(cost, 40)}")
    finish = _str(data, "finish_reason")
    if finish:
        notes.append(f"Finish reason: {escape_clip(finish, 40)}")
    latency = data.get("latency_ms")
    if isinstance(latency, int) and latency >= 0:
        notes.append(f"Latency: {number(latency / 1000)} s")
    filter_text = _content_filter_text(data.get("content_filter"))
    if filter_text:
        notes.append(filter_text)
    if notes:
        blocks.append(context(B.CHAT_USAGE, " · ".join(notes)))
    blocks.extend(side_by_side(data))  # the base model's answer beside it, when it was asked
    fallback = f"{head}\n{escape_clip(reply, 300)}"
    return clip(fallback, 3000), blocks


class _Body(NamedTuple):
    """A post's main text, an optional details section under it, and its buttons."""

    text: str
    details: str | None = None
    actions: tuple[Block, ...] = ()


def _succeeded(data: Mapping[str, object], job: JobRecord) -> _Body:
    text = f":white_check_mark: {mention(job.user_id)} job {code(clip(job.id, 100))} succeeded."
    model = job.output_model or _str(data, "output_model")
    if model:
        text += f" Fine-tuned model: {code(clip(model, 200))}."
    text += "\nDeploy it from the card to test it; the endpoint is billed by the hour until torn down."
    lines = _summary_lines(data)
    return _Body(text, "\n".join(lines) if lines else None)


def _overfit_text(data: Mapping[str, object]) -> str:
    train = _float(data, "train_loss")
    valid = _float(data, "valid_loss")
    best = _float(data, "best_valid_loss")
    text = ":warning: *Validation loss is running away from training loss.*\n"
    if train is not None and valid is not None:
        text += f"Training loss keeps falling ({train:.4f}) while validation loss rose to {valid:.4f}"
        text += f" from its best of {best:.4f}. " if best is not None else ". "
    return text + (
        "The model is likely memorising the training examples (overfitting) instead of learning what "
        "generalises. Try fewer epochs (n_epochs), a lower learning_rate_multiplier, "
        "or more varied data."
    )


def _training_body(post: ThreadPost, job: JobRecord) -> _Body | None:
    """Posts about the training job: queued, running, each epoch, the outcome, the loss chart."""
    data = post.data
    match post.kind:
        case PostKind.QUEUED:
            return _Body(
                ":inbox_tray: Queued: the service accepted the job and will start it when capacity frees up."
            )
        case PostKind.RUNNING:
            return _Body(":gear: Training started.")
        case PostKind.EPOCH:
            metric = _metric(data.get("metric"))
            epoch = _str(data, "epoch") or (str(metric.epoch) if metric and metric.epoch is not None else "?")
            text = f":chart_with_downwards_trend: Epoch {escape_clip(epoch, 10)} done."
            return _Body(text + f"\n{metric_text(metric)}" if metric is not None else text)
        case PostKind.SUCCEEDED:
            return _succeeded(data, job)
        case PostKind.FAILED:
            reason = _str(data, "reason") or job.error
            why = escape_clip(reason, 2500) if reason else "The service gave no reason."
            return _Body(f":x: {mention(job.user_id)} job {code(clip(job.id, 100))} failed.\n*Reason:* {why}")
        case PostKind.CANCELLED:
            if data.get("held") is True:  # a submit held over budget: rejected, withdrawn or expired
                return _Body(held_cancelled_text(_str(data, "by"), _str(data, "reason") or ""))
            return _Body(f":no_entry_sign: Job cancelled by {mention(_str(data, 'by'))}.")
        case PostKind.LOSS_CHART:
            return _Body(
                f":chart_with_downwards_trend: Loss by step for job {code(clip(job.id, 100))}: "
                "training loss, and validation loss where the job had validation data."
            )
        case PostKind.OVERFIT_WARNING:
            return _Body(_overfit_text(data), actions=_actions(deploy_best_button(job.id)))
        case PostKind.RERUN:
            rerun = code(clip(_str(data, "job") or "?", 100))
            by = mention(_str(data, "by"))
            return _Body(f":repeat: {by} reran this job as {rerun}: its card is in this channel.")
        case PostKind.CHECKPOINTS:
            return _Body(checkpoints_text(data.get("checkpoints")))
        case PostKind.PAUSED:
            return _Body(
                f":double_vertical_bar: {mention(_str(data, 'by'))} paused the job. Resume on the card."
            )
        case PostKind.RESUMED:
            return _Body(f":arrow_forward: {mention(_str(data, 'by'))} resumed the job.")
    return None


def _actions(*buttons: ButtonElement) -> tuple[Block, ...]:
    return (ActionsBlock(block_id=B.THREAD_ACTIONS, elements=list(buttons)),)


def _deployment_body(post: ThreadPost, job: JobRecord) -> _Body | None:
    """Posts about deploying the model: decisions, the endpoint's life, reminders, refusals."""
    data = post.data
    endpoint = _str(data, "endpoint")
    ep = code(clip(endpoint or "endpoint", 100))
    match post.kind:
        case PostKind.APPROVAL_DECIDED:
            aid = escape_clip(_str(data, "approval_id") or "?", 20)
            by = mention(_str(data, "decided_by"))
            if data.get("action") == SUBMIT:
                approved, unestimated = data.get("approved") is True, data.get("unestimated") is True
                return _Body(held_decided_text(by, aid, approved, unestimated=unestimated))
            if data.get("approved") is True:
                return _Body(f":white_check_mark: {by} approved deploy request #{aid}. Deploying.")
            return _Body(f":no_entry: {by} rejected deploy request #{aid}. Nothing was deployed.")
        case PostKind.DEPLOYING:
            by = mention(_str(data, "by"))
            options = options_from_data(data.get("options"))
            what = f" {options_text(options)}" if options is not None else ""
            return _Body(f":rocket: Deploying{what} as endpoint {ep} (requested by {by}). {HOURLY_COST_NOTE}")
        case PostKind.DEPLOYED:
            where = _str(data, "where")  # a deploy target other than the training project
            at = f" in {code(clip(where, 200))}" if where else ""
            return _Body(
                f":large_green_circle: Endpoint {ep} is ready{at}. {HOURLY_COST_NOTE}",
                actions=_actions(test_chat_button(endpoint), tear_down_button(endpoint)) if endpoint else (),
            )
        case PostKind.DEPLOY_FAILED:
            reason = _str(data, "reason")
            why = escape_clip(reason, 2500) if reason else "The service gave no reason."
            if data.get("stopped"):
                return _Body(
                    f":red_circle: Endpoint {ep} stopped and no longer answers.\n*Reason:* {why}\n"
                    "The model remains: Deploy on the card serves it again."
                )
            return _Body(f":red_circle: Deploying endpoint {ep} failed.\n*Reason:* {why}")
        case PostKind.TORN_DOWN:
            model = _str(data, "model") or job.output_model
            text = f":wastebasket: Endpoint {ep} was torn down by {mention(_str(data, 'by'))}. "
            text += f"The model {code(clip(model, 200))} remains" if model else "The model remains"
            return _Body(text + " and can be redeployed with Deploy on the card.")
        case PostKind.IDLE_REMINDER:
            hours = _float(data, "idle_hours")
            idle = (
                f" has been idle for {hours:g} hours" if hours is not None else " has been idle for a while"
            )
            spent = _str(data, "budget_note")  # the channel's budget is spent and this still bills
            return _Body(
                f":hourglass: Endpoint {ep}{idle}. {HOURLY_COST_NOTE} Tear it down if nobody needs it; "
                "the model remains and can be redeployed."
                + (f"\n:moneybag: {escape_clip(spent, 500)}" if spent else ""),
                actions=_actions(tear_down_button(endpoint)) if endpoint else (),
            )
        case PostKind.TTL_TEARDOWN:
            hours = _float(data, "ttl_hours")
            after = f" after {hours:g} hours" if hours is not None else ""
            return _Body(
                f":wastebasket: Endpoint {ep} was torn down automatically{after} (FTBOT_ENDPOINT_TTL_HOURS). "
                "The model remains and can be redeployed."
            )
        case PostKind.REFUSED:
            action = escape_clip(_str(data, "action") or "do that", 40)
            who = mention(_str(data, "by"))
            return _Body(f":no_entry: {who} tried to {action}; only approvers can (FTBOT_APPROVERS).")
    return None


def _main_text(post: ThreadPost, job: JobRecord) -> tuple[str, list[Block]]:
    if post.kind in (PostKind.EVENT, PostKind.INFO):
        text = escape_clip(post.text, SECTION_MAX - 10) if post.text else ":information_source: (no details)"
        return text, [section(B.THREAD_TEXT, text)]
    body = _training_body(post, job) or _deployment_body(post, job)
    if body is None:  # pragma: no cover - every kind is handled above; a new kind shows its text
        body = _Body(escape_clip(post.text or post.kind.value, SECTION_MAX))
    text = body.text
    if post.text:
        text += "\n" + escape_clip(post.text, 1000)
    blocks: list[Block] = [section(B.THREAD_TEXT, text)]
    if body.details:
        blocks.append(section(B.THREAD_DETAILS, body.details))
    return clip(text, 3000), [*blocks, *body.actions]


def thread_post(post: ThreadPost, job: JobRecord, approvers: Sequence[str]) -> tuple[str, list[Block]]:
    """The fallback text and blocks for one thread message. For ``LOSS_CHART`` the text is the upload's
    initial comment. ``approvers`` (FTBOT_APPROVERS) is used when an approval request lists none."""
    if post.kind is PostKind.APPROVAL_REQUEST:
        return _approval_request(post, job, approvers)
    if post.kind is PostKind.CHAT:
        return _chat(post)
    if post.kind is PostKind.EVALUATION:
        return evaluation_post(post.data, post.text)
    if post.kind is PostKind.EVALUATION_CHART:
        comment = evaluation_chart_comment(post.data, post.text)
        return comment, [section(B.EVAL_NOTE, comment)]
    return _main_text(post, job)
