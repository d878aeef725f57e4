"""Bring datasets onto local disk for validation and submission: Slack uploads, URLs, or a dataset
uploaded before. Each lands in ``FTBOT_DATA_DIR/datasets/<id>/<name>``; ``id`` is reused as
"a dataset uploaded before" in the wizard.

A dataset the backend's service keeps (an Azure data asset, an Azure OpenAI file: ``ServiceDatasets``) is
referenced by its id and never uploaded again; it is downloaded, only to be checked here, when its size is
within the same limit as a URL's (``Downloader.max_bytes``)."""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bot.datasets.fetcher import Downloader
from bot.datasets.names import human_bytes, safe_filename
from commands.dataset.service_refs import require_backend, service_ref_backend
from commands.errors import InvalidInput, NotFound
from commands.lifecycle import Data, LocalData, ServiceData
from commands.ports import FineTuningBackend, ServiceDatasets

_ID = re.compile(r"^[a-f0-9]{12}$")
#: where local copies of service datasets go (not offered as uploads: the service's own entry is)
SERVICE_COPIES = "service"


class Intake:
    def __init__(self, downloader: Downloader, root: Path) -> None:
        self.downloader = downloader
        self.root = root

    def _slot(self, name: str, *, under: Path | None = None) -> Path:
        folder = (under or self.root) / secrets.token_hex(6)
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

    def from_reference(self, backend: FineTuningBackend, value: str, *, field: str | None = None) -> Data:
        """``--data``'s value: a service dataset's id (``azureml:NAME:VERSION``, ``file-…``) or a URL."""
        if service_ref_backend(value) is not None:
            return self.from_service(backend, value, field=field)
        return self.from_url(value, field=field)

    def from_service(self, backend: FineTuningBackend, ref: str, *, field: str | None = None) -> ServiceData:
        """A dataset ``backend``'s service keeps, by its id: downloaded for the check when its size is known
        and within the limit; otherwise referenced unread, with the reason. ``InvalidInput`` for an id of
        another backend's form or one the service does not know."""
        require_backend(ref, backend.kind, field=field)
        if not isinstance(backend, ServiceDatasets):
            raise InvalidInput(
                "The {backend} backend keeps no datasets of its own; give a URL or upload the file.",
                field=field,
                backend=backend.kind,
            )
        try:
            info = backend.get_dataset(ref)
        except NotFound as e:
            raise InvalidInput(e.template, field=field, **e.names) from e
        limit = self.downloader.max_bytes
        if info.size is None:
            return ServiceData(ref=ref, name=info.name, not_checked="the service did not say how large it is")
        if info.size > limit:
            return ServiceData(
                ref=ref,
                name=info.name,
                not_checked=f"it is {human_bytes(info.size)}, over the {human_bytes(limit)} download limit",
            )
        dest = self._slot(_local_name(info.name), under=self.root / SERVICE_COPIES)
        backend.download_dataset(ref, dest)
        return ServiceData(ref=ref, name=info.name, path=dest)

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


def _local_name(name: str) -> str:
    """A service dataset's name as a local file name ending in ``.jsonl``."""
    stem = name.replace(":", "-")
    return stem if stem.lower().endswith(".jsonl") else f"{stem}.jsonl"
