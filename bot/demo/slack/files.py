"""Files: ``files.getUploadURLExternal`` and ``.completeUploadExternal`` (what ``files_upload_v2``
calls), and files a test registers as if a user had uploaded them (``add_file``)."""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

from bot.demo.slack.records import Message
from bot.demo.slack.state import SlackState


class Files(SlackState):
    def add_file(self, content: bytes, name: str = "train.jsonl") -> dict[str, Any]:
        """Register a file as Slack would hold it after a `file_input` upload; returns its file object."""
        with self._lock:
            fid = f"F{next(self._ids):08d}"
            self.files[fid] = content
        return {
            "id": fid,
            "name": name,
            "title": name,
            "filetype": "text",
            "size": len(content),
            "url_private": f"{self.base_url}/files/{fid}/{urllib.parse.quote(name)}",
            "url_private_download": f"{self.base_url}/files/{fid}/download/{urllib.parse.quote(name)}",
        }

    def _answer_files(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        ok: dict[str, Any] = {"ok": True}
        match method:
            case "files.getUploadURLExternal":
                fid = f"F{next(self._ids):08d}"
                self.uploads[fid] = {"filename": body.get("filename"), "length": body.get("length")}
                return ok | {"upload_url": f"{self.base_url}/upload/{fid}", "file_id": fid}
            case "files.completeUploadExternal":
                files = body.get("files")
                files = json.loads(files) if isinstance(files, str) else files or []
                channel, thread_ts = body.get("channel_id"), body.get("thread_ts")
                for f in files:
                    self.uploads.setdefault(f["id"], {})["title"] = f.get("title")
                    if channel:
                        ts = self._next_ts()
                        msg = Message(
                            channel, ts, body.get("initial_comment", ""), [], thread_ts, files=[f["id"]]
                        )
                        self.messages[(channel, ts)] = msg
                return ok | {"files": [{"id": f["id"], "title": f.get("title")} for f in files]}
        raise AssertionError(method)
