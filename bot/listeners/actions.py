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
from bot.ui.chat import parse_test_chat, test_chat_modal
from bot.ui.ids import Action, Callback
from bot.ui.text import code
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
    life = services.lifecycle

    def actor_of(body: dict[str, Any]) -> Actor:
        actor = actor_from(body, Surface.BUTTON)
        ensure_enabled(services, actor)
        return actor

    async def tell(respond: AsyncRespond, text: str) -> None:
        await respond(response_type="ephemeral", replace_original=False, text=text)

    async def cancel(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        actor, job_id = actor_of(body), _value(body)
        await ack()
        async with reported(respond):
            job = await off_loop(life.cancel, actor, job_id)
            await tell(respond, f":octagonal_sign: Cancel of {code(job.id)} requested.")

    async def deploy(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        actor, job_id = actor_of(body), _value(body)
        await ack()
        async with reported(respond):
            outcome = await off_loop(life.request_deploy, actor, job_id)
            if outcome.endpoint is not None:
                text = f":rocket: Deploying {code(job_id)} as {code(outcome.endpoint.name)}."
            elif outcome.approval_is_new:
                text = ":hourglass: You are not an approver, so an approval request was posted in the thread."
            else:
                text = ":hourglass: A deploy request for this job is already waiting for an approver."
            await tell(respond, text)

    async def decide(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, approve: bool) -> None:
        actor, approval_id = actor_of(body), _approval_id(_value(body))
        await ack()
        async with reported(respond):
            decided = await off_loop(life.decide, actor, approval_id, approve)
            word = "approved: deploying" if approve else "rejected"
            await tell(respond, f"Deploy of {code(decided.job_id)} {word}.")

    async def approve(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await decide(ack, body, respond, True)

    async def reject(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await decide(ack, body, respond, False)

    async def test_chat(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        actor_of(body)
        name = _value(body)
        await ack()
        async with reported(respond):
            endpoint = await off_loop(life.endpoint, name)
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
        try:
            await off_loop(life.chat, actor, name, prompt, system=system, temperature=request.temperature,
                           max_tokens=request.max_tokens)  # fmt: skip
        except Exception as e:
            await notify(client, actor, await off_loop(life.channel_of_endpoint, name), e)

    async def tear_down(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        actor, name = actor_of(body), _value(body)
        await ack()
        async with reported(respond):
            ep = await off_loop(life.teardown, actor, name)
            text = f":wastebasket: {code(ep.name)} is torn down; the model remains and can be redeployed."
            await tell(respond, text)

    app.action(Action.CANCEL)(cancel)
    app.action(Action.DEPLOY)(deploy)
    app.action(Action.APPROVE)(approve)
    app.action(Action.REJECT)(reject)
    app.action(Action.TEST_CHAT)(test_chat)
    app.action(Action.TEAR_DOWN)(tear_down)
    app.view(Callback.TEST_CHAT)(chat_submitted)
