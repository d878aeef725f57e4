"""The wizard: open at once with "Loading…", fill it, check the data, review, start training."""

from __future__ import annotations

import json
import logging
import secrets
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.models.views import View
from slack_sdk.web.async_client import AsyncWebClient

from bot.listeners.common import ensure_enabled, notify, off_loop
from bot.listeners.costs import training_estimate
from bot.listeners.errors import describe, error_view
from bot.listeners.inbound import ReviewSubmission, Suggestion, WizardSubmission
from bot.listeners.registrar import Registrar
from bot.runtime.services import Services
from bot.ui import replies
from bot.ui.ids import Action, Callback
from bot.ui.ids import Block as B
from bot.ui.review import review_view
from bot.ui.wizard import loading_view, options_for_models, wizard_view
from bot.ui.wizard_input import DataSource, WizardInput
from commands.errors import FtbotError, InvalidInput
from commands.lifecycle import Data, DatasetRejected, LocalData, ServiceData, SubmitRequest
from commands.lifecycle.service_data import not_checked
from commands.models import Hyperparameters, Method, Task
from commands.records import Actor, ViewStateRecord

log = logging.getLogger("ftbot.wizard")


async def open_wizard(services: Services, client: AsyncWebClient, trigger_id: str, actor: Actor) -> None:
    """Open a "Loading…" modal right away (a trigger_id lives 3 s and works once), then fill it."""
    try:
        opened = await client.views_open(trigger_id=trigger_id, view=loading_view())
    except SlackApiError as e:  # expired or used trigger: the user just runs /finetune again
        log.info("could not open the wizard (%s)", e.response.get("error"))
        return
    datasets = await off_loop(services.intake.recent)
    tiers = await off_loop(services.lifecycle.queries.training_tiers)
    kept = await off_loop(services.lifecycle.queries.service_datasets)
    view = wizard_view(
        backend_kind=services.settings.backend,
        channel_id=actor.channel_id or "",
        datasets=datasets,
        tiers=tiers,
        service_datasets=kept,
    )
    try:
        await client.views_update(view_id=opened["view"]["id"], hash=opened["view"].get("hash"), view=view)
    except SlackApiError as e:  # closed meanwhile, or changed under us: nothing to tell anyone
        log.info("wizard not updated (%s)", e.response.get("error"))


def _fetch(services: Services, source: DataSource, field: str) -> Data:
    match source.kind:
        case "slack_file":
            file = {"url_private_download": source.value, "name": source.name, "size": source.size}
            return services.intake.from_slack_file(file, field=field)
        case "url":
            return services.intake.from_url(source.value, field=field)
        case "service":
            return services.intake.from_service(services.backend, source.value, field=field)
        case _:
            return services.intake.existing(source.value, field=field)


_BLOCKS = {
    ("training", "slack_file"): B.TRAINING_FILE,
    ("training", "url"): B.TRAINING_URL,
    ("training", "existing"): B.TRAINING_EXISTING,
    ("training", "service"): B.TRAINING_EXISTING,
    ("validation", "slack_file"): B.VALIDATION_FILE,
    ("validation", "url"): B.VALIDATION_URL,
    ("validation", "existing"): B.VALIDATION_EXISTING,
    ("validation", "service"): B.VALIDATION_EXISTING,
}


def _request(services: Services, wizard: WizardInput) -> SubmitRequest:
    training = _fetch(services, wizard.training, _BLOCKS["training", wizard.training.kind])
    validation = None
    if wizard.validation is not None:
        validation = _fetch(services, wizard.validation, _BLOCKS["validation", wizard.validation.kind])
    return SubmitRequest(
        model=wizard.model,
        training=training,
        validation=validation,
        split=wizard.split_fraction if wizard.validation_mode == "split" else None,
        hyperparameters=wizard.hyperparameters,
        suffix=wizard.suffix,
        method=wizard.method,
        training_type=wizard.training_type,
    )


