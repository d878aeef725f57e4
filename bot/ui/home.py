"""App Home: the user's recent jobs and the workspace's live endpoints, with their age and cost."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from slack_sdk.models.blocks import Block, DividerBlock, HeaderBlock
from slack_sdk.models.views import View

from bot.ui.blocks import context, section, unique_block_id
from bot.ui.ids import SLASH_COMMAND
from bot.ui.ids import Block as B
from bot.ui.status import HOURLY_COST_NOTE, elapsed, endpoint_age, endpoint_state_text, job_state_text
from bot.ui.text import channel_mention, clip, code, escape_clip, link, mention
from commands.records import EndpointRecord, JobRecord

MAX_JOBS = 20
MAX_ENDPOINTS = 40  # a Home tab holds 100 blocks; these caps keep it under that with room to spare


def _job_line(job: JobRecord, now: datetime, evaluation: str | None = None) -> str:
    text = (
        f"{code(clip(job.id, 100))} · {job_state_text(job)} · {code(clip(job.base_model, 100))}"
        f" · {elapsed(job, now)} · {channel_mention(job.channel_id)}"
    )
    if job.studio_url:
        text += " · " + link(job.studio_url, "studio")
    if evaluation:
        text += f"\nEvaluation: {escape_clip(evaluation, 300)}"
    return text


def _endpoint_line(endpoint: EndpointRecord, now: datetime) -> str:
    return (
        f"{code(clip(endpoint.name, 100))} · {endpoint_state_text(endpoint)}"
        f" · up {endpoint_age(endpoint, now)}"
        f"\nModel {code(clip(endpoint.model, 150))}, job {code(clip(endpoint.job_id, 100))},"
        f" deployed by {mention(endpoint.requested_by)}"
    )


def home_view(
    jobs: list[JobRecord],
    endpoints: list[EndpointRecord],
    now: datetime,
    costs: Sequence[Block] = (),
    evaluations: Mapping[str, str] | None = None,
) -> View:
    """``jobs``: the user's recent jobs, newest first; ``endpoints``: the workspace's endpoints (only the
    live ones are shown); ``costs``: the Costs section (``bot.ui.costs.home_costs_blocks``), last;
    ``evaluations``: each evaluated job's Evaluation line, by job id."""
    lines = evaluations or {}
    live = [e for e in endpoints if e.live]
    blocks: list[Block] = [
        HeaderBlock(text="ftbot: fine-tuning from Slack"),
        section(
            B.HOME_INTRO,
            f"Run `{SLASH_COMMAND}` in a channel to fine-tune a model, or `{SLASH_COMMAND} help` for every "
            "command. Each job gets a card in its channel, kept current, with a thread for its events.",
        ),
        DividerBlock(),
        section(
            B.HOME_JOBS, f"*Your recent jobs* ({len(jobs)})" if jobs else "*Your recent jobs*\nNone yet."
        ),
    ]
    seen: set[str] = set()
    for job in jobs[:MAX_JOBS]:
        line = _job_line(job, now, lines.get(job.id))
        blocks.append(section(unique_block_id(f"{B.HOME_JOB}.{job.id}", seen), line))
    if len(jobs) > MAX_JOBS:
        blocks.append(context(B.HOME_MORE_JOBS, f"… and {len(jobs) - MAX_JOBS} more. `{SLASH_COMMAND} list`"))
    blocks.append(DividerBlock())
    if live:
        blocks.append(
            section(
                B.HOME_ENDPOINTS, f"*Live endpoints in this workspace* ({len(live)})\n_{HOURLY_COST_NOTE}_"
            )
        )
    else:
        blocks.append(
            section(B.HOME_ENDPOINTS, "*Live endpoints in this workspace*\nNone: nothing is billing.")
        )
    for endpoint in live[:MAX_ENDPOINTS]:
        block_id = unique_block_id(f"{B.HOME_ENDPOINT}.{endpoint.name}", seen)
        blocks.append(section(block_id, _endpoint_line(endpoint, now)))
    if len(live) > MAX_ENDPOINTS:
        blocks.append(
            context(
                B.HOME_MORE_ENDPOINTS, f"… and {len(live) - MAX_ENDPOINTS} more. `{SLASH_COMMAND} endpoints`"
            )
        )
    blocks.extend(costs)
    return View(type="home", blocks=blocks)
