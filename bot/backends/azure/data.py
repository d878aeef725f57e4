"""The project's own data assets, offered as training data: ``uri_file`` JSONL assets (the latest version
of each) through azure-ai-ml's ``MLClient.data`` (``list``, ``get``). A job references one as
``azureml:NAME:VERSION``, which azure-ai-ml resolves to the asset's id without uploading anything.

Its size and bytes come from the blob behind it, read with the datastore's own credentials as azure-ai-ml
reads them for an upload (``get_datastore_info``, ``get_storage_client``): the blob's properties for the
size, the blob itself for the local check. Assets whose file lives elsewhere (a web URL) have no size.
"""

from __future__ import annotations

import itertools
import logging
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from azure.ai.ml.constants import AssetTypes
from azure.core.exceptions import AzureError

from bot.backends.azure.errors import azure_errors
from bot.backends.azure.project import FoundryProject, parse_time
from commands.dataset.service_refs import split_data_asset
from commands.errors import FtbotError, InvalidInput
from commands.models import ServiceDataset

logger = logging.getLogger(__name__)

#: data assets looked at for the wizard's list (one GET each for the latest version's path)
MAX_LISTED = 25
#: how many asset names are read from the project's list before picking the newest
MAX_SCANNED = 500


def _when(entity: Any) -> datetime | None:
    context = getattr(entity, "creation_context", None)
    return parse_time(getattr(context, "last_modified_at", None) or getattr(context, "created_at", None))


def _newest_first(entity: Any) -> float:
    when = _when(entity)
    return -when.timestamp() if when else 0.0


class DataAssets:
    """``list_datasets``, ``get_dataset`` and ``download_dataset`` of the ``azure`` backend."""

    def __init__(self, project: FoundryProject) -> None:
        self._ws = project.ws

    def list_datasets(self) -> list[ServiceDataset]:
        """The latest version of each ``uri_file`` asset whose file is a ``.jsonl``, newest first."""
        with azure_errors("The project's data assets"):
            containers = [
                c
                for c in itertools.islice(self._ws.data.list(), MAX_SCANNED)
                if str(getattr(c, "type", "")) == AssetTypes.URI_FILE and getattr(c, "latest_version", None)
            ]
        containers.sort(key=_newest_first)
        found: list[ServiceDataset] = []
        for container in containers[:MAX_LISTED]:
            with azure_errors(f"The data asset {container.name}"):
                data = self._ws.data.get(container.name, version=str(container.latest_version))
            if str(data.path or "").lower().endswith(".jsonl"):
                found.append(self._dataset(data, size=None))
        return found

    def get_dataset(self, ref: str) -> ServiceDataset:
        """``azureml:NAME:VERSION`` with its size; ``NotFound`` when the project has no such asset,
        ``InvalidInput`` when it is not one file."""
        data = self._data(ref)
        return self._dataset(data, size=self._size(data.path))

    def download_dataset(self, ref: str, dest: Path) -> None:
        data = self._data(ref)
        blob = self._blob(data.path)
        if blob is None:
            raise InvalidInput(
                "ftbot cannot read {asset}: its file is not in one of the project's blob datastores.",
                asset=ref,
            )
        tmp = dest.with_name(f".{dest.name}.part")
        with azure_errors(f"The file of data asset {ref}"), tmp.open("wb") as fh:
            blob.download_blob().readinto(fh)
        os.replace(tmp, dest)

    # ---- helpers -----------------------------------------------------------------------------------
    def _data(self, ref: str) -> Any:
        name, version = split_data_asset(ref)
        with azure_errors(f"The data asset {name}:{version}"):
            data = self._ws.data.get(name, version=version)
        if str(data.type) != AssetTypes.URI_FILE:
            raise InvalidInput(
                "{asset} is a {kind} data asset; ftbot trains on one JSONL file ({expected}).",
                asset=ref,
                kind=str(data.type),
                expected=AssetTypes.URI_FILE,
            )
        return data

    @staticmethod
    def _dataset(data: Any, *, size: int | None) -> ServiceDataset:
        return ServiceDataset(
            ref=f"azureml:{data.name}:{data.version}",
            name=f"{data.name}:{data.version}",
            kind="data_asset",
            size=size,
            created_at=_when(data),
        )

    def _blob(self, path: object) -> Any:
        """The ``BlobClient`` of an ``azureml://…/datastores/NAME/paths/PATH`` file (None for other paths
        and for datastores that are not blob containers)."""
        from azure.ai.ml._artifacts._artifact_utilities import get_datastore_info
        from azure.ai.ml._artifacts._blob_storage_helper import BlobStorageClient
        from azure.ai.ml._utils._storage_utils import AzureMLDatastorePathUri, get_storage_client

        uri = str(path or "")
        if not uri.startswith("azureml://") or "/datastores/" not in uri:
            return None
        parsed = AzureMLDatastorePathUri(uri)
        with azure_errors(f"The datastore {parsed.datastore}"):
            info = get_datastore_info(self._ws.datastores, parsed.datastore)
            storage = get_storage_client(**info)
        if not isinstance(storage, BlobStorageClient):
            return None
        return storage.container_client.get_blob_client(parsed.path)

    def _size(self, path: object) -> int | None:
        """The file's size in bytes, from its blob's properties; None when it cannot be read."""
        try:
            blob = self._blob(path)
            return int(blob.get_blob_properties().size) if blob is not None else None
        except (AzureError, FtbotError) as e:
            logger.info("no size for a data asset's file (%s)", type(e).__name__)
            return None
