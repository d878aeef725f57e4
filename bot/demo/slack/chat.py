"""``chat.*``: post, update and post ephemeral messages, and stream one (``chat.startStream``,
``appendStream``, ``stopStream``) the way Slack shows it: the markdown so far as one ``markdown`` block,
the stop's blocks under it."""

from __future__ import annotations

import json
from typing import Any

from bot.demo.slack.records import Message
from bot.demo.slack.state import SlackState


class Chat(SlackState):
    def _answer_chat(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        match method:
            case "chat.postMessage":
                return self._post_message(body)
            case "chat.update":
                return self._update(body)
            case "chat.postEphemeral":
                self.ephemeral.append(
                    Message(
                        body["channel"],
                        self._next_ts(),
                        body.get("text", ""),
                        self._blocks(body),
                        body.get("thread_ts"),
                        user=body.get("user"),
                    )
                )
                return {"ok": True, "message_ts": self._next_ts()}
        raise AssertionError(method)

    def _post_message(self, body: dict[str, Any]) -> dict[str, Any]:
        channel = body["channel"]
        ts = self._next_ts()
        msg = Message(channel, ts, body.get("text", ""), self._blocks(body), body.get("thread_ts"))
        meta = body.get("metadata")
        msg.metadata = json.loads(meta) if isinstance(meta, str) else meta
        self.messages[(channel, ts)] = msg
        return {"ok": True, "channel": channel, "ts": ts, "message": {"text": msg.text, "ts": ts}}

    def _update(self, body: dict[str, Any]) -> dict[str, Any]:
        key = (body["channel"], body["ts"])
        if key not in self.messages:
            return {"ok": False, "error": "message_not_found"}
        msg = self.messages[key]
        if msg.streaming:
            return {"ok": False, "error": "streaming_state_conflict"}
        msg.text = body.get("text", msg.text)
        msg.blocks = self._blocks(body) or msg.blocks
        msg.edits += 1
        return {"ok": True, "channel": body["channel"], "ts": body["ts"]}

    def _answer_stream(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        channel, added = body["channel"], self._stream_text(body)
        if method == "chat.startStream":
            if not body.get("thread_ts"):
                return {"ok": False, "error": "invalid_arguments"}
            ts = self._next_ts()
            msg = Message(channel, ts, added, [], body["thread_ts"], streaming=True)
            self.messages[(channel, ts)] = msg
        else:
            ts = body.get("ts", "")
            msg = self.messages.get((channel, ts))  # type: ignore[assignment]
            if msg is None:
                return {"ok": False, "error": "message_not_found"}
            if not msg.streaming:
                return {"ok": False, "error": "message_not_in_streaming_state"}
            msg.text += added
            msg.edits += 1
        extra = self._blocks(body) if method == "chat.stopStream" else []
        msg.blocks = [{"type": "markdown", "block_id": "stream", "text": msg.text}, *extra]
        msg.streaming = method != "chat.stopStream"
        live = sum(1 for m in self.messages.values() if m.streaming)
        self.live_streams_peak = max(self.live_streams_peak, live)
        return {"ok": True, "channel": channel, "ts": ts}

    @staticmethod
    def _stream_text(body: dict[str, Any]) -> str:
        text = str(body.get("markdown_text") or "")
        chunks = body.get("chunks") or []
        chunks = json.loads(chunks) if isinstance(chunks, str) else chunks
        return text + "".join(str(c.get("text") or "") for c in chunks if c.get("type") == "markdown_text")
