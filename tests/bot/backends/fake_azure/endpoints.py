"""Serverless endpoints, their long-running operations, and marketplace subscriptions."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from tests.bot.backends.fake_azure.state import ServiceState
from tests.bot.backends.fake_azure.wire import (
    ARM,
    WS_PATH,
    FakeNotFound,
    Recorded,
    Reply,
    now,
)


class EndpointRoutes(ServiceState):
    """``/serverlessEndpoints`` (with ``listKeys``), ``/fake-operations`` and
    ``/marketplaceSubscriptions``."""

    def _endpoints(self, r: Recorded, rest: list[str]) -> Reply:
        if not rest:
            return Reply(200, {"value": list(self.endpoints.values())})
        name = rest[0]
        if len(rest) == 2 and rest[1] == "listKeys":
            if name not in self.endpoints:
                raise FakeNotFound(f"Serverless endpoint {name} not found")
            return Reply(200, self.endpoint_keys[name])
        if r.method == "GET":
            if name not in self.endpoints:
                raise FakeNotFound(f"Serverless endpoint {name} not found")
            return Reply(200, self.endpoints[name])
        if r.method == "PUT":
            model_id = r.body["properties"]["modelSettings"]["modelId"]
            body = {
                "id": f"{WS_PATH}/serverlessEndpoints/{name}",
                "name": name,
                "type": "Microsoft.MachineLearningServices/workspaces/serverlessEndpoints",
                "location": r.body.get("location", self.location),
                "tags": r.body.get("tags") or {},
                "sku": r.body.get("sku"),
                "properties": {
                    "authMode": "Key",
                    "modelSettings": {"modelId": model_id},
                    "provisioningState": "Creating",
                    "endpointState": "Creating",
                    "inferenceEndpoint": {
                        "uri": f"https://{name}.{self.location}.models.ai.azure.com",
                        "headers": {},
                    },
                },
                "systemData": {"createdAt": now()},
            }
            self.endpoints[name] = body
            self.endpoint_keys[name] = {
                "primaryKey": f"pk-{uuid.uuid4().hex}",
                "secondaryKey": f"sk-{uuid.uuid4().hex}",
            }
            op = self._new_operation(lambda: self._finish_endpoint(name))
            return Reply(201, body, {"Azure-AsyncOperation": op})
        if r.method == "DELETE":
            if name not in self.endpoints:
                return Reply(204)
            self.endpoints[name]["properties"]["provisioningState"] = "Deleting"
            op = self._new_operation(lambda: self.endpoints.pop(name, None))
            return Reply(202, None, {"Location": op})
        raise FakeNotFound(f"no route for {r.method} {r.path}")

    def _finish_endpoint(self, name: str) -> None:
        ep = self.endpoints.get(name)
        if ep:
            ep["properties"]["provisioningState"] = "Succeeded"
            ep["properties"]["endpointState"] = "Online"

    def _new_operation(self, on_done: Callable[[], object]) -> str:
        op_id = f"op-{next(self._ids)}"
        self._operations[op_id] = {"left": self.lro_polls, "on_done": on_done}
        return f"https://{ARM}/fake-operations/{op_id}?api-version=2024-01-01-preview"

    def _operation_status(self, op_id: str) -> Reply:
        op = self._operations.get(op_id)
        if op is None:
            raise FakeNotFound(f"operation {op_id}")
        if op["left"] > 0:
            op["left"] -= 1
            return Reply(202, {"status": "InProgress"}, {"Retry-After": "0"})
        if op["on_done"] is not None:
            op["on_done"]()
            op["on_done"] = None
        return Reply(200, {"status": "Succeeded"})

    # ---- marketplace subscriptions -------------------------------------------------------------------------
    def _subscription_body(self, name: str, model_id: str) -> dict[str, Any]:
        return {
            "id": f"{WS_PATH}/marketplaceSubscriptions/{name}",
            "name": name,
            "type": "Microsoft.MachineLearningServices/workspaces/marketplaceSubscriptions",
            "properties": {
                "modelId": model_id,
                "marketplacePlan": {"publisherId": "metagenai", "offerId": "meta-llama", "planId": "ft"},
                "marketplaceSubscriptionStatus": "Subscribed",
                "provisioningState": "Succeeded",
            },
            "systemData": {"createdAt": now()},
        }

    def _subscriptions(self, r: Recorded, rest: list[str]) -> Reply:
        name = rest[0] if rest else ""
        if r.method == "GET":
            if not name:
                return Reply(200, {"value": list(self.subscriptions.values())})
            if name not in self.subscriptions:
                raise FakeNotFound(f"Marketplace subscription {name} not found")
            return Reply(200, self.subscriptions[name])
        if r.method == "PUT":
            body = self._subscription_body(name, r.body["properties"]["modelId"])
            self.subscriptions[name] = body
            return Reply(200, body)
        raise FakeNotFound(f"no route for {r.method} {r.path}")
