"""Text pieces shared by every builder: mrkdwn escaping and clipping, numbers, durations, links and
mentions, so a name or a user shows the same way on the card, in the thread, in a list and in App Home."""

from __future__ import annotations

import re

from bot.ui.ids import CHANNEL_ID, USER_GROUP_ID, USER_ID
from bot.ui.limits import CONTROL

LINK_URL_MAX = 1500  # a longer link would crowd out the text around it; it shows as its label


def escape(text: object) -> str:
    """Escape user or model text for mrkdwn, so `<!channel>`, `<@U1>` and `<http://x|y>` show as text;
    control characters (but tab and newline) are dropped."""
    return CONTROL.sub("", str(text)).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"


def code(text: object) -> str:
    """Inline code span for an escaped identifier (backticks inside are dropped)."""
    return "`" + escape(str(text).replace("`", "'")) + "`"


def escape_clip(text: object, limit: int) -> str:
    """``escape(text)`` cut to at most ``limit`` characters without splitting an ``&amp;``-style entity."""
    raw = str(text)
    out = escape(raw)
    if len(out) <= limit:
        return out
    parts: list[str] = []
    used = 0
    budget = max(0, limit - 1)
    for ch in CONTROL.sub("", raw)[:budget]:
        piece = escape(ch)
        if used + len(piece) > budget:
            break
        parts.append(piece)
        used += len(piece)
    return "".join(parts) + "…"


def plain(text: object, limit: int) -> str:
    """Text for a ``plain_text`` object (headers, option labels): Slack does not parse mentions there,
    but ``<``, ``>`` and ``&`` are dropped anyway so no client ever reads one as markup, and so are
    control characters. Never empty (Slack refuses an empty text object): ``-`` when nothing is left."""
    kept = CONTROL.sub("", re.sub(r"[<>&]", "", str(text)))
    return clip(kept, limit) if kept.strip() else "-"


def number(n: int | float) -> str:
    return f"{n:,}" if isinstance(n, int) else f"{n:,.4g}"


def duration(seconds: float) -> str:
    """``45s``, ``12m``, ``3h 05m``, ``2d 4h``: short enough for a field, precise enough to act on."""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    minutes, _ = divmod(s, 60)
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h"


def link(url: str | None, label: str) -> str:
    """A mrkdwn link for an http(s) URL we got from a backend; anything odd is shown as plain text."""
    if not url or len(url) > LINK_URL_MAX or not url.startswith(("https://", "http://")):
        return escape(label)
    if any(c in url for c in "|<> \n\t") or CONTROL.search(url):
        return escape(label)
    return f"<{url.replace('&', '&amp;')}|{escape(label)}>"


def mention(user_id: str | None) -> str:
    """``<@U…>`` for a Slack user id; anything else (``scheduler``, junk) shows as escaped text."""
    if not user_id:
        return "someone"
    if user_id == "scheduler":
        return "ftbot (scheduled)"
    if USER_ID.fullmatch(user_id):
        return f"<@{user_id}>"
    return escape_clip(user_id, 80)


def channel_mention(channel_id: str | None) -> str:
    if channel_id and CHANNEL_ID.fullmatch(channel_id):
        return f"<#{channel_id}>"
    return escape_clip(channel_id or "a channel", 80)


def approver_mention(approver_id: str) -> str:
    """Users as ``<@U…>``, user groups as ``<!subteam^S…>`` (FTBOT_APPROVERS holds both)."""
    if USER_GROUP_ID.fullmatch(approver_id):
        return f"<!subteam^{approver_id}>"
    return mention(approver_id)
