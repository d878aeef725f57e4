"""`/finetune`: parse the text, ack within Slack's 3 seconds, run one use case off the loop, reply."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.listeners.common import actor_from, ensure_enabled, off_loop
from bot.listeners.errors import reported
from bot.listeners.registrar import Registrar
from bot.listeners.wizard import open_wizard
from bot.runtime.services import Services
from bot.ui.help import help_blocks, help_text
from bot.ui.ids import SLASH_COMMAND
from bot.ui.lists import endpoints_list, job_status, jobs_list, models_list
from bot.ui.text import code, escape
from bot.ui.validation import validation_report_blocks
from commands import grammar
from commands.lifecycle import SubmitRequest
from commands.records import Actor, Surface


def register(app: Registrar, services: Services) -> None:
    async def finetune(
        ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        actor = actor_from(command, Surface.SLASH)
        ensure_enabled(services, actor)
        parsed = grammar.parse(str(command.get("text") or ""))  # UsageError → the error handler acks it
        match parsed:
            case grammar.Help():
                await ack(
                    response_type="ephemeral", text=help_text(), blocks=help_blocks(services.settings.backend)
                )
            case grammar.OpenWizard():
                await ack()
                await open_wizard(services, client, str(command.get("trigger_id") or ""), actor)
            case _:
                await ack(response_type="ephemeral", text=_working(parsed))
                async with reported(respond):
                    text, blocks = await off_loop(run, services, actor, parsed)
                    await respond(response_type="ephemeral", replace_original=False, text=text, blocks=blocks)

    app.command(SLASH_COMMAND)(finetune)


def _working(cmd: grammar.Command) -> str:
    return {
        grammar.Submit: "Checking your dataset before anything is submitted…",
        grammar.Validate: "Checking the dataset…",
        grammar.Deploy: "Working on the deploy…",
        grammar.Chat: "Asking the model…",
        grammar.Teardown: "Tearing down…",
        grammar.Cancel: "Cancelling…",
    }.get(type(cmd), "One moment…")


def run(services: Services, actor: Actor, cmd: grammar.Command) -> tuple[str, list[Any]]:
    """One subcommand, in a worker thread. Errors propagate to the one error handler."""
    life = services.lifecycle
    now = services.clock.now()
    match cmd:
        case grammar.Submit():
            training = services.intake.from_url(cmd.data, field="--data")
            validation = (
                services.intake.from_url(cmd.validation, field="--validation") if cmd.validation else None
            )
            request = SubmitRequest(
                model=cmd.model, training=training, validation=validation, split=cmd.split,
                hyperparameters=cmd.hyperparameters, suffix=cmd.suffix, task=cmd.task,
            )  # fmt: skip
            checked = life.check(request)
            job = life.submit(actor, checked)
            life.start(job.id)
            examples = checked.report.examples
            return f":rocket: Started {code(job.id)} on {code(job.base_model)} ({examples} examples). " + (
                "Its card in the channel tracks it."
            ), []
        case grammar.Validate():
            data = services.intake.from_url(cmd.url, field="url")
            report = life.check_dataset(data.path)
            return f"Dataset check of {escape(data.name)}", validation_report_blocks(report, title=data.name)
        case grammar.Status(job=None) | grammar.ListJobs():
            channel = actor.channel_id if isinstance(cmd, grammar.ListJobs) else None
            user = actor.user_id if isinstance(cmd, grammar.Status) else None
            return jobs_list(life.jobs(channel_id=channel, user_id=user), now)
        case grammar.Status(job=str(job_id)):
            return job_status(life.card(job_id), now)
        case grammar.ListModels():
            return models_list(life.models(), services.settings.backend)
        case grammar.ListEndpoints():
            return endpoints_list(life.live_endpoints(), now)
        case grammar.Deploy():
            outcome = life.request_deploy(actor, cmd.job)
            if outcome.endpoint is not None:
                return f":rocket: Deploying {code(cmd.job)} as {code(outcome.endpoint.name)}.", []
            if outcome.approval_is_new:
                return (
                    f":hourglass: Approval requested for deploying {code(cmd.job)}; approvers were asked.",
                    [],
                )
            return f":hourglass: A deploy of {code(cmd.job)} is already waiting for an approver.", []
        case grammar.Chat():
            reply = life.chat(actor, cmd.endpoint, cmd.prompt)
            return f"*{escape(cmd.endpoint)}*: {escape(reply.content[:2900])}", []
        case grammar.Teardown():
            ep = life.teardown(actor, cmd.endpoint)
            return (
                f":wastebasket: {code(ep.name)} is torn down. "
                f"The model {code(ep.model)} remains and can be redeployed.",
                [],
            )
        case grammar.Cancel():
            job = life.cancel(actor, cmd.job)
            return (
                f":octagonal_sign: Cancel of {code(job.id)} requested; the card will show when it stops.",
                [],
            )
    raise AssertionError(f"unhandled command {cmd!r}")