REVIEW_TTL = timedelta(hours=24)
_EXPIRED = "This review has expired; run /finetune again."


def _metadata(services: Services, actor: Actor, channel: str, request: SubmitRequest) -> str:
    """The review's ``private_metadata``: only the key of its state, which is kept in the store for
    ``REVIEW_TTL`` (long URLs and file names would outgrow Slack's 3,000 characters)."""
    root = services.intake.root.resolve()

    def data(d: Data | None) -> dict[str, str | None] | None:
        if d is None:
            return None
        path = str(d.path.resolve().relative_to(root)) if d.path else None
        if isinstance(d, ServiceData):
            return {"ref": d.ref, "path": path, "name": d.name, "not_checked": d.not_checked}
        return {"path": path, "name": d.name}

    state = {
        "channel": channel,
        "model": request.model,
        "training": data(request.training),
        "validation": data(request.validation),
        "split": request.split,
        "hp": request.hyperparameters.model_dump(),
        "suffix": request.suffix,
        "task": request.task.value,
        "method": request.method.value,
        "training_type": request.training_type,
        "rerun_of": request.rerun_of,
    }
    now = services.clock.now()
    record = ViewStateRecord(
        key=f"review-{secrets.token_urlsafe(18)}",
        team_id=actor.team_id,
        user_id=actor.user_id,
        payload=json.dumps(state),
        created_at=now,
        expires_at=now + REVIEW_TTL,
    )
    with services.store.transaction() as tx:
        tx.put_view_state(record)
    return record.key


def _state(services: Services, actor: Actor, metadata: str) -> str:
    """The review's state (JSON) its metadata stands for: kept under its key; a review opened before the
    state moved server-side carries it inline. ``InvalidInput`` when it expired or is someone else's."""
    if metadata.startswith("{"):
        return metadata
    record = None
    if metadata.startswith("review-") and len(metadata) <= 128:
        with services.store.transaction() as tx:
            record = tx.get_view_state(metadata, team_id=actor.team_id, now=services.clock.now())
    if record is None or record.user_id != actor.user_id:
        raise InvalidInput(_EXPIRED)
    return record.payload


def _from_metadata(services: Services, actor: Actor, metadata: str) -> tuple[str, SubmitRequest]:
    """The channel and submission a review stands for; ``InvalidInput`` when it expired, is someone
    else's, or is damaged."""
    try:
        meta = json.loads(_state(services, actor, metadata))
        root = services.intake.root.resolve()

        def here(relative: str) -> Path:
            path = (root / relative).resolve()
            if not path.is_relative_to(root) or not path.is_file():
                raise InvalidInput(_EXPIRED)
            return path

        def data(d: dict[str, str] | None) -> Data | None:
            if d is None:
                return None
            if d.get("ref"):  # a dataset the service keeps: its copy here, if it was small enough
                copy = here(d["path"]) if d.get("path") else None
                return ServiceData(str(d["ref"]), str(d["name"]), copy, d.get("not_checked"))
            return LocalData(path=here(d["path"]), name=str(d["name"]))

        training = data(meta["training"])
        assert training is not None
        request = SubmitRequest(
            model=str(meta["model"]),
            training=training,
            validation=data(meta.get("validation")),
            split=meta.get("split"),
            hyperparameters=Hyperparameters(**meta.get("hp") or {}),
            suffix=meta.get("suffix"),
            task=Task(meta.get("task", Task.CHAT_COMPLETION.value)),
            method=Method(meta.get("method", Method.SUPERVISED.value)),
            training_type=meta.get("training_type"),
            rerun_of=str(meta["rerun_of"]) if meta.get("rerun_of") else None,
        )
        return str(meta["channel"]), request
    except (KeyError, TypeError, ValueError, AssertionError) as e:
        raise InvalidInput("This review has expired or is damaged; run /finetune again.") from e


