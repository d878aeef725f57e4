"""Acknowledge on an on-call page: records who took the incident (audited) and edits the page to say so."""

from __future__ import annotations

import logging

from slack_bolt.async_app import AsyncAck, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.listeners.common import off_loop
from bot.listeners.errors import reported
from bot.listeners.inbound import Click
from bot.listeners.registrar import Registrar
from bot.runtime.services import Services
from bot.scheduling.oncall import Incidents
from bot.ui.ids import Action

log = logging.getLogger("ftbot.oncall")


def register(app: Registrar, services: Services) -> None:
    incidents = Incidents(services.store, services.clock, services.settings.oncall)

    async def acknowledge(click: Click, ack: AsyncAck, respond: AsyncRespond, client: AsyncWebClient) -> None:
        await ack()
        async with reported(respond):
            incident, at = await off_loop(incidents.acknowledge, click.actor, click.target)
            text, blocks = incidents.taken(incident, click.user_id, at, click.actor.team_id)
            for channel, ts in incident.posts:
                try:
                    await client.chat_update(channel=channel, ts=ts, text=text, blocks=blocks)
                except SlackApiError as e:  # the record stands; the message keeps its button
                    log.warning("could not edit the page of %s: %s", incident.ref, e.response.get("error"))

    app.action(Action.ONCALL_ACKNOWLEDGE, Click)(acknowledge)
