"""Buttons on job cards and in threads: Cancel, Deploy, Approve, Reject, Test chat, Tear down.

Permissions are checked on the server, in the use cases, for every click: hiding a button is not a
permission. Results and refusals go to the clicking user ephemerally; the card and thread follow from
the store through delivery.
"""

from __future__ import annotations

import logging

from slack_bolt.async_app import AsyncAck, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.listeners.common import ensure_enabled, notify, off_loop
from bot.listeners.errors import reported
from bot.listeners.inbound import ApprovalClick, ChatSubmission, Click, EndpointClick, JobClick
from bot.listeners.registrar import Registrar
from bot.runtime.services import Services
from bot.ui import replies
from bot.ui.chat import test_chat_modal
from bot.ui.ids import Action, Callback

log = logging.getLogger("ftbot.actions")


def register(app: Registrar, services: Services) -> None:
    _register_job_buttons(app, services)
    _register_endpoint_buttons(app, services)


async def _tell(respond: AsyncRespond, text: str) -> None:
    await respond(response_type="ephemeral", replace_original=False, text=text)


def _register_job_buttons(app: Registrar, services: Services) -> None:
    """Cancel and Deploy on the card; Approve and Reject on an approval request in the thread."""
    life = services.lifecycle

    async def cancel(click: Click, ack: AsyncAck, respond: AsyncRespond, _: AsyncWebClient) -> None:
        ensure_enabled(services, click.actor)
        await ack()
        async with reported(respond):
            job = await off_loop(life.jobs.cancel, click.actor, click.target)
            await _tell(respond, replies.cancel_requested(job, clicked=True))

    async def deploy(click: Click, ack: AsyncAck, respond: AsyncRespond, _: AsyncWebClient) -> None:
        ensure_enabled(services, click.actor)
        await ack()
        async with reported(respond):
            outcome = await off_loop(life.deploys.request_deploy, click.actor, click.target)
            await _tell(respond, replies.deploy_requested(click.target, outcome, clicked=True))

    async def decide(click: ApprovalClick, ack: AsyncAck, respond: AsyncRespond, approve: bool) -> None:
        ensure_enabled(services, click.actor)
        await ack()
        async with reported(respond):
            decided = await off_loop(life.deploys.decide, click.actor, click.approval_id, approve)
            await _tell(respond, replies.approval_decided(decided, approve))

    async def approve(click: ApprovalClick, ack: AsyncAck, respond: AsyncRespond, _: AsyncWebClient) -> None:
        await decide(click, ack, respond, True)

    async def reject(click: ApprovalClick, ack: AsyncAck, respond: AsyncRespond, _: AsyncWebClient) -> None:
        await decide(click, ack, respond, False)

    app.action(Action.CANCEL, JobClick)(cancel)
    app.action(Action.DEPLOY, JobClick)(deploy)
    app.action(Action.APPROVE, ApprovalClick)(approve)
    app.action(Action.REJECT, ApprovalClick)(reject)


def _register_endpoint_buttons(app: Registrar, services: Services) -> None:
    """Test chat (a button that opens a modal, and the modal's submission) and Tear down."""
    life = services.lifecycle

    async def test_chat(click: Click, ack: AsyncAck, respond: AsyncRespond, client: AsyncWebClient) -> None:
        ensure_enabled(services, click.actor)
        await ack()
        async with reported(respond):
            endpoint = await off_loop(life.queries.endpoint, click.target)
            try:
                await client.views_open(trigger_id=click.trigger_id, view=test_chat_modal(endpoint))
            except SlackApiError as e:  # expired trigger: the user clicks again
                log.info("test chat modal not opened (%s)", e.response.get("error"))

    async def chat_submitted(
        chat: ChatSubmission, ack: AsyncAck, _: AsyncRespond, client: AsyncWebClient
    ) -> None:
        # checked before the modal closes: an endpoint torn down meanwhile is said in the modal
        channel = await off_loop(life.endpoints.chat_channel, chat.endpoint)
        await ack()  # the exchange is posted in the job's thread
        request = chat.request
        system = next((m.content for m in request.messages if m.role == "system"), None)
        options = {"system": system, "temperature": request.temperature, "max_tokens": request.max_tokens}
        actor = chat.actor.model_copy(update={"channel_id": channel})
        try:
            await off_loop(life.endpoints.chat, actor, chat.endpoint, request.messages[-1].content, **options)
        except Exception as e:  # told in the channel it was looked up for: the error path looks up nothing
            await notify(client, actor, channel, e)

    async def tear_down(click: Click, ack: AsyncAck, respond: AsyncRespond, _: AsyncWebClient) -> None:
        ensure_enabled(services, click.actor)
        await ack()
        async with reported(respond):
            ep = await off_loop(life.endpoints.teardown, click.actor, click.target)
            await _tell(respond, replies.torn_down(ep, clicked=True))

    app.action(Action.TEST_CHAT, EndpointClick)(test_chat)
    app.action(Action.TEAR_DOWN, EndpointClick)(tear_down)
    app.view(Callback.TEST_CHAT, ChatSubmission)(chat_submitted)