def _shown(data: Data) -> str:
    """A dataset as the review names it; the service's own id too for a dataset the service keeps."""
    if isinstance(data, ServiceData) and data.ref != data.name:
        return f"{data.name} ({data.ref})"
    return data.name


def _summary(request: SubmitRequest) -> list[tuple[str, str]]:
    hp = request.hyperparameters
    params = (
        "Default (chosen from the data)"
        if hp.is_default
        else ", ".join(f"{k}={v}" for k, v in hp.model_dump().items() if v is not None)
    )
    if request.validation:
        validation = _shown(request.validation)
    elif request.split:
        validation = f"automatic split, {request.split:.0%} held out"
    else:
        validation = "none"
    return [
        ("Base model", request.model),
        ("Training data", _shown(request.training)),
        ("Validation data", validation),
        ("Task parameters", params),
        ("Suffix", request.suffix or "none"),
        ("Method", "DPO (preference pairs)" if request.method is Method.DPO else "Supervised"),
        *([("Training tier", request.training_type)] if request.training_type else []),
        *([("Rerun of", request.rerun_of)] if request.rerun_of else []),
    ]


def _review(
    services: Services, actor: Actor, channel: str, wizard: WizardInput, rerun_of: str | None = None
) -> View:
    """Fetch the data and check the submission: the review step (a refused dataset is shown in it).
    ``rerun_of``: the job the Rerun wizard was opened for."""
    request = replace(_request(services, wizard), rerun_of=rerun_of)
    try:
        report = services.lifecycle.jobs.check(request).report
    except DatasetRejected as rejected:
        report = rejected.report
    return review_view(
        not_checked=not_checked(request),
        training_checked=request.training.path is not None,
        report=report,
        summary=_summary(request),
        private_metadata=_metadata(services, actor, channel, request),
        n_epochs=request.hyperparameters.n_epochs,
        tiers=services.lifecycle.queries.training_tiers(),
        cost=training_estimate(
            services, request.model, request.training_type, report, request.hyperparameters
        ),
    )


def register(app: Registrar, services: Services) -> None:
    async def model_options(query: Suggestion, ack: AsyncAck, _: AsyncRespond, __: AsyncWebClient) -> None:
        models = await off_loop(services.lifecycle.jobs.models)
        await ack(options=options_for_models(models, query.query))

    async def wizard_submitted(
        form: WizardSubmission, ack: AsyncAck, _: AsyncRespond, client: AsyncWebClient
    ) -> None:
        actor = form.actor
        ensure_enabled(services, actor)
        wizard = form.wizard()  # WizardErrors → per-field errors
        await ack(response_action="update", view=loading_view())
        try:
            screen: Any = await off_loop(_review, services, actor, actor.channel_id or "", wizard)
        except FtbotError as e:
            screen = error_view(describe(e)[0])
        await _update(client, form.view_id, screen)

    async def review_submitted(
        review: ReviewSubmission, ack: AsyncAck, _: AsyncRespond, client: AsyncWebClient
    ) -> None:
        channel, request = await off_loop(_from_metadata, services, review.actor, review.metadata)
        actor = review.actor.model_copy(update={"channel_id": channel})
        ensure_enabled(services, actor)
        await ack()  # closes the modal; the job card appears in the channel
        try:  # checked again: nothing unchecked starts
            what = replies.wizard_launch(request.model, request.training.name)
            await off_loop(services.lifecycle.jobs.launch, actor, lambda: request, what=what)
        except Exception as e:
            await notify(client, actor, channel, e)

    app.options_for(Action.BASE_MODEL, Suggestion)(model_options)
    app.view(Callback.WIZARD, WizardSubmission)(wizard_submitted)
    app.view(Callback.REVIEW, ReviewSubmission)(review_submitted)


async def _update(client: AsyncWebClient, view_id: str, screen: Any) -> None:
    try:
        await client.views_update(view_id=view_id, view=screen)
    except SlackApiError as e:  # the user closed the modal: the work is done, nothing to show
        log.info("modal not updated (%s)", e.response.get("error"))
