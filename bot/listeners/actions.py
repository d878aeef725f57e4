"""Buttons on job cards and in threads: Cancel, Pause, Resume, Deploy (and its dialog), Approve, Reject,
Test chat, Tear down.

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
from bot.listeners.errors import describe, error_view, reported
from bot.listeners.inbound import (
    ApprovalClick,
    ChatSubmission,
    Click,
    DeploySubmission,
    EndpointClick,
    JobClick,
)
from bot.listeners.registrar import Registrar
from bot.runtime.services import Services
from bot.slack.replies import ephemeral
from bot.slack.test_chat import run_test_chat
from bot.ui import replies
from bot.ui.chat import test_chat_modal
from bot.ui.deploy import deploy_dialog, deploy_loading_view
from bot.ui.ids import Action, Callback
from commands.errors import FtbotError

log = logging.getLogger("ftbot.actions")


def register(app: Registrar, services: Services) -> None:
    _register_job_buttons(app, services)
    _register_pause_buttons(app, services)
    _register_deploy_dialog(app, services)
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

    async def deploy_with_options(
        click: Click, ack: AsyncAck, respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        ensure_enabled(services, click.actor)
        await ack()
        await _open_deploy_dialog(services, client, click)  # the final model or a checkpoint, a SKU

    async def decide(click: ApprovalClick, ack: AsyncAck, respond: AsyncRespond, approve: bool) -> None:
        ensure_enabled(services, click.actor)
        await ack()
        async with reported(respond):
            decided = await off_loop(life.holds.decide, click.actor, click.approval_id, approve)
            await _tell(respond, replies.approval_decided(decided, approve))

    async def approve(click: ApprovalClick, ack: AsyncAck, respond: AsyncRespond, _: AsyncWebClient) -> None:
        await decide(click, ack, respond, True)

    async def reject(click: ApprovalClick, ack: AsyncAck, respond: AsyncRespond, _: AsyncWebClient) -> None:
        await decide(click, ack, respond, False)

    app.action(Action.CANCEL, JobClick)(cancel)
    app.action(Action.DEPLOY, JobClick)(deploy)
    app.action(Action.DEPLOY_OPTIONS, JobClick)(deploy_with_options)
    app.action(Action.APPROVE, ApprovalClick)(approve)
    app.action(Action.REJECT, ApprovalClick)(reject)


def _register_pause_buttons(app: Registrar, services: Services) -> None:
    """Pause and Resume on the card, where the backend can pause (the use case refuses elsewhere)."""
    life = services.lifecycle

    async def pause(click: Click, ack: AsyncAck, respond: AsyncRespond, _: AsyncWebClient) -> None:
        ensure_enabled(services, click.actor)
        await ack()
        async with reported(respond):
            job = await off_loop(life.pauses.pause, click.actor, click.target)
            await _tell(respond, replies.paused_or_resumed(job, "pause"))

    async def resume(click: Click, ack: AsyncAck, respond: AsyncRespond, _: AsyncWebClient) -> None:
        ensure_enabled(services, click.actor)
        await ack()
        async with reported(respond):
            job = await off_loop(life.pauses.resume, click.actor, click.target)
            await _tell(respond, replies.paused_or_resumed(job, "resume"))

    app.action(Action.PAUSE, JobClick)(pause)
    app.action(Action.RESUME, JobClick)(resume)


async def _open_deploy_dialog(services: Services, client: AsyncWebClient, click: Click) -> None:
    """Open "Loading…" at once (a trigger lives 3 s), then the dialog with what this job offers, or
    why it cannot be deployed."""
    try:
        opened = await client.views_open(trigger_id=click.trigger_id, view=deploy_loading_view())
    except SlackApiError as e:  # expired trigger: the user clicks again
        log.info("deploy dialog not opened (%s)", e.response.get("error"))
        return
    screen: object
    try:
        choices = await off_loop(services.lifecycle.deploys.choices, click.actor, click.target)
        screen = deploy_dialog(choices)
    except FtbotError as e:
        screen = error_view(describe(e)[0])
    try:
        await client.views_update(view_id=opened["view"]["id"], hash=opened["view"].get("hash"), view=screen)
    except SlackApiError as e:  # closed meanwhile: nothing to tell anyone
        log.info("deploy dialog not updated (%s)", e.response.get("error"))


def _register_deploy_dialog(app: Registrar, services: Services) -> None:
    """The Deploy dialog's submission: one deploy request with every option it holds."""
    life = services.lifecycle

    async def deploy_submitted(
        form: DeploySubmission, ack: AsyncAck, _: AsyncRespond, client: AsyncWebClient
    ) -> None:
        channel = await off_loop(life.deploys.channel_of, form.job)
        actor = form.actor.model_copy(update={"channel_id": channel})
        ensure_enabled(services, actor)
        await ack()  # the request, the deploy and the endpoint are told in the job's thread
        try:
            outcome = await off_loop(life.deploys.request_deploy, actor, form.job, form.options)
        except Exception as e:  # told in the job's channel: the modal is closed
            await notify(client, actor, channel, e)
            return
        text = replies.deploy_requested(form.job, outcome, clicked=True)
        await ephemeral(client, channel, actor.user_id, text, None)

    app.view(Callback.DEPLOY, DeploySubmission)(deploy_submitted)


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
        try:  # streamed into the job's thread (bot/slack/test_chat.py), the base model alongside if asked
            prompt = request.messages[-1].content
            turn = await off_loop(
                services.chats.begin, actor, chat.endpoint, prompt, **options, with_base=chat.with_base
            )
            await run_test_chat(client, services.stream_slots, services.chats, turn)
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
