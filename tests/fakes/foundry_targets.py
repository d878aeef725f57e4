"""A ``foundry`` backend with a deploy target: the training account (``home``, eastus2) and a second Azure
OpenAI account in another subscription and region (``west``, westus3), each a ``FakeFoundry`` with its own
ARM and data plane on the wire. The target's data plane is reached with Entra ID, never the training
account's API key."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from bot.backends.foundry.backend import FoundryBackend
from bot.backends.foundry.clients import FoundryConfig, data_plane_client, management_client
from commands.models import DeployTarget
from tests.bot.backends.fake_azure.wire import FakeCredential
from tests.fakes.foundry import ARM_ENDPOINT, FakeFoundry, make_foundry

TARGET_SUBSCRIPTION = "99999999-8888-7777-6666-555555555555"
TARGET_RESOURCE_GROUP = "rg-ftbot-west"
TARGET_ACCOUNT = "ftbot-west"
TARGET_ENDPOINT = f"https://{TARGET_ACCOUNT}.openai.azure.com"
TARGET_LOCATION = "westus3"
TARGET = DeployTarget(
    name="west",
    subscription_id=TARGET_SUBSCRIPTION,
    resource_group=TARGET_RESOURCE_GROUP,
    project=TARGET_ACCOUNT,
)


@dataclass
class TargetWorld:
    backend: FoundryBackend
    home: FakeFoundry
    target: FakeFoundry
    credential: FakeCredential

    def settle(self) -> None:
        self.home.settle()
        self.target.settle()


def by_host(*fakes: FakeFoundry) -> httpx.MockTransport:
    """One httpx transport for several accounts' data planes, routed by host like DNS would."""
    planes = {httpx.URL(f.endpoint).host: f.openai_transport() for f in fakes}

    def route(request: httpx.Request) -> httpx.Response:
        plane = planes.get(request.url.host)
        if plane is None:
            return httpx.Response(502, json={"error": {"code": "NoSuchHost", "message": request.url.host}})
        return plane.handle_request(request)

    return httpx.MockTransport(route)


def make_target_world(
    *,
    location: str = TARGET_LOCATION,
    deployment_sku: str = "GlobalStandard",
    kind: str = "OpenAI",
    **options: Any,
) -> TargetWorld:
    """``FoundryBackend`` with targets ``home`` and ``west`` (``TARGET``), the target account at
    ``location``; ``deployment_sku`` is the default SKU (the setting); ``options`` go to both fakes
    (``auto_advance=True`` for Slack flows)."""
    home = FakeFoundry(**options)
    target = FakeFoundry(
        subscription=TARGET_SUBSCRIPTION,
        resource_group=TARGET_RESOURCE_GROUP,
        account=TARGET_ACCOUNT,
        endpoint=TARGET_ENDPOINT,
        location=location,
        kind=kind,
        sources={home.account_path: home},
        **options,
    )
    credential = FakeCredential()

    def data_plane_for(config: FoundryConfig) -> Any:
        http = httpx.Client(transport=by_host(home, target))
        return data_plane_client(config, credential, http_client=http, max_retries=0, timeout=5.0)

    config = FoundryConfig(
        endpoint=TARGET_ENDPOINT,
        subscription_id=TARGET_SUBSCRIPTION,
        resource_group=TARGET_RESOURCE_GROUP,
        account=TARGET_ACCOUNT,
        arm_endpoint=ARM_ENDPOINT,
    )
    arm = management_client(
        config,
        credential,
        subscription_id=TARGET_SUBSCRIPTION,
        transport=target.arm_transport(),
        retry_total=1,
        retry_backoff_factor=0.001,
        polling_interval=0.02,
    )
    backend, _, _ = make_foundry(
        home, deployment_sku=deployment_sku, targets=[(TARGET, arm)], data_plane_for=data_plane_for
    )
    return TargetWorld(backend, home, target, credential)
