"""The on-call's messages: the page (who is paged, what failed, the service's reason, the log ref, the
next step, an Acknowledge button), the same message once someone took it, and the recovery line."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from slack_sdk.models.blocks import ActionsBlock, Block, ButtonElement

from bot.ui.blocks import context, section
from bot.ui.ids import Action
from bot.ui.ids import Block as B
from bot.ui.text import approver_mention, code, escape_clip, mention

REASON_MAX = 1200


class Page(NamedTuple):
    oncall: str  # FTBOT_ONCALL: S… (a user group) or U…
    ref: str
    what: str  # "Training job ft-x-1a2b failed"
    reason: str  # the service's own words
    next_step: str  # mrkdwn, may hold a link


def page_text(page: Page) -> str:
    return (
        f"{approver_mention(page.oncall)} {escape_clip(page.what, 300)} (ref {page.ref}): "
        f"{escape_clip(page.reason, 300)}"
    )


def _body(page: Page) -> str:
    return (
        f"{approver_mention(page.oncall)} :rotating_light: *{escape_clip(page.what, 300)}*, "
        "not because of anything the user did.\n"
        f"*Service's reason:* {escape_clip(page.reason, REASON_MAX)}\n"
        f"*Logs:* search for ref {code(page.ref)} (JSON logs: `ref = {page.ref}`)\n"
        f"*Next step:* {page.next_step}"
    )


def page_blocks(page: Page) -> list[Block]:
    button = ButtonElement(
        text="Acknowledge", action_id=Action.ONCALL_ACKNOWLEDGE, value=page.ref, style="primary"
    )
    return [section(B.ONCALL_TEXT, _body(page)), ActionsBlock(block_id=B.ONCALL_ACTIONS, elements=[button])]


def taken_blocks(page: Page, user_id: str, at: datetime) -> list[Block]:
    when = at.strftime("%Y-%m-%d %H:%M UTC")
    return [
        section(B.ONCALL_TEXT, _body(page)),
        context(B.ONCALL_TAKEN, f":white_check_mark: Acknowledged by {mention(user_id)} at {when}."),
    ]


def taken_text(page: Page, user_id: str) -> str:
    return f"{escape_clip(page.what, 300)} (ref {page.ref}): acknowledged by {mention(user_id)}"


def recovered_text(what: str, ref: str) -> str:
    return f":large_green_circle: Recovered: {escape_clip(what, 300)} (ref {ref})."
