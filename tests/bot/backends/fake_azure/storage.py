"""The default datastore, data assets and the blob storage behind them, as the SDK uploads a dataset."""

from __future__ import annotations

import json

from tests.bot.backends.fake_azure.state import ServiceState
from tests.bot.backends.fake_azure.wire import (
    CONTAINER,
    RESOURCE_GROUP,
    STORAGE_ACCOUNT,
    SUBSCRIPTION,
    WS_PATH,
    FakeNotFound,
    Recorded,
    Reply,
    now,
)


class StorageRoutes(ServiceState):
    """``/datastores``, ``/data`` and the ``*.blob.core.windows.net`` host."""

    def add_data_asset(
        self,
        name: str,
        version: str,
        content: bytes,
        *,
        data_type: str = "uri_file",
        file: str = "train.jsonl",
    ) -> str:
        """A data asset the project already has (its file in the default blob datastore); returns its
        ``azureml:NAME:VERSION`` id."""
        blob = f"UI/2025-01-01/{name}/{version}/{file}"
        self.blobs[f"/{CONTAINER}/{blob}"] = content
        self.data[(name, version)] = {
            "id": f"{WS_PATH}/data/{name}/versions/{version}",
            "name": version,
            "type": "Microsoft.MachineLearningServices/workspaces/data/versions",
            "properties": {
                "dataType": data_type,
                "dataUri": f"azureml://datastores/workspaceblobstore/paths/{blob}",
                "isAnonymous": False,
                "isArchived": False,
                "properties": {},
                "tags": {},
            },
            "systemData": {"createdAt": now(), "lastModifiedAt": now()},
        }
        return f"azureml:{name}:{version}"

    def _data_containers(self) -> list[dict[str, object]]:
        """``GET …/data``: one container per asset name, with its latest version."""
        names = sorted({n for n, _ in self.data})
        out = []
        for name in names:
            versions = [v for n, v in self.data if n == name]
            latest = max(versions, key=lambda v: (len(v), v))
            body = self.data[(name, latest)]
            out.append(
                {
                    "id": f"{WS_PATH}/data/{name}",
                    "name": name,
                    "type": "Microsoft.MachineLearningServices/workspaces/data",
                    "properties": {
                        "dataType": body["properties"]["dataType"],
                        "latestVersion": latest,
                        "nextVersion": str(len(versions) + 1),
                        "isArchived": False,
                        "properties": {},
                        "tags": {},
                    },
                    "systemData": body.get("systemData", {}),
                }
            )
        return out

    def _datastores(self, r: Recorded, rest: list[str]) -> Reply:
        if rest[0] != "workspaceblobstore":
            raise FakeNotFound(f"Datastore {rest[0]} not found")
        if len(rest) == 2 and rest[1] == "listSecrets":
            return Reply(200, {"secretsType": "Sas", "sasToken": "?sv=2024&sig=FAKE-SAS-SIGNATURE&sp=rcuwdl"})
        return Reply(
            200,
            {
                "id": f"{WS_PATH}/datastores/workspaceblobstore",
                "name": "workspaceblobstore",
                "type": "Microsoft.MachineLearningServices/workspaces/datastores",
                "properties": {
                    "description": None,
                    "tags": None,
                    "properties": None,
                    "isDefault": True,
                    "credentials": {"credentialsType": "AccountKey"},
                    "subscriptionId": SUBSCRIPTION,
                    "resourceGroup": RESOURCE_GROUP,
                    "datastoreType": "AzureBlob",
                    "accountName": STORAGE_ACCOUNT,
                    "containerName": CONTAINER,
                    "endpoint": "core.windows.net",
                    "protocol": "https",
                    "serviceDataAccessAuthIdentity": "WorkspaceSystemAssignedIdentity",
                },
                "systemData": {"createdAt": now(), "lastModifiedAt": now()},
            },
        )

    def _data(self, r: Recorded, rest: list[str]) -> Reply:
        if not rest and r.method == "GET":
            return Reply(200, {"value": self._data_containers()})
        if len(rest) == 3 and rest[1] == "versions":
            key = (rest[0], rest[2])
            if r.method == "PUT":
                body = json.loads(json.dumps(r.body))
                body.update(
                    {
                        "id": f"{WS_PATH}/data/{rest[0]}/versions/{rest[2]}",
                        "name": rest[2],
                        "systemData": {"createdAt": now(), "lastModifiedAt": now()},
                    }
                )
                self.data[key] = body
                return Reply(201, body)
            if key not in self.data:
                raise FakeNotFound(f"Data {rest[0]}:{rest[2]} not found")
            return Reply(200, self.data[key])
        raise FakeNotFound(f"no route for {r.path}")

    def _blob_download(self, key: str, headers: dict[str, str]) -> Reply:
        """A blob's bytes; a ranged read (``x-ms-range``) gets 206 with ``Content-Range``, as Blob
        storage answers the first read of ``download_blob``."""
        if key not in self.blobs:
            return Reply(404, None, {"x-ms-error-code": "BlobNotFound"})
        body = self.blobs[key]
        props = {
            "x-ms-blob-type": "BlockBlob",
            "ETag": '"0x1"',
            "Last-Modified": "Mon, 25 Nov 2024 07:34:33 GMT",
        }
        wanted = next((v for k, v in headers.items() if k.lower() in ("x-ms-range", "range")), None)
        if wanted is None or not body:
            return Reply(200, body, props)
        start, _, end = wanted.removeprefix("bytes=").partition("-")
        first, last = int(start), min(int(end or len(body) - 1), len(body) - 1)
        chunk = body[first : last + 1]
        return Reply(206, chunk, {**props, "Content-Range": f"bytes {first}-{last}/{len(body)}"})

    def _blob(self, r: Recorded) -> Reply:
        key = r.path
        if r.method == "HEAD":
            if key not in self.blobs:
                return Reply(404, None, {"x-ms-error-code": "BlobNotFound"})
            meta = {f"x-ms-meta-{k}": v for k, v in self.blob_metadata.get(key, {}).items()}
            return Reply(
                200,
                None,
                {
                    "Content-Length": str(len(self.blobs[key])),
                    "x-ms-blob-type": "BlockBlob",
                    "ETag": '"0x1"',
                    "Last-Modified": "Mon, 25 Nov 2024 07:34:33 GMT",
                    **meta,
                },
            )
        if r.method == "GET" and not r.query.get("comp"):
            return self._blob_download(key, r.headers)
        if r.method == "PUT" and r.query.get("comp") == "metadata":
            self.blob_metadata[key] = {
                k[len("x-ms-meta-") :]: v for k, v in r.headers.items() if k.lower().startswith("x-ms-meta-")
            }
            return Reply(200, None, {"ETag": '"0x2"', "Last-Modified": "Mon, 25 Nov 2024 07:34:34 GMT"})
        if r.method == "PUT":
            self.blobs[key] = r.body if isinstance(r.body, bytes) else json.dumps(r.body).encode()
            return Reply(
                201,
                None,
                {
                    "ETag": '"0x1"',
                    "Last-Modified": "Mon, 25 Nov 2024 07:34:33 GMT",
                    "Content-MD5": "AAAAAAAAAAAAAAAAAAAAAA==",
                },
            )
        raise FakeNotFound(f"no blob route for {r.method}")
