"""Buttons on job cards and in threads: Cancel, Deploy, Approve, Reject, Test chat, Tear down.

Permissions are checked on the server, in the use cases, for every click: hiding a button is not a
permission. Results and refusals go to the clicking user ephemerally; the card and thread follow from
the store through delivery.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.listeners.common import actor_from, ensure_enabled, notify, off_loop
from bot.listeners.errors import reported
from bot.listeners.registrar import Registrar
from bot.runtime.services import Services
from bot.ui import replies
from bot.ui.chat import parse_test_chat, test_chat_modal
from bot.ui.ids import Action, Callback
from commands.errors import InvalidInput
from commands.records import Actor, Surface

log = logging.getLogger("ftbot.actions")


def _value(body: dict[str, Any]) -> str:
    actions = body.get("actions")
    value = (
        actions[0].get("value")
        if isinstance(actions, list) and actions and isinstance(actions[0], dict)
        else None
    )
    if not isinstance(value, str) or not value or len(value) > 200:
        raise InvalidInput("This button carries no target, so ftbot cannot act on it.")
    return value


def _approval_id(value: str) -> int:
    if not value.isdigit() or len(value) > 12:
        raise InvalidInput("This approval button is damaged; ask for a new approval request.")
    return int(value)


def register(app: Registrar, services: Services) -> None:
    _register_job_buttons(app, services)
    _register_endpoint_buttons(app, services)


def _clicker(services: Services, body: dict[str, Any]) -> Actor:
    actor = actor_from(body, Surface.BUTTON)
    ensure_enabled(services, actor)
    return actor


async def _tell(respond: AsyncRespond, text: str) -> None:
    await respond(response_type="ephemeral", replace_original=False, text=text)


def _register_job_buttons(app: Registrar, services: Services) -> None:
    """Cancel and Deploy on the card; Approve and Reject on an approval request in the thread."""
    life = services.lifecycle

    async def cancel(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        actor, job_id = _clicker(services, body), _value(body)
        await ack()
        async with reported(respond):
            job = await off_loop(life.jobs.cancel, actor, job_id)
            await _tell(respond, replies.cancel_requested(job, clicked=True))

    async def deploy(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        actor, job_id = _clicker(services, body), _value(body)
        await ack()
        async with reported(respond):
            outcome = await off_loop(life.deploys.request_deploy, actor, job_id)
            await _tell(respond, replies.deploy_requested(job_id, outcome, clicked=True))

    async def decide(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, approve: bool) -> None:
        actor, approval_id = _clicker(services, body), _approval_id(_value(body))
        await ack()
        async with reported(respond):
            decided = await off_loop(life.deploys.decide, actor, approval_id, approve)
            await _tell(respond, replies.approval_decided(decided, approve))

    async def approve(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await decide(ack, body, respond, True)

    async def reject(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await decide(ack, body, respond, False)

    app.action(Action.CANCEL)(cancel)
    app.action(Action.DEPLOY)(deploy)
    app.action(Action.APPROVE)(approve)
    app.action(Action.REJECT)(reject)


def _register_endpoint_buttons(app: Registrar, services: Services) -> None:
    """Test chat (a button that opens a modal, and the modal's submission) and Tear down."""
    life = services.lifecycle

    async def test_chat(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        _clicker(services, body)
        name = _value(body)
        await ack()
        async with reported(respond):
            endpoint = await off_loop(life.queries.endpoint, name)
            try:
                trigger = str(body.get("trigger_id") or "")
                await client.views_open(trigger_id=trigger, view=test_chat_modal(endpoint))
            except SlackApiError as e:  # expired trigger: the user clicks again
                log.info("test chat modal not opened (%s)", e.response.get("error"))

    async def chat_submitted(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
    ) -> None:
        actor = actor_from(body, Surface.MODAL)
        request = parse_test_chat((view.get("state") or {}).get("values") or {})  # per-field errors
        name = str(view.get("private_metadata") or "")
        await ack()  # the exchange is posted in the job's thread
        system = next((m.content for m in request.messages if m.role == "system"), None)
        prompt = request.messages[-1].content
        options = {"system": system, "temperature": request.temperature, "max_tokens": request.max_tokens}
        try:
            await off_loop(life.endpoints.chat, actor, name, prompt, **options)
        except Exception as e:
            await notify(client, actor, await off_loop(life.queries.channel_of_endpoint, name), e)

    async def tear_down(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        actor, name = _clicker(services, body), _value(body)
        await ack()
        async with reported(respond):
            ep = await off_loop(life.endpoints.teardown, actor, name)
            await _tell(respond, replies.torn_down(ep, clicked=True))

    app.action(Action.TEST_CHAT)(test_chat)
    app.action(Action.TEAR_DOWN)(tear_down)
    app.view(Callback.TEST_CHAT)(chat_submitted)
