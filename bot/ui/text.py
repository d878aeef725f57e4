"""Text helpers shared by every builder: mrkdwn escaping and clipping."""

from __future__ import annotations


def escape(text: object) -> str:
    """Escape user or model text for mrkdwn, so `<!channel>`, `<@U1>` and `<http://x|y>` show as text."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"


def code(text: object) -> str:
    """Inline code span for an escaped identifier (backticks inside are dropped)."""
    return "`" + escape(str(text).replace("`", "'")) + "`"
