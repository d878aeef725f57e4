"""Training and validation data as files with purpose ``fine-tune``: uploaded once per content (the name
carries its hash, so a retried upload finds the first), then waited on until the service has processed
them. A file the service rejects becomes ``InvalidInput`` naming the file and the service's reason.

Files already uploaded with that purpose are offered as training data too (``list_datasets``): a job
references one by its ``file-…`` id, and it is downloaded (``files.content``) only to be checked here."""

from __future__ import annotations

import hashlib
import logging
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import openai

from bot.backends.foundry.errors import openai_errors, scrub
from commands.dataset.service_refs import SERVICE_FILE
from commands.errors import InvalidInput, NotFound, Unavailable
from commands.models import DatasetRef, ServiceDataset, normalized_model_name

logger = logging.getLogger(__name__)

PURPOSE: Literal["fine-tune"] = "fine-tune"
#: "Prepare your data": JSONL "encoded in UTF-8 and include a byte-order mark (BOM)"
UTF8_BOM = b"\xef\xbb\xbf"
MAX_BYTES = 512 * 1024 * 1024
#: files looked at for the wizard's list
MAX_LISTED = 100


class Files:
    def __init__(self, client: openai.OpenAI, *, poll_s: float = 5.0, max_wait_s: float = 1800.0) -> None:
        self._client = client
        self._poll_s = poll_s
        self._max_wait_s = max_wait_s

    def upload_dataset(self, path: Path, *, name: str) -> DatasetRef:
        path = Path(path)
        if not path.is_file():
            raise InvalidInput("{file}: no such file.", field="data", file=path.name)
        raw = path.read_bytes()
        body = raw[len(UTF8_BOM) :] if raw.startswith(UTF8_BOM) else raw
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as e:
            raise InvalidInput(
                f"{{file}} is not UTF-8 text (byte {e.start}).", field="data", file=path.name
            ) from e
        content = UTF8_BOM + body
        if len(content) >= MAX_BYTES:
            raise InvalidInput("{file} is 512 MB or more; Azure OpenAI takes smaller files.", file=path.name)
        digest = hashlib.sha256(content).hexdigest()[:16]
        filename = f"{normalized_model_name(name)[:60] or 'ftbot-data'}-{digest}.jsonl"
        file_id = self._existing(filename)
        if file_id is None:
            with openai_errors(f"The upload of {path.name}"):
                created = self._client.files.create(
                    file=(filename, content, "application/json"), purpose=PURPOSE
                )
            file_id = created.id
            logger.info("uploaded %s as %s", path.name, file_id)
        self._wait(file_id, path.name)
        return DatasetRef(kind="asset", value=file_id, name=path.name)

    # ---- files already there -----------------------------------------------------------------------
    def list_datasets(self) -> list[ServiceDataset]:
        """Processed ``.jsonl`` files with purpose ``fine-tune``, newest first."""
        found: list[ServiceDataset] = []
        with openai_errors("The list of files"):
            for i, item in enumerate(self._client.files.list(purpose=PURPOSE, order="desc")):
                if i >= MAX_LISTED * 10 or len(found) >= MAX_LISTED:
                    break
                if item.status == "processed" and str(item.filename or "").lower().endswith(".jsonl"):
                    found.append(_dataset(item))
        return sorted(found, key=lambda d: d.created_at or _EPOCH, reverse=True)

    def get_dataset(self, file_id: str) -> ServiceDataset:
        """The file with its size (``bytes``); ``NotFound`` when there is none, ``InvalidInput`` when it is
        not a processed fine-tuning file."""
        if not SERVICE_FILE.match(file_id):
            raise InvalidInput("{file} is not a file id (file-…).", field="data", file=file_id[:120])
        with openai_errors(f"The file {file_id}"):
            try:
                item = self._client.files.retrieve(file_id)
            except openai.NotFoundError as e:
                raise NotFound("There is no file {file} in this Azure OpenAI resource.", file=file_id) from e
        if item.purpose != PURPOSE:
            raise InvalidInput(
                "{file} was uploaded with purpose {purpose}; ftbot trains on files with purpose {wanted}.",
                field="data",
                file=file_id,
                purpose=str(item.purpose),
                wanted=PURPOSE,
            )
        if item.status not in ("processed", "uploaded"):
            raise InvalidInput(
                "{file} is {status} in Azure OpenAI, so it cannot be trained on.",
                field="data",
                file=file_id,
                status=str(item.status),
            )
        return _dataset(item)

    def download_dataset(self, file_id: str, dest: Path) -> None:
        tmp = dest.with_name(f".{dest.name}.part")
        with openai_errors(f"The file {file_id}"):
            self._client.files.content(file_id).write_to_file(tmp)
        os.replace(tmp, dest)

    def _existing(self, filename: str) -> str | None:
        """A file of that name the service kept (processed or still processing), from an earlier try."""
        with openai_errors("The list of files"):
            for i, item in enumerate(self._client.files.list(purpose=PURPOSE)):
                if i >= 1000:
                    break
                if item.filename == filename and item.status not in ("error", "deleted", "deleting"):
                    return item.id
        return None

    def _wait(self, file_id: str, shown: str) -> None:
        with openai_errors(f"The file {shown}"):
            try:
                done = self._client.files.wait_for_processing(
                    file_id, poll_interval=self._poll_s, max_wait_seconds=self._max_wait_s
                )
            except RuntimeError as e:  # the client's own timeout
                raise Unavailable(
                    f"Azure OpenAI is still processing {{file}} after {self._max_wait_s:g} s.", file=shown
                ) from e
        if done.status != "processed":
            reason = scrub(str(getattr(done, "status_details", None) or "").strip()) or "no reason given"
            raise InvalidInput(f"Azure OpenAI rejected {{file}}: {reason}", field="data", file=shown)


_EPOCH = datetime.fromtimestamp(0, UTC)


def _dataset(item: object) -> ServiceDataset:
    size = getattr(item, "bytes", None)
    created = getattr(item, "created_at", None)
    return ServiceDataset(
        ref=str(getattr(item, "id", "")),
        name=str(getattr(item, "filename", "") or getattr(item, "id", "")),
        kind="file",
        size=size if isinstance(size, int) and size >= 0 else None,
        created_at=datetime.fromtimestamp(created, UTC) if isinstance(created, int | float) else None,
    )
