"""Several fake Foundry projects behind one transport, for deploy targets: ARM requests under a
workspace's path go to that workspace's ``FakeAzureML`` (the path rewritten to the one it serves);
registries, the data plane, blobs and the home project's requests go to ``home``. A subscription in
``unreachable`` answers 403 ``AuthorizationFailed``, as ARM does for a credential without a role there."""

from __future__ import annotations

import itertools
from collections import ChainMap
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from tests.bot.backends.fake_azure.scoring import FakeScoring
from tests.bot.backends.fake_azure.service import FakeAzureML
from tests.bot.backends.fake_azure.wire import ARM, WS_PATH, FakeAzureTransport, Recorded, Reply, error_body


def workspace_path(subscription: str, group: str, project: str) -> str:
    return (
        f"/subscriptions/{subscription}/resourceGroups/{group}"
        f"/providers/Microsoft.MachineLearningServices/workspaces/{project}"
    )


@dataclass
class _Endpoints:
    """What ``FakeScoring`` reads, over every project's endpoints."""

    endpoints: Any = None
    endpoint_keys: Any = None


@dataclass
class FakeAzureCloud:
    home: FakeAzureML
    others: dict[str, FakeAzureML] = field(default_factory=dict)  # workspace path → its fake
    unreachable: set[str] = field(default_factory=set)  # subscription ids the credential cannot reach
    refused: list[Recorded] = field(default_factory=list)

    def add_workspace(self, subscription: str, group: str, project: str, *, location: str) -> FakeAzureML:
        fake = FakeAzureML(location=location)
        fake._ids = itertools.count(1000 * (len(self.others) + 1))  # LRO ids unique across projects
        self.others[workspace_path(subscription, group, project)] = fake
        return fake

    def transport(self) -> FakeAzureTransport:
        return FakeAzureTransport(self)

    def scoring(self) -> FakeScoring:
        fakes = [self.home, *self.others.values()]
        view = _Endpoints(
            endpoints=ChainMap(*(f.endpoints for f in fakes)),
            endpoint_keys=ChainMap(*(f.endpoint_keys for f in fakes)),
        )
        return FakeScoring(view)  # type: ignore[arg-type]

    def handle(self, method: str, url: str, headers: dict[str, str], body: bytes | None) -> Reply:
        parts = urlsplit(url)
        path = parts.path
        if parts.hostname == ARM:
            for sub in self.unreachable:
                if path.startswith(f"/subscriptions/{sub}/") or path == f"/subscriptions/{sub}":
                    self.refused.append(Recorded(method, url, ARM, path, {}, {}, None))
                    message = (
                        "The client 'me' does not have authorization to perform action 'Microsoft."
                        f"MachineLearningServices/workspaces/read' over scope '/subscriptions/{sub}'"
                    )
                    return Reply(403, error_body("AuthorizationFailed", message))
            for prefix, fake in self.others.items():
                if path == prefix or path.startswith(prefix + "/"):
                    return fake.handle(method, url.replace(prefix, WS_PATH, 1), headers, body)
            if path.startswith("/fake-operations/"):
                op = path.rsplit("/", 1)[-1]
                for fake in self.others.values():
                    if op in fake._operations:
                        return fake.handle(method, url, headers, body)
        return self.home.handle(method, url, headers, body)


TARGET_SUBSCRIPTION = "55555555-1111-2222-3333-444444444444"
TARGET_GROUP = "rg-ftbot-west"
TARGET_PROJECT = "ftbot-west"


@dataclass
class TargetWorld:
    cloud: FakeAzureCloud
    target: FakeAzureML  # the project in TARGET_SUBSCRIPTION
    backend: Any  # AzureBackend
    scoring: FakeScoring

    @property
    def home(self) -> FakeAzureML:
        return self.cloud.home


def make_target_world(
    monkeypatch: Any,
    *,
    regions: str = "eastus2, westus3",
    target_location: str = "westus3",
    name: str = "west",
    **backend_kwargs: Any,
) -> TargetWorld:
    """The home project (eastus2) and one deploy target ``name`` in another subscription and region;
    both registry models' fine-tunes deploy to ``regions``."""
    from azure.ai.ml import MLClient

    from bot.backends.azure.backend import AzureBackend
    from bot.backends.azure.catalogue import DEPLOY_REGIONS_TAG
    from bot.backends.azure.project import client_options
    from commands.models import DeployTarget
    from tests.bot.backends.fake_azure.wire import RESOURCE_GROUP, SUBSCRIPTION, WORKSPACE, FakeCredential
    from tests.bot.backends.fake_azure.world import META, PHI, patch_sdk

    home = FakeAzureML()
    for registry, model, version in (("azureml", PHI, "3"), ("azureml-meta", META, "4")):
        home.add_registry_model(
            registry, model, version, tags={DEPLOY_REGIONS_TAG: regions, "task": "chat-completion"}
        )
    cloud = FakeAzureCloud(home)
    target = cloud.add_workspace(TARGET_SUBSCRIPTION, TARGET_GROUP, TARGET_PROJECT, location=target_location)
    transport = cloud.transport()
    patch_sdk(monkeypatch, transport)
    credential = FakeCredential()
    options = client_options(retry_total=0, polling_interval=0, transport=transport)
    workspace = MLClient(credential, SUBSCRIPTION, RESOURCE_GROUP, WORKSPACE, **options)
    there = MLClient(credential, TARGET_SUBSCRIPTION, TARGET_GROUP, TARGET_PROJECT, **options)
    scoring = cloud.scoring()
    backend_kwargs.setdefault("models", [f"azureml/{PHI}", f"azureml-meta/{META}"])
    backend_kwargs.setdefault("metrics_reader", lambda job: [])
    spec = DeployTarget(
        name=name, subscription_id=TARGET_SUBSCRIPTION, resource_group=TARGET_GROUP, project=TARGET_PROJECT
    )
    backend = AzureBackend(
        workspace,
        registry_factory=lambda registry: MLClient(credential, registry_name=registry, **options),
        http_client=scoring.client(),
        targets=[(spec, there)],
        **backend_kwargs,
    )
    return TargetWorld(cloud, target, backend, scoring)
