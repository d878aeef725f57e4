"""A workspace's settings as ``/finetune config`` answers them and App Home shows them to approvers, the
modal App Home's Edit settings opens, and the parser of what that modal submits.

The modal's ``private_metadata`` is the version of the settings it showed (``settings_version``): a
submission made after someone else changed them is refused rather than undoing their change."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConversationFilter,
    ConversationMultiSelectElement,
    DividerBlock,
    InputBlock,
    UserMultiSelectElement,
)
from slack_sdk.models.views import View

from bot.ui.blocks import context, section
from bot.ui.ids import CHANNEL_ID, SLASH_COMMAND, USER_ID, Action, Callback
from bot.ui.ids import Block as B
from bot.ui.state import Values
from bot.ui.text import approver_mention, channel_mention
from commands.errors import InvalidInput
from commands.models import Frozen

MAX_SHOWN = 50
_VERSION = 16  # hex digits of the settings' digest kept in the modal's private_metadata
DAMAGED = "This settings form is damaged; open Edit settings on ftbot's Home tab again."


def settings_text(
    approvers: Sequence[str], channels: Sequence[str], own_approvers: bool, own_channels: bool
) -> str:
    """Who approves and where ftbot answers, and whether each list is this workspace's own or the default."""
    who = " ".join(approver_mention(a) for a in approvers[:MAX_SHOWN]) or "nobody yet (nobody can deploy)"
    where = " ".join(channel_mention(c) for c in channels[:MAX_SHOWN]) or "every channel it is in"
    return (
        f"*Approvers*{'' if own_approvers else ' (default, FTBOT_APPROVERS)'}: {who}\n"
        f"*Allowed channels*{'' if own_channels else ' (default, FTBOT_ALLOWED_CHANNELS)'}: {where}\n"
        f"Change them with `{SLASH_COMMAND} config approvers add|remove @user` or "
        f"`{SLASH_COMMAND} config channels add|remove #channel` (approvers)."
    )


def settings_reply(
    approvers: Sequence[str], channels: Sequence[str], own_approvers: bool, own_channels: bool, lead: str = ""
) -> tuple[str, list[Block]]:
    text = (lead + "\n" if lead else "") + settings_text(approvers, channels, own_approvers, own_channels)
    return text, [section(B.CONFIG_SETTINGS, text)]


def home_settings_blocks(
    approvers: Sequence[str], channels: Sequence[str], own_approvers: bool, own_channels: bool
) -> list[Block]:
    """App Home's Settings section and its Edit settings button (shown to those who may change them)."""
    body = settings_text(approvers, channels, own_approvers, own_channels)
    edit = ButtonElement(text="Edit settings", action_id=Action.SETTINGS_EDIT, value="settings")
    return [
        DividerBlock(),
        section(B.HOME_SETTINGS, "*Settings of this workspace*\n" + body),
        ActionsBlock(block_id=B.HOME_SETTINGS_ACTIONS, elements=[edit]),
    ]


def settings_version(approvers: Sequence[str], channels: Sequence[str]) -> str:
    """A short digest of the settings a modal showed, to tell at submit whether they changed since."""
    text = ",".join(approvers) + "|" + ",".join(channels)
    return hashlib.sha256(text.encode()).hexdigest()[:_VERSION]


def _intro(own_approvers: bool, own_channels: bool) -> str:
    intro = "Who approves deploys and tear-downs (and changes these settings), and where ftbot answers."
    defaults = [
        name for name, own in (("approvers", own_approvers), ("allowed channels", own_channels)) if not own
    ]
    if defaults:
        intro += (
            f" Shown now: the default {' and '.join(defaults)} (FTBOT_APPROVERS, FTBOT_ALLOWED_CHANNELS); "
            "saving a change to a list makes it this workspace's own."
        )
    return intro + " Every change is audited."


def _approvers_input(users: Sequence[str], most: int) -> InputBlock:
    return InputBlock(
        block_id=B.SETTINGS_APPROVERS,
        label="Approvers",
        optional=True,
        hint="None: nobody can deploy, and the user who installed ftbot can name the first approver.",
        element=UserMultiSelectElement(
            action_id=Action.SETTINGS_APPROVERS, initial_users=list(users) or None, max_selected_items=most
        ),
    )


