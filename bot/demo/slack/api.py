"""The Web API as one object: each method routed to its group (``chat``, ``conversations``, ``views``,
``files``, ``auth``), with the test ``controls`` on top; ``server`` answers HTTP with it."""

from __future__ import annotations

from typing import Any

from bot.demo.slack.auth import AUTH_TEST, Auth
from bot.demo.slack.chat import Chat
from bot.demo.slack.controls import Controls
from bot.demo.slack.conversations import Conversations
from bot.demo.slack.files import Files
from bot.demo.slack.views import Views


class WebApi(Chat, Conversations, Views, Files, Auth, Controls):
    """Every Web API method the fake answers, on one workspace's state."""

    def _answer(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        """The answer to a call made with the bot token (the server holds the lock)."""
        refused = self._refusal_for(method)
        if refused is not None:
            return refused
        match method:
            case "auth.test":
                return {"ok": True} | AUTH_TEST
            case "chat.postMessage" | "chat.update" | "chat.postEphemeral":
                return self._answer_chat(method, body)
            case "chat.startStream" | "chat.appendStream" | "chat.stopStream":
                return self._answer_stream(method, body)
            case "views.open" | "views.push" | "views.update" | "views.publish":
                return self._answer_views(method, body)
            case "files.getUploadURLExternal" | "files.completeUploadExternal":
                return self._answer_files(method, body)
            case "usergroups.users.list" | "conversations.history" | "conversations.replies" | "users.info":
                return self._answer_conversations(method, body)
            case _:
                return {"ok": True}

    def _answer_installed(self, token: str, method: str, body: dict[str, Any]) -> dict[str, Any]:
        """A call with an installed workspace's token: ``auth.test`` names that workspace."""
        result = self._answer(method, body)
        if method == "auth.test":
            result |= self.installed[token]["auth"]
        return result
