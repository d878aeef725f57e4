"""Evaluate on a succeeded job's card: anyone in the channel may ask. The click is answered at once
(ephemerally); the evaluation runs on a worker thread, its progress on the card, its result in the thread.
Without a live endpoint it says so and offers Deploy; it never deploys."""

from __future__ import annotations

from slack_bolt.async_app import AsyncAck, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.listeners.common import ensure_enabled, off_loop
from bot.listeners.errors import reported
from bot.listeners.inbound import Click, JobClick
from bot.listeners.registrar import Registrar
from bot.runtime.services import Services
from bot.ui.evaluation import no_endpoint_blocks
from bot.ui.ids import Action
from bot.ui.text import code, escape_clip
from commands.evaluation.records import EvaluationRecord
from commands.evaluation.service import NoLiveEndpoint


def started_text(record: EvaluationRecord) -> str:
    base = (
        f"against the base model {code(record.base_model)}"
        if record.base_model
        else f"on the fine-tuned model alone ({escape_clip(record.base_missing or 'no base model', 300)})"
    )
    served = ""
    if record.checkpoint is not None:
        served = f" (checkpoint {record.checkpoint}, endpoint {code(record.endpoint)})"
    return (
        f":hourglass_flowing_sand: Evaluating {code(record.job_id)}{served} on {record.total} examples "
        f"{base}. Progress is on the card; the result comes to the thread."
    )


def register(app: Registrar, services: Services) -> None:
    async def evaluate(click: Click, ack: AsyncAck, respond: AsyncRespond, _: AsyncWebClient) -> None:
        ensure_enabled(services, click.actor)
        await ack()
        async with reported(respond):
            try:
                record = await off_loop(services.evaluations.start, click.actor, click.target)
            except NoLiveEndpoint as e:
                blocks = no_endpoint_blocks(e.job_id, e.message)
                await respond(
                    response_type="ephemeral",
                    replace_original=False,
                    text=e.message,
                    blocks=[b.to_dict() for b in blocks],
                )
                return
            await respond(response_type="ephemeral", replace_original=False, text=started_text(record))

    app.action(Action.EVALUATE, JobClick)(evaluate)
