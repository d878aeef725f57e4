"""App Home: the user's recent jobs and the workspace's live endpoints; for approvers, the workspace's
settings and their Edit settings modal (saved through the same use case as ``/finetune config``)."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.models.views import View
from slack_sdk.web.async_client import AsyncWebClient

from bot.listeners import config
from bot.listeners.common import off_loop
from bot.listeners.costs import home_section
from bot.listeners.errors import describe, error_view, reported
from bot.listeners.inbound import HomeClick, HomeOpened, SettingsSubmission
from bot.listeners.registrar import Registrar
from bot.runtime.services import Services
from bot.ui.home import home_view
from bot.ui.ids import Action, Callback

log = logging.getLogger("ftbot.home")


def register(app: Registrar, services: Services) -> None:
    async def home_opened(opened: HomeOpened, _: AsyncAck, __: AsyncRespond, client: AsyncWebClient) -> None:
        if opened.tab == "home":
            await publish(services, client, opened.user_id, opened.team_id)

    async def edit_settings(click: HomeClick, ack: AsyncAck, _: AsyncRespond, client: AsyncWebClient) -> None:
        await ack()
        view: View | dict[str, Any]
        try:  # a Home tab click has no channel: the answer, a refusal included, is the modal
            view = await off_loop(config.settings_form, services, click.actor)
        except Exception as e:  # describe() logs what is not an FtbotError, with the ref it shows
            view = error_view(describe(e)[0])
        try:
            await client.views_open(trigger_id=click.trigger_id, view=view)
        except SlackApiError as e:  # expired trigger: the user clicks again
            log.info("settings modal not opened (%s)", e.response.get("error"))

    async def settings_saved(
        form: SettingsSubmission, ack: AsyncAck, respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        # saved before the ack: a refusal or a bad value is told in the modal by the error handler
        view = await off_loop(config.edit, services, form.actor, form.edit)
        await ack(response_action="update", view=view)
        async with reported(respond):
            await publish(services, client, form.user_id, form.team_id)

    app.event("app_home_opened", HomeOpened)(home_opened)
    app.action(Action.SETTINGS_EDIT, HomeClick)(edit_settings)
    app.view(Callback.SETTINGS, SettingsSubmission)(settings_saved)


async def publish(services: Services, client: AsyncWebClient, user: str, team_id: str) -> None:
    """Publish ``user``'s Home tab as it is now (a failure is logged; the next opening publishes it)."""
    jobs = await off_loop(services.lifecycle.queries.jobs, user_id=user, limit=10)
    endpoints = await off_loop(services.lifecycle.queries.live_endpoints)
    costs = await off_loop(home_section, services, team_id)
    costs = [*costs, *await off_loop(config.home_section, services, user)]  # settings: approvers
    evaluations = await off_loop(_evaluation_lines, services, [job.id for job in jobs])
    try:
        view = home_view(jobs, endpoints, services.clock.now(), costs, evaluations)
        await client.views_publish(user_id=user, view=view)
    except SlackApiError as e:  # the next opening publishes it again
        log.info("App Home not published (%s)", e.response.get("error"))


def _evaluation_lines(services: Services, job_ids: list[str]) -> dict[str, str]:
    """Each evaluated job's Evaluation line (progress or headline), as its card shows it."""
    lines = {job_id: services.evaluations.evaluations.headline(job_id) for job_id in job_ids}
    return {job_id: line for job_id, line in lines.items() if line}
