"""Reads of the workspace: ``conversations.history`` and ``.replies`` (with message metadata),
``users.info``, ``usergroups.users.list``."""

from __future__ import annotations

from typing import Any

from bot.demo.slack.state import SlackState


class Conversations(SlackState):
    def _answer_conversations(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        ok: dict[str, Any] = {"ok": True}
        match method:
            case "usergroups.users.list":
                users = self.usergroups.get(body.get("usergroup", ""))
                if users is None:
                    return {"ok": False, "error": "no_such_subteam"}
                return ok | {"users": users}
            case "conversations.history" if body.get("channel") in self.outside_channels:
                return {"ok": False, "error": "not_in_channel"}
            case "conversations.history" | "conversations.replies":
                return ok | {"messages": self._history(body), "has_more": False}
            case "users.info":
                return ok | {"user": {"id": body.get("user"), "name": "someone", "tz": "UTC"}}
        raise AssertionError(method)

    def _history(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        """A channel's top-level messages newest first, or a thread (its parent first) oldest first;
        metadata only with ``include_all_metadata``, files with their names, as Slack answers."""
        channel, ts = body["channel"], body.get("ts")
        if ts is None:
            found = sorted(self.channel_messages(channel), key=lambda m: float(m.ts), reverse=True)
        else:
            found = [m for m in [self.messages.get((channel, ts))] if m] + self.thread(channel, ts)
        with_metadata = str(body.get("include_all_metadata", "")).lower() in ("1", "true")
        return [
            {"ts": m.ts, "text": m.text, "thread_ts": m.thread_ts}
            | ({"metadata": m.metadata} if with_metadata and m.metadata else {})
            | (
                {"files": [{"id": f, "name": self.uploads.get(f, {}).get("filename")} for f in m.files]}
                if m.files
                else {}
            )
            for m in found[: int(body.get("limit") or 100)]
        ]
