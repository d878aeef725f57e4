"""`/finetune`: parse the text, ack within Slack's 3 seconds, run one use case off the loop, reply."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.datasets.names import safe_url
from bot.listeners import config, costs, doctor, rerun
from bot.listeners.common import ensure_enabled, off_loop
from bot.listeners.errors import reported
from bot.listeners.evaluation import started_text
from bot.listeners.inbound import SlashCommand
from bot.listeners.registrar import Registrar
from bot.listeners.wizard import open_wizard
from bot.runtime.services import Services
from bot.ui import replies
from bot.ui.evaluation import no_endpoint_blocks
from bot.ui.help import help_blocks, help_text
from bot.ui.ids import SLASH_COMMAND
from bot.ui.lists import endpoints_list, job_status, jobs_list, models_list
from commands import grammar
from commands.dataset.service_refs import service_ref_backend
from commands.errors import NotEnabledHere
from commands.evaluation.service import NoLiveEndpoint
from commands.lifecycle import SubmitRequest
from commands.lifecycle.reruns import Overrides
from commands.models import DeployOptions
from commands.records import Actor


def register(app: Registrar, services: Services) -> None:
    async def finetune(
        command: SlashCommand, ack: AsyncAck, respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        actor = command.actor
        try:
            ensure_enabled(services, actor)
        except NotEnabledHere:  # an approver can still fix the channel list from any channel
            if command.text.strip().split(" ", 1)[0].lower() != "config":
                raise
        parsed = grammar.parse(command.text)  # UsageError → the error handler acks it
        match parsed:
            case grammar.Help():
                await ack(
                    response_type="ephemeral", text=help_text(), blocks=help_blocks(services.settings.backend)
                )
            case grammar.OpenWizard():
                await ack()
                await open_wizard(services, client, command.trigger_id, actor)
            case grammar.Doctor():
                await doctor.answer(services, actor, ack, respond)
            case grammar.Compare():
                await ack(response_type="ephemeral", text=replies.working(parsed))
                async with reported(respond):
                    done = await rerun.compare(services, actor, parsed, client)
                    await respond(response_type="ephemeral", replace_original=False, text=done)
            case _:
                await ack(response_type="ephemeral", text=replies.working(parsed))
                async with reported(respond):
                    text, blocks = await off_loop(run, services, actor, parsed)
                    await respond(response_type="ephemeral", replace_original=False, text=text, blocks=blocks)

    app.command(SLASH_COMMAND, SlashCommand)(finetune)


def run(services: Services, actor: Actor, cmd: grammar.Command) -> tuple[str, list[Any]]:
    """One subcommand, in a worker thread. Errors propagate to the one error handler."""
    life, now = services.lifecycle, services.clock.now()
    match cmd:
        case grammar.Submit():
            shown = cmd.data if service_ref_backend(cmd.data) else safe_url(cmd.data)  # no SAS token kept
            what = replies.submit_launch(cmd.model, shown)
            launched = life.jobs.launch(actor, lambda: _submit_request(services, cmd), what=what)
            return replies.launched(launched, costs.submitted_estimate(services, launched.job)), []
        case grammar.Validate():
            data = services.intake.from_url(cmd.url, field="url")
            return replies.dataset_checked(data.name, life.jobs.check_dataset(data.path, method=cmd.method))
        case grammar.Status(job=None) | grammar.ListJobs():
            channel = actor.channel_id if isinstance(cmd, grammar.ListJobs) else None
            user = actor.user_id if isinstance(cmd, grammar.Status) else None
            return jobs_list(life.queries.jobs(channel_id=channel, user_id=user), now)
        case grammar.Status(job=str(job_id)):
            return job_status(life.queries.card(job_id), now)
        case grammar.ListModels():
            hint = getattr(services.backend, "missing_models_hint", None)
            return models_list(life.jobs.models(), services.settings.backend, hint() if hint else None)
        case grammar.ListEndpoints():
            return endpoints_list(life.queries.live_endpoints(), now)
        case grammar.Deploy():
            options = DeployOptions(checkpoint=cmd.checkpoint, sku=cmd.sku, target=cmd.target)
            return replies.deploy_requested(cmd.job, life.deploys.request_deploy(actor, cmd.job, options)), []
        case grammar.Pause():
            return replies.paused_or_resumed(life.pauses.pause(actor, cmd.job), "pause"), []
        case grammar.Resume():
            return replies.paused_or_resumed(life.pauses.resume(actor, cmd.job), "resume"), []
        case grammar.Chat():
            reply = life.endpoints.chat(actor, cmd.endpoint, cmd.prompt)
            return replies.chat_answered(cmd.endpoint, reply), []
        case grammar.Teardown():
            return replies.torn_down(life.endpoints.teardown(actor, cmd.endpoint)), []
        case grammar.Cancel():
            return replies.cancel_requested(life.jobs.cancel(actor, cmd.job)), []
        case grammar.Rerun():
            hp = cmd.hyperparameters
            overrides = Overrides(hp.n_epochs, hp.batch_size, hp.learning_rate_multiplier, cmd.suffix)
            return replies.launched(life.reruns.launch(actor, cmd.job, overrides)), []
        case grammar.Costs():
            return costs.answer(services, actor, cmd)
        case grammar.Config():
            return config.answer(services, actor, cmd)
        case grammar.Evaluate():
            return _evaluate(services, actor, cmd)
    raise AssertionError(f"unhandled command {cmd!r}")


def _evaluate(services: Services, actor: Actor, cmd: grammar.Evaluate) -> tuple[str, list[Any]]:
    """Start an evaluation (it runs on its own thread); without a live endpoint, offer Deploy."""
    try:
        record = services.evaluations.start(
            actor, cmd.job, examples=cmd.examples, endpoint=cmd.endpoint, checkpoint=cmd.checkpoint
        )
    except NoLiveEndpoint as e:
        return e.message, no_endpoint_blocks(e.job_id, e.message, e.checkpoint)
    return started_text(record), []


def _submit_request(services: Services, cmd: grammar.Submit) -> SubmitRequest:
    """The data the command names (a URL, or a dataset the service keeps, each) as a submission."""
    intake, backend = services.intake, services.backend
    training = intake.from_reference(backend, cmd.data, field="--data")
    validation = None
    if cmd.validation:
        validation = intake.from_reference(backend, cmd.validation, field="--validation")
    return SubmitRequest(
        model=cmd.model,
        training=training,
        validation=validation,
        split=cmd.split,
        hyperparameters=cmd.hyperparameters,
        suffix=cmd.suffix,
        task=cmd.task,
        method=cmd.method,
        training_type=cmd.training_type,
    )
