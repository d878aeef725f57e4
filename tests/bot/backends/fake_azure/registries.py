"""Model registries (``azureml``, ``azureml-meta``, ...) and the base models in them."""

from __future__ import annotations

import re

from tests.bot.backends.fake_azure.state import ServiceState
from tests.bot.backends.fake_azure.wire import (
    MGMT_PREFIX,
    FakeNotFound,
    Recorded,
    Reply,
    now,
)


class RegistryRoutes(ServiceState):
    """The registry host's ``models`` routes; ``add_registry_model`` fills them."""

    def add_registry_model(
        self, registry: str, name: str, version: str = "1", *, tags: dict[str, str] | None = None
    ) -> str:
        asset_id = f"azureml://registries/{registry}/models/{name}/versions/{version}"
        body = {
            "id": asset_id,
            "name": version,
            "properties": {
                "flavors": {},
                "tags": dict(tags or {}),
                "properties": {},
                "description": f"{name} from {registry}",
                "modelUri": f"azureml://registries/{registry}/models/{name}/versions/{version}/files",
            },
            "systemData": {"createdAt": now()},
        }
        self.registries.setdefault(registry, {}).setdefault(name, []).append(body)
        return asset_id

    def _registry(self, r: Recorded) -> Reply:
        mt = re.fullmatch(
            MGMT_PREFIX + r"/subscriptions/[^/]+/resourceGroups/[^/]+/providers/"
            r"Microsoft\.MachineLearningServices/registries/([^/]+)/models"
            r"(?:/([^/]+))?(?:/versions(?:/([^/]+))?)?",
            r.path,
        )
        if not mt:
            raise FakeNotFound(f"no registry route for {r.path}")
        registry, name, version = mt.groups()
        models = self.registries.get(registry, {})
        if name is None:
            return Reply(
                200,
                {
                    "value": [
                        {
                            "id": f"azureml://registries/{registry}/models/{n}",
                            "name": n,
                            "properties": {"latestVersion": vs[-1]["name"], "tags": {}},
                        }
                        for n, vs in models.items()
                    ]
                },
            )
        if name not in models:
            raise FakeNotFound(f"Model {name} not found in registry {registry}")
        if version is None:
            versions = list(reversed(models[name]))
            top = int(r.query.get("$top", len(versions)))
            return Reply(200, {"value": versions[:top]})
        for v in models[name]:
            if v["name"] == version:
                return Reply(200, v)
        raise FakeNotFound(f"Model {name}:{version} not found in registry {registry}")
