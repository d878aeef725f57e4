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
