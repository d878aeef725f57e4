"""Acknowledge on an on-call page: records who took the incident (audited) and edits the page to say so."""

from __future__ import annotations

from slack_bolt.async_app import AsyncAck, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.listeners.common import off_loop
from bot.listeners.errors import reported
from bot.listeners.inbound import Click
from bot.listeners.registrar import Registrar
from bot.runtime.services import Services
from bot.scheduling.oncall import Incidents
from bot.ui.ids import Action


def register(app: Registrar, services: Services) -> None:
    incidents = Incidents(services.store, services.clock, services.settings.oncall)

    async def acknowledge(click: Click, ack: AsyncAck, respond: AsyncRespond, client: AsyncWebClient) -> None:
        # ``client`` speaks for the clicking workspace; the page's messages are edited with their own
        await ack()
        async with reported(respond):
            incident, at = await off_loop(incidents.acknowledge, click.actor, click.target)
            await off_loop(incidents.mark_taken, services.workspaces, incident, click.user_id, at)

    app.action(Action.ONCALL_ACKNOWLEDGE, Click)(acknowledge)
