"""Bring datasets onto local disk for validation and submission: Slack uploads, URLs, or a dataset
uploaded before. Each lands in ``FTBOT_DATA_DIR/datasets/<id>/<name>``; ``id`` is reused as
"a dataset uploaded before" in the wizard."""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bot.datasets.fetcher import Downloader
from bot.datasets.names import safe_filename
from commands.errors import InvalidInput
from commands.lifecycle import LocalData

_ID = re.compile(r"^[a-f0-9]{12}$")


class Intake:
    def __init__(self, downloader: Downloader, root: Path) -> None:
        self.downloader = downloader
        self.root = root

    def _slot(self, name: str) -> Path:
        folder = self.root / secrets.token_hex(6)
        folder.mkdir(parents=True, exist_ok=True)
        return folder / safe_filename(name)

    def from_url(self, url: str, *, field: str | None = None) -> LocalData:
        dest = self._slot(url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1] or "dataset.jsonl")
        result = self.downloader.download(url, dest, field=field)
        return LocalData(path=result.path, name=result.filename)

    def from_slack_file(self, file: Mapping[str, Any], *, field: str | None = None) -> LocalData:
        dest = self._slot(str(file.get("name") or "dataset.jsonl"))
        result = self.downloader.download_slack_file(file, dest, field=field)
        return LocalData(path=result.path, name=result.filename)

    def existing(self, dataset_id: str, *, field: str | None = None) -> LocalData:
        folder = self.root / dataset_id
        files = sorted(folder.glob("*.jsonl")) if _ID.match(dataset_id) and folder.is_dir() else []
        if not files:
            raise InvalidInput("That dataset is no longer available; upload it again.", field=field)
        return LocalData(path=files[0], name=files[0].name)

    def from_local_file(self, path: Path) -> LocalData:
        """A file already on this machine (the CLI and the demo)."""
        dest = self._slot(path.name)
        dest.write_bytes(path.read_bytes())
        return LocalData(path=dest, name=path.name)

    def recent(self, limit: int = 100) -> list[tuple[str, str]]:
        """(id, label) of datasets already here, newest first."""
        if not self.root.is_dir():
            return []
        folders = [f for f in self.root.iterdir() if f.is_dir() and _ID.match(f.name)]
        folders.sort(key=lambda f: f.stat().st_mtime, reverse=True)
        out = []
        for folder in folders[:limit]:
            files = sorted(folder.glob("*.jsonl"))
            if files:
                out.append((folder.name, files[0].name[:60]))
        return out
