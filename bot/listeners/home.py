"""App Home: the user's recent jobs and the workspace's live endpoints."""

from __future__ import annotations

import logging

from slack_bolt.async_app import AsyncAck, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.listeners import config
from bot.listeners.common import off_loop
from bot.listeners.costs import home_section
from bot.listeners.inbound import HomeOpened
from bot.listeners.registrar import Registrar
from bot.runtime.services import Services
from bot.ui.home import home_view

log = logging.getLogger("ftbot.home")


def register(app: Registrar, services: Services) -> None:
    async def home_opened(opened: HomeOpened, _: AsyncAck, __: AsyncRespond, client: AsyncWebClient) -> None:
        if opened.tab != "home":
            return
        user = opened.user_id
        jobs = await off_loop(services.lifecycle.queries.jobs, user_id=user, limit=10)
        endpoints = await off_loop(services.lifecycle.queries.live_endpoints)
        costs = await off_loop(home_section, services, opened.team_id)
        costs = [*costs, *await off_loop(config.home_section, services, user)]  # settings: approvers
        evaluations = await off_loop(_evaluation_lines, services, [job.id for job in jobs])
        try:
            view = home_view(jobs, endpoints, services.clock.now(), costs, evaluations)
            await client.views_publish(user_id=user, view=view)
        except SlackApiError as e:  # the next opening publishes it again
            log.info("App Home not published (%s)", e.response.get("error"))

    app.event("app_home_opened", HomeOpened)(home_opened)


def _evaluation_lines(services: Services, job_ids: list[str]) -> dict[str, str]:
    """Each evaluated job's Evaluation line (progress or headline), as its card shows it."""
    lines = {job_id: services.evaluations.evaluations.headline(job_id) for job_id in job_ids}
    return {job_id: line for job_id, line in lines.items() if line}
