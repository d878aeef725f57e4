"""Ephemeral replies to `/finetune list | models | endpoints | status`: one section per item, capped so a
message stays within Slack's 50 blocks, with an "and N more" line."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from slack_sdk.models.blocks import Block

from bot.ui.blocks import context, section, unique_block_id
from bot.ui.card import card_blocks, card_fallback
from bot.ui.ids import SLASH_COMMAND
from bot.ui.ids import Block as B
from bot.ui.status import HOURLY_COST_NOTE, elapsed, endpoint_age, endpoint_state_text, job_state_text
from bot.ui.text import clip, code, escape_clip, mention
from commands.models import BaseModelInfo
from commands.records import EndpointRecord, JobCard, JobRecord

MAX_ITEMS = 45  # + a title and an "and N more" line: 47 blocks, under Slack's 50


def item_block_id(key: str, seen: set[str]) -> str:
    """``list_item.<key>``, unique within the message (Slack rejects repeated block ids)."""
    return unique_block_id(f"{B.LIST_ITEM}.{key}", seen)


def _listing(title: str, lines: Sequence[tuple[str, str]], more_hint: str) -> list[Block]:
    seen: set[str] = set()
    blocks: list[Block] = [section(B.LIST_TITLE, title)]
    for key, text in lines[:MAX_ITEMS]:
        blocks.append(section(item_block_id(key, seen), text))
    if len(lines) > MAX_ITEMS:
        blocks.append(context(B.LIST_MORE, f"… and {len(lines) - MAX_ITEMS} more. {more_hint}".strip()))
    return blocks


def job_line(job: JobRecord, now: datetime) -> str:
    return (
        f"{code(clip(job.id, 100))} · {job_state_text(job)} · {code(clip(job.base_model, 100))}"
        f" · {elapsed(job, now)} · by {mention(job.user_id)}"
    )


def jobs_list(jobs: Sequence[JobRecord], now: datetime) -> tuple[str, list[Block]]:
    if not jobs:
        text = f"No fine-tuning jobs here yet. Start one with `{SLASH_COMMAND}`."
        return text, [section(B.LIST_TITLE, text)]
    lines = [(job.id, job_line(job, now)) for job in jobs]
    title = f"*Fine-tuning jobs* ({len(jobs)}, newest first)"
    return f"{len(jobs)} fine-tuning jobs", _listing(
        title, lines, f"`{SLASH_COMMAND} status JOB` shows one in full."
    )


def model_text(model: BaseModelInfo) -> str:
    version = f" v{escape_clip(model.version, 20)}" if model.version else ""
    tasks = ", ".join(t.value for t in model.tasks)
    lines = [f"*{escape_clip(model.name, 150)}*{version} · {code(clip(model.source, 60))} · {tasks}"]
    if model.deploy_regions:
        regions = ", ".join(escape_clip(r, 40) for r in model.deploy_regions[:20])
        more = f" and {len(model.deploy_regions) - 20} more" if len(model.deploy_regions) > 20 else ""
        lines.append(f"Deploy regions: {regions}{more}")
    if model.needs_subscription:
        lines.append(":warning: Needs a marketplace subscription (ftbot creates it before the job).")
    if model.description:
        lines.append(f"_{escape_clip(model.description.replace(chr(10), ' '), 300)}_")
    return "\n".join(lines)


def models_list(
    models: Sequence[BaseModelInfo], backend_kind: str, missing_hint: str | None = None
) -> tuple[str, list[Block]]:
    """``missing_hint``: how to add a model the backend could offer but does not (an extra to install)."""
    backend = escape_clip(backend_kind, 40)
    if not models:
        text = f"No base models are available on the {backend} backend."
        return text, [section(B.LIST_TITLE, text)]
    title = f"*Base models you can fine-tune* on the *{backend}* backend ({len(models)})"
    lines = [(m.name, model_text(m)) for m in models]
    blocks = _listing(title, lines, "")
    blocks.append(
        context(
            B.LIST_HINT,
            f"Use a name with `{SLASH_COMMAND} submit --model NAME …`,"
            f" or pick one in the `{SLASH_COMMAND}` wizard."
            + (f"\n{escape_clip(missing_hint, 300)}" if missing_hint else ""),
        )
    )
    return f"{len(models)} base models on the {backend} backend", blocks


def endpoint_line(endpoint: EndpointRecord, now: datetime) -> str:
    text = f"{code(clip(endpoint.name, 100))} · {endpoint_state_text(endpoint)}"
    if endpoint.live:
        text += f" · up {endpoint_age(endpoint, now)}"
    text += f"\nModel {code(clip(endpoint.model, 150))} from job {code(clip(endpoint.job_id, 100))}"
    text += f", deployed by {mention(endpoint.requested_by)}"
    if endpoint.error:
        text += f"\n:x: {escape_clip(endpoint.error, 500)}"
    return text


def endpoints_list(endpoints: Sequence[EndpointRecord], now: datetime) -> tuple[str, list[Block]]:
    if not endpoints:
        text = "No live endpoints: nothing is billing."
        return text, [section(B.LIST_TITLE, text)]
    title = f"*Endpoints* ({len(endpoints)})\n_{HOURLY_COST_NOTE}_"
    lines = [(e.name, endpoint_line(e, now)) for e in endpoints]
    return f"{len(endpoints)} endpoints", _listing(title, lines, "")


def job_status(card: JobCard, now: datetime) -> tuple[str, list[Block]]:
    """`/finetune status JOB`: the card itself, with its buttons (the server checks every click)."""
    return card_fallback(card.job), card_blocks(card, now)
