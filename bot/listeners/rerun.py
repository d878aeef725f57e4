"""Rerun… on a finished job's card (the wizard pre-filled with its choices, then the same Review step),
``Deploy best checkpoint`` on an overfitting warning and ``Deploy checkpoint N`` where an evaluation found
nothing serving that checkpoint (the one Deploy dialog with that checkpoint chosen), and
``/finetune compare`` (the comparison and its overlaid loss chart, posted in the channel)."""

from __future__ import annotations

import logging
import re
from typing import Any, Literal, Self

from slack_bolt.async_app import AsyncAck, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.listeners.common import ensure_enabled, off_loop
from bot.listeners.errors import describe, error_view
from bot.listeners.inbound import CheckpointClick, JobClick
from bot.listeners.inbound.envelope import Envelope, Values
from bot.listeners.inbound.requests import Submission
from bot.listeners.registrar import Registrar
from bot.listeners.wizard import _review, _update
from bot.runtime.services import Services
from bot.slack.charts import overlaid_loss_chart_png
from bot.ui.compare import compare_blocks
from bot.ui.deploy import deploy_dialog, deploy_loading_view
from bot.ui.ids import Action, Callback
from bot.ui.rerun import rerun_input, rerun_view
from bot.ui.wizard import loading_view
from bot.ui.wizard_input import DataSource, WizardInput, parse_wizard
from commands import grammar
from commands.dataset.service_refs import service_ref_backend
from commands.errors import FtbotError, InvalidInput
from commands.lifecycle import Data, ServiceData
from commands.lifecycle.reruns import best_checkpoint
from commands.models import ServiceDataset
from commands.records import Actor

log = logging.getLogger("ftbot.rerun")
_JOB = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
NO_BEST = (
    "None of this job's checkpoints has a validation loss, so there is no best one to offer. "
    "Deploy the final model, or choose a checkpoint with Deploy with options… on the card."
)


class RerunSubmission(Submission):
    """The Rerun wizard's form: ``job`` is the job it reruns (its metadata)."""

    job: str
    values: Values

    @classmethod
    def read(cls, envelope: Envelope) -> Self:
        fields = cls._view(envelope)
        if not _JOB.fullmatch(fields["metadata"]) or not fields["view_id"]:
            raise InvalidInput("This form is damaged; click Rerun… on the card again.")
        return cls(**fields, job=fields["metadata"], values=cls.state(envelope))

    def wizard(self) -> WizardInput:
        return parse_wizard(self.values)  # WizardErrors → per-field errors


def _dataset(services: Services, data: Data | None) -> DataSource | None:
    """``data`` as a dataset uploaded before (the wizard's select), when it is still in the intake, or
    as the service's own dataset (always there to pick)."""
    if data is None:
        return None
    if isinstance(data, ServiceData):
        return DataSource(kind="service", value=data.ref, name=data.name)
    root, path = services.intake.root.resolve(), data.path.resolve()
    if path.parent.parent != root:
        return None
    try:
        services.intake.existing(path.parent.name)
    except InvalidInput:
        return None
    return DataSource(kind="existing", value=path.parent.name, name=data.name)


#: a service dataset's kind by the backend that keeps it
_KINDS: dict[str | None, Literal["data_asset", "file"]] = {"azure": "data_asset", "foundry": "file"}


def _rerun_screen(services: Services, job_id: str) -> Any:
    """The wizard pre-filled for a rerun of ``job_id``, or why it cannot be rerun."""
    try:
        draft = services.lifecycle.reruns.draft(job_id)
    except FtbotError as e:
        return error_view(describe(e)[0])
    training = _dataset(services, draft.sources.training)
    validation = _dataset(services, draft.sources.validation)
    datasets = services.intake.recent()
    kept = services.lifecycle.queries.service_datasets()
    for ds in (validation, training):  # the first job's data is offered even when it is not recent
        if ds is not None and ds.kind == "service" and all(ds.value != k.ref for k in kept):
            kept.insert(
                0, ServiceDataset(ref=ds.value, name=ds.name, kind=_KINDS[service_ref_backend(ds.value)])
            )
        elif ds is not None and all(ds.value != known for known, _ in datasets):
            datasets.insert(0, (ds.value, ds.name[:60]))
    return rerun_view(
        service_datasets=kept,
        job=draft.job,
        initial=rerun_input(draft.job, training, validation, draft.sources.split),
        backend_kind=services.settings.backend,
        datasets=datasets,
        tiers=services.lifecycle.queries.training_tiers(),
    )


