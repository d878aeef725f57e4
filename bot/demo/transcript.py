"""Render what the Slack stand-in holds as a person would read it in a channel (for `ftbot demo`)."""

from __future__ import annotations

import html
import re
from typing import Any

from bot.demo.slack import FakeSlack, Message

_USER = re.compile(r"<@([A-Z0-9]+)>")
_GROUP = re.compile(r"<!subteam\^([A-Z0-9]+)(?:\|[^>]*)?>")
_LINK = re.compile(r"<(https?://[^|>]+)\|([^>]+)>")


def plain(text: str, names: dict[str, str]) -> str:
    text = _USER.sub(lambda m: "@" + names.get(m.group(1), m.group(1)), text)
    text = _GROUP.sub(lambda m: "@" + names.get(m.group(1), m.group(1)), text)
    text = _LINK.sub(lambda m: f"{m.group(2)} ({m.group(1)})", text)
    return html.unescape(text)


def blocks_text(blocks: list[dict[str, Any]], names: dict[str, str]) -> list[str]:
    lines: list[str] = []
    for b in blocks:
        kind = b.get("type")
        if kind == "header":
            lines.append(f"== {plain(b['text']['text'], names)} ==")
        elif kind == "section":
            if b.get("text"):
                lines.extend(plain(b["text"]["text"], names).splitlines())
            for f in b.get("fields") or []:
                lines.append("  " + plain(f["text"], names).replace("\n", ": ", 1).replace("\n", " "))
        elif kind == "context":
            parts = [plain(e.get("text", ""), names) for e in b.get("elements", []) if e.get("text")]
            if parts:
                lines.append("  (" + " · ".join(parts) + ")")
        elif kind == "actions":
            labels = [f"[{e['text']['text']}]" for e in b.get("elements", []) if e.get("type") == "button"]
            if labels:
                lines.append("  " + " ".join(labels))
        elif kind == "markdown":  # a streamed reply (chat.startStream … stopStream)
            lines.extend(plain(b.get("text", "").replace("**", "*"), names).splitlines())
        elif kind == "divider":
            lines.append("  ---")
    return lines


def render(message: Message, names: dict[str, str], slack: FakeSlack | None = None) -> str:
    lines = blocks_text(message.blocks, names) or [plain(message.text, names)]
    if message.files and slack is not None:
        for fid in message.files:
            upload = slack.uploads.get(fid, {})
            size = len(upload.get("content", b""))
            lines.append(f"  [file: {upload.get('title') or fid}, {size:,} bytes]")
    return "\n".join(lines)
