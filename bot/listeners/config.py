"""``/finetune config``: show the workspace's approvers and allowed channels, or change one (approvers,
or while the workspace has none, the user who installed ftbot there). Audited in the store."""

from __future__ import annotations

from typing import Any

from bot.runtime.services import Services
from bot.store.workspace_settings import Field, WorkspaceConfig
from bot.ui.workspace_settings import home_settings_blocks, settings_reply
from commands import grammar
from commands.records import Actor


def _reply(config: WorkspaceConfig, lead: str = "") -> tuple[str, list[Any]]:
    return settings_reply(
        config.approvers, config.allowed_channels, config.own_approvers, config.own_channels, lead
    )


def answer(services: Services, actor: Actor, cmd: grammar.Config) -> tuple[str, list[Any]]:
    """In a worker thread, within the request's workspace scope."""
    settings = services.workspace_settings
    if cmd.field is None:
        return _reply(settings.current())
    field: Field = "approvers" if cmd.field == "approvers" else "channels"
    config = settings.change(
        actor,
        field,
        cmd.add,
        cmd.value,
        is_approver=services.approvers.is_approver(actor.user_id),
        at=services.clock.now(),
    )
    lead = f":white_check_mark: {'Added' if cmd.add else 'Removed'} (audited)."
    return _reply(config, lead)


def home_section(services: Services, user_id: str) -> list[Any]:
    """App Home's Settings section for those who may change them; nothing for anyone else."""
    settings = services.workspace_settings
    config = settings.current()
    if not settings.may_change(config, user_id, services.approvers.is_approver(user_id)):
        return []
    return home_settings_blocks(
        config.approvers, config.allowed_channels, config.own_approvers, config.own_channels
    )
