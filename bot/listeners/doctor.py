"""``/finetune doctor``: approvers only (it reveals configuration), answered ephemerally with the same
checks as ``ftbot doctor``, run off the event loop after the ack."""

from __future__ import annotations

from slack_bolt.async_app import AsyncAck, AsyncRespond

from bot.doctor.probe import Probe
from bot.doctor.runner import run_doctor
from bot.listeners.common import off_loop
from bot.listeners.errors import reported
from bot.runtime.services import Services, scheduler_web_client
from bot.store import scope
from bot.ui.doctor import doctor_message
from commands.doctor import Report
from commands.errors import PermissionDenied
from commands.records import Actor

WORKING = "Checking ftbot's setup (settings, Azure, Slack, the store)…"


def checked(services: Services, actor: Actor) -> Report:
    """The doctor's report for an approver (``PermissionDenied`` for anyone else), in a worker thread:
    approver groups are looked up in Slack and the checks call Azure and Slack."""
    if not services.approvers.is_approver(actor.user_id):
        raise PermissionDenied(
            "Only approvers can run {command}: it shows ftbot's configuration.", command="doctor"
        )
    settings, web = services.settings, services.web
    workspace = scope.current()
    if settings.oauth_mode and workspace is not None:  # this workspace's own token and channels
        client = services.workspaces.client(workspace.team_id, workspace.enterprise_id)
        web = client if client is not None else scheduler_web_client(settings, token="")
        channels = list(services.workspace_settings.current().allowed_channels)
        settings = settings.model_copy(update={"allowed_channels": channels})
    probe = Probe.from_settings(settings, slack_factory=lambda: web)
    return run_doctor(probe)


async def answer(services: Services, actor: Actor, ack: AsyncAck, respond: AsyncRespond) -> None:
    await ack(response_type="ephemeral", text=WORKING)
    async with reported(respond):
        text, blocks = doctor_message(await off_loop(checked, services, actor))
        await respond(response_type="ephemeral", replace_original=False, text=text, blocks=blocks)