def _channels_input(channels: Sequence[str], most: int) -> InputBlock:
    return InputBlock(
        block_id=B.SETTINGS_CHANNELS,
        label="Allowed channels",
        optional=True,
        hint="None: every channel ftbot is in.",
        element=ConversationMultiSelectElement(
            action_id=Action.SETTINGS_CHANNELS,
            initial_conversations=list(channels) or None,
            max_selected_items=most,
            filter=ConversationFilter(include=["public", "private"], exclude_bot_users=True),
        ),
    )


def settings_modal(
    approvers: Sequence[str], channels: Sequence[str], own_approvers: bool, own_channels: bool, most: int
) -> View:
    """The Edit settings modal, pre-filled with the current lists (``most``: how many each may hold).
    User groups (``S…``) cannot be picked in a users select: they are listed, and kept as they are."""
    users = [a for a in approvers if USER_ID.fullmatch(a)][:most]
    groups = [a for a in approvers if not USER_ID.fullmatch(a)]
    blocks: list[Block] = [section(B.SETTINGS_INTRO, _intro(own_approvers, own_channels))]
    blocks.append(_approvers_input(users, most))
    if groups:
        listed = " ".join(approver_mention(g) for g in groups[:MAX_SHOWN])
        blocks.append(
            context(
                B.SETTINGS_GROUPS,
                f"User groups stay approvers: {listed}. Change them with "
                f"`{SLASH_COMMAND} config approvers add|remove`.",
            )
        )
    blocks.append(_channels_input(channels[:most], most))
    return View(
        type="modal",
        callback_id=Callback.SETTINGS,
        title="Workspace settings",
        submit="Save",
        close="Cancel",
        private_metadata=settings_version(approvers, channels),
        blocks=blocks,
    )


def settings_saved_view(
    approvers: Sequence[str], channels: Sequence[str], own_approvers: bool, own_channels: bool, changed: bool
) -> View:
    """What the modal shows once submitted: the settings as they now are."""
    lead = ":white_check_mark: Saved (audited)." if changed else "Nothing changed."
    text = lead + "\n" + settings_text(approvers, channels, own_approvers, own_channels)
    return View(
        type="modal", title="Workspace settings", close="Close", blocks=[section(B.SETTINGS_SAVED, text)]
    )


class SettingsEdit(Frozen):
    """What the Edit settings modal submitted: the users and channels chosen, and the version shown."""

    approvers: tuple[str, ...]
    channels: tuple[str, ...]
    version: str


def _ids(
    values: Values, block: B, action: Action, key: str, pattern: re.Pattern[str], most: int
) -> tuple[str, ...]:
    """The ids a multi-select submitted; a block or element that is missing or not an object is damaged
    (never read as "none chosen", which would empty the list)."""
    found = values.get(block) if isinstance(values, Mapping) else None
    element = found.get(action) if isinstance(found, Mapping) else None
    field = str(block)  # a plain str: the error handler writes it as a JSON key
    if not isinstance(element, Mapping):
        raise InvalidInput(DAMAGED, field=field)
    chosen = element.get(key)
    if chosen is None:
        return ()
    what = "users" if block == B.SETTINGS_APPROVERS else "channels"
    if not isinstance(chosen, list) or len(chosen) > most:
        raise InvalidInput(f"Choose at most {most} {what}.", field=field)
    if not all(isinstance(i, str) and pattern.fullmatch(i) for i in chosen):
        raise InvalidInput(f"Choose {what} from Slack's list.", field=field)
    return tuple(dict.fromkeys(chosen))


def parse_settings(values: Values, metadata: str, most: int) -> SettingsEdit:
    """The submitted modal; ``InvalidInput`` (``field`` = the block) for a damaged or impossible value,
    without a field for damaged metadata."""
    version = metadata.strip()
    if len(version) != _VERSION or not all(c in "0123456789abcdef" for c in version):
        raise InvalidInput(DAMAGED)
    approvers = _ids(values, B.SETTINGS_APPROVERS, Action.SETTINGS_APPROVERS, "selected_users", USER_ID, most)
    channels = _ids(
        values, B.SETTINGS_CHANNELS, Action.SETTINGS_CHANNELS, "selected_conversations", CHANNEL_ID, most
    )
    return SettingsEdit(approvers=approvers, channels=channels, version=version)
