"""ARM ``Microsoft.CognitiveServices/accounts/{account}/deployments`` of the fake resource: PUT answers
201 ``Accepted`` with an ``Azure-AsyncOperation`` to poll, GET and list, DELETE answers 202 and is done
at the first poll of its operation (204 when there is nothing to delete). ``GET accounts/{account}`` reads
the account (its kind, location and endpoints); a PUT whose ``properties.model.source`` names another
fake account (``FakeFoundry.sources``) deploys that account's fine-tunes. An ``unreachable`` fake answers
every ARM call 403 ``AuthorizationFailed``."""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING, Any

from tests.bot.backends.fake_azure.wire import Reply
from tests.fakes.foundry import ARM_ENDPOINT, _err

if TYPE_CHECKING:
    from tests.fakes.foundry import FakeFoundry

API = "2025-09-01"
SKUS = ("Standard", "GlobalStandard", "developertier")


class Arm:
    def __init__(self, fake: FakeFoundry) -> None:
        self.fake = fake

    def handle(self, method: str, path: str, body: Any) -> Reply:
        with self.fake.lock:
            if self.fake.unreachable:
                return _err("AuthorizationFailed", f"No authorization over scope {path}.", 403)
            if "/operationResults/" in path:
                return self._operation(path.rsplit("/", 1)[-1])
            if path.rstrip("/") == self.fake.account_path and method == "GET":
                return Reply(200, self._account())
            if path.rstrip("/") == self.fake.deployments_path and method == "GET":
                return Reply(200, {"value": list(self.fake.deployments.values())})
            match = re.fullmatch(re.escape(self.fake.deployments_path) + r"/([^/]+)", path)
            if match is None:
                return _err("NotFound", f"no route {method} {path}", 404)
            name = match.group(1)
            if method == "PUT":
                return self._put(name, body or {})
            if method == "DELETE":
                return self._delete(name)
            dep = self.fake.deployments.get(name)
            if dep is None:
                return _err("DeploymentNotFound", f"Deployment {name} not found.", 404)
            if self.fake.auto_advance:
                self.fake._advance_deployment(dep)
            return Reply(200, dep)

    def _account(self) -> dict[str, Any]:
        fake = self.fake
        endpoint = fake.endpoint.rstrip("/") + "/"
        return {
            "id": fake.account_path,
            "name": fake.account,
            "type": "Microsoft.CognitiveServices/accounts",
            "kind": fake.kind,
            "location": fake.location,
            "sku": {"name": "S0"},
            "properties": {
                "provisioningState": "Succeeded",
                "customSubDomainName": fake.account,
                "endpoint": endpoint,
                "endpoints": {"OpenAI Language Model Instance API": endpoint},
            },
        }

    def _known_model(self, name: str, source: str | None = None) -> bool:
        if source is not None and source != self.fake.account_path:
            other = self.fake.sources.get(source)
            return other is not None and Arm(other)._known_model(name)
        for job in self.fake.jobs.values():
            model = job.get("fine_tuned_model")
            if model and (name == model or name.startswith(f"{model}:ckpt-step-")):
                return True
            if name.startswith("ftchkpt-") and name[8:16] == job["id"][6:14]:
                return True
        return False

    def _put(self, name: str, body: dict[str, Any]) -> Reply:
        model = (body.get("properties") or {}).get("model") or {}
        sku = body.get("sku") or {}
        if model.get("format") != "OpenAI":
            return _err("InternalServerError", "An internal error occurred.", 500)
        if sku.get("name") not in SKUS:
            return _err(
                "InvalidResourceProperties", f"The specified SKU '{sku.get('name')}' is not supported.", 400
            )
        if not self._known_model(str(model.get("name")), model.get("source")):
            return _err("DeploymentModelNotSupported", f"The model '{model.get('name')}' was not found.", 400)
        if name in self.fake.deployments:
            return _err("Conflict", f"A deployment named {name} already exists.", 409)
        op = self._new_operation(name, "create")
        dep = {
            "id": f"{self.fake.deployments_path}/{name}",
            "name": name,
            "type": "Microsoft.CognitiveServices/accounts/deployments",
            "sku": sku,
            "systemData": {
                "createdAt": self.fake.now(),
                "createdBy": "ftbot",
                "createdByType": "Application",
            },
            "properties": {**body.get("properties", {}), "provisioningState": "Accepted"},
        }
        self.fake.deployments[name] = dep
        return Reply(201, dep, {"Azure-AsyncOperation": op})

    def _delete(self, name: str) -> Reply:
        dep = self.fake.deployments.get(name)
        if dep is None:
            return Reply(204)
        dep["properties"]["provisioningState"] = "Deleting"
        return Reply(202, None, {"Azure-AsyncOperation": self._new_operation(name, "delete")})

    def _new_operation(self, name: str, kind: str) -> str:
        op_id = uuid.uuid4().hex
        self.fake.operations[op_id] = {"name": name, "kind": kind}
        return f"{ARM_ENDPOINT}{self.fake.deployments_path}/{name}/operationResults/{op_id}?api-version={API}"

    def _operation(self, op_id: str) -> Reply:
        op = self.fake.operations.get(op_id)
        if op is None:
            return _err("NotFound", "operation not found", 404)
        dep = self.fake.deployments.get(op["name"])
        if "done" in op:
            status = op["done"]
        elif op["kind"] == "delete":
            self.fake.deployments.pop(op["name"], None)
            status = "Succeeded"
        else:
            status = {"Succeeded": "Succeeded", "Failed": "Failed"}.get(
                dep["properties"]["provisioningState"] if dep else "Failed", "InProgress"
            )
        body: dict[str, Any] = {"id": op_id, "name": op_id, "status": status}
        if status == "Failed":
            reason = self.fake.failing_deployments.get(op["name"], "The deployment failed.")
            body["error"] = {"code": "DeploymentFailed", "message": reason}
        return Reply(200, body)
