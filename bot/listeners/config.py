"""``/finetune config`` and App Home's Edit settings: show the workspace's approvers and allowed channels, or
change them (approvers, or while the workspace has none, the user who installed ftbot there). Both go
through ``WorkspaceSettings.apply``: the same permission, validation and audit."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.views import View

from bot.runtime.services import Services
from bot.store.workspace_settings import MAX_IDS, Change, Field, Refused, WorkspaceConfig
from bot.ui.ids import USER_ID
from bot.ui.workspace_settings import (
    SettingsEdit,
    home_settings_blocks,
    settings_modal,
    settings_reply,
    settings_saved_view,
    settings_version,
)
from commands import grammar
from commands.errors import InvalidInput, PermissionDenied
from commands.records import Actor

#: how an Edit settings submission by someone who may not is audited and named
EDIT_REFUSED = Refused("config_edit", "", "settings")
STALE = (
    "These settings changed while the form was open (another approver?). Close it and open Edit "
    "settings again to see them."
)


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


def settings_form(services: Services, actor: Actor) -> View:
    """The Edit settings modal, pre-filled; ``PermissionDenied`` for anyone who may not change them."""
    settings = services.workspace_settings
    config = settings.current()
    if not settings.may_change(config, actor.user_id, services.approvers.is_approver(actor.user_id)):
        raise PermissionDenied("Only this workspace's approvers can change its {what}.", what="settings")
    return settings_modal(
        config.approvers, config.allowed_channels, config.own_approvers, config.own_channels, MAX_IDS
    )


def edit(services: Services, actor: Actor, form: SettingsEdit) -> View:
    """Save what the Edit settings modal submitted (the same use case as ``/finetune config``); the view
    the modal shows next. In a worker thread, within the request's workspace scope."""
    settings = services.workspace_settings
    planned: list[Change] = []

    def plan(config: WorkspaceConfig) -> list[Change]:
        if settings_version(config.approvers, config.allowed_channels) != form.version:
            raise InvalidInput(STALE)
        planned.extend(changes(config, form))
        return planned

    is_approver = services.approvers.is_approver(actor.user_id)
    config = settings.apply(actor, plan, EDIT_REFUSED, is_approver=is_approver, at=services.clock.now())
    return settings_saved_view(
        config.approvers, config.allowed_channels, config.own_approvers, config.own_channels, bool(planned)
    )


def changes(config: WorkspaceConfig, form: SettingsEdit) -> list[Change]:
    """What turns the current lists into the submitted ones: removals first (a full list can take a new
    entry in place of one removed). User groups are not in the form's users select, so they stay."""
    users = [a for a in config.approvers if USER_ID.fullmatch(a)]
    channels = list(config.allowed_channels)
    return [
        *(Change("approvers", False, u) for u in users if u not in form.approvers),
        *(Change("channels", False, c) for c in channels if c not in form.channels),
        *(Change("approvers", True, u) for u in form.approvers if u not in users),
        *(Change("channels", True, c) for c in form.channels if c not in channels),
    ]