def _best_screen(services: Services, actor: Actor, job_id: str) -> Any:
    try:
        choices = services.lifecycle.deploys.choices(actor, job_id)
    except FtbotError as e:
        return error_view(describe(e)[0])
    best = best_checkpoint(choices.checkpoints)
    return deploy_dialog(choices, best.number) if best is not None else error_view(NO_BEST)


def _checkpoint_screen(services: Services, actor: Actor, job_id: str, number: int) -> Any:
    """The Deploy dialog with checkpoint ``number`` chosen (``Deploy checkpoint N`` where an evaluation
    found nothing serving it), or why it cannot be deployed."""
    try:
        choices = services.lifecycle.deploys.choices(actor, job_id)
    except FtbotError as e:
        return error_view(describe(e)[0])
    if all(c.number != number for c in choices.checkpoints):
        numbers = ", ".join(str(c.number) for c in choices.checkpoints) or "none"
        return error_view(f"Checkpoint {number} is no longer deployable (deployable: {numbers}).")
    return deploy_dialog(choices, number)


async def _open(client: AsyncWebClient, trigger_id: str, loading: Any) -> str | None:
    """Open ``loading`` at once (a trigger lives 3 s); its view id, or None when the trigger expired."""
    try:
        opened = await client.views_open(trigger_id=trigger_id, view=loading)
    except SlackApiError as e:
        log.info("modal not opened (%s)", e.response.get("error"))
        return None
    return str(opened["view"]["id"])


def register(app: Registrar, services: Services) -> None:
    async def rerun(click: JobClick, ack: AsyncAck, _: AsyncRespond, client: AsyncWebClient) -> None:
        ensure_enabled(services, click.actor)
        await ack()
        view_id = await _open(client, click.trigger_id, loading_view())
        if view_id is not None:
            await _update(client, view_id, await off_loop(_rerun_screen, services, click.target))

    async def rerun_submitted(
        form: RerunSubmission, ack: AsyncAck, _: AsyncRespond, client: AsyncWebClient
    ) -> None:
        channel = await off_loop(services.lifecycle.deploys.channel_of, form.job)
        actor = form.actor.model_copy(update={"channel_id": channel})
        ensure_enabled(services, actor)
        wizard = form.wizard()
        await ack(response_action="update", view=loading_view())
        try:
            screen: Any = await off_loop(_review, services, actor, channel, wizard, form.job)
        except FtbotError as e:
            screen = error_view(describe(e)[0])
        await _update(client, form.view_id, screen)

    async def deploy_best(click: JobClick, ack: AsyncAck, _: AsyncRespond, client: AsyncWebClient) -> None:
        ensure_enabled(services, click.actor)
        await ack()
        view_id = await _open(client, click.trigger_id, deploy_loading_view())
        if view_id is not None:
            await _update(client, view_id, await off_loop(_best_screen, services, click.actor, click.target))

    app.action(Action.RERUN, JobClick)(rerun)
    app.view(Callback.RERUN, RerunSubmission)(rerun_submitted)

    async def deploy_chosen(
        click: CheckpointClick, ack: AsyncAck, _: AsyncRespond, client: AsyncWebClient
    ) -> None:
        ensure_enabled(services, click.actor)
        await ack()
        view_id = await _open(client, click.trigger_id, deploy_loading_view())
        if view_id is not None:
            screen = await off_loop(_checkpoint_screen, services, click.actor, click.job_id, click.checkpoint)
            await _update(client, view_id, screen)

    app.action(Action.DEPLOY_BEST, JobClick)(deploy_best)
    app.action(Action.DEPLOY_CHOSEN, CheckpointClick)(deploy_chosen)


async def compare(services: Services, actor: Actor, cmd: grammar.Compare, client: AsyncWebClient) -> str:
    """Post the comparison in the channel and its overlaid loss chart in that message's thread."""
    first, second = await off_loop(services.lifecycle.reruns.compare, cmd.first, cmd.second)
    text, blocks = compare_blocks(first, second)
    posted = await client.chat_postMessage(channel=actor.channel_id or "", text=text, blocks=blocks)
    runs = [(first.job.id, first.metrics), (second.job.id, second.metrics)]
    png = await off_loop(overlaid_loss_chart_png, runs, f"{first.job.id} vs {second.job.id}")
    await client.files_upload_v2(
        channel=actor.channel_id or "",
        thread_ts=str(posted["ts"]),
        file=png,
        filename=f"compare-{first.job.id}-{second.job.id}.png",
        title=f"Loss: {first.job.id} vs {second.job.id}",
    )
    return f":bar_chart: Compared {first.job.id} and {second.job.id} in this channel."
