"""Azure Resource Manager as the doctor asks it, in process (an azure-core ``transport``): the subscription,
its resource providers, the project (a generic resource), the effective permissions on the resource group,
a Cognitive Services account and its models. Anything else (registries, marketplace subscriptions) goes to
the azure backend's fake service, ``FakeAzureML``."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from azure.core.exceptions import ClientAuthenticationError

from tests.bot.backends.fake_azure.service import FakeAzureML
from tests.bot.backends.fake_azure.wire import (
    ARM,
    LOCATION,
    RESOURCE_GROUP,
    SUBSCRIPTION,
    WS_PATH,
    FakeAzureTransport,
    FakeCredential,
    Reply,
    error_body,
)

ACCOUNT = "ftbot-foundry"
ACCOUNT_PATH = (
    f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}"
    f"/providers/Microsoft.CognitiveServices/accounts/{ACCOUNT}"
)
CONTRIBUTOR = {
    "actions": ["*"],
    "notActions": ["Microsoft.Authorization/*/Write"],
    "dataActions": [],
    "notDataActions": [],
}
READER = {"actions": ["*/read"], "notActions": [], "dataActions": [], "notDataActions": []}
OPENAI_CONTRIBUTOR = {
    "actions": [],
    "notActions": [],
    "dataActions": ["Microsoft.CognitiveServices/accounts/OpenAI/*"],
    "notDataActions": [],
}


@dataclass
class FakeArm:
    """Test controls are plain attributes: change one, and the next request sees it."""

    azure_ml: FakeAzureML = field(default_factory=lambda: FakeAzureML(location=LOCATION))
    subscription_state: str = "Enabled"
    quota_id: str = "PayAsYouGo_2014-09-01"
    subscription_visible: bool = True
    providers: dict[str, str] = field(
        default_factory=lambda: {
            "Microsoft.Network": "Registered",
            "Microsoft.MachineLearningServices": "Registered",
            "Microsoft.CognitiveServices": "Registered",
        }
    )
    workspace_kind: str | None = "Project"  # None: no such workspace
    location: str = LOCATION
    account_kind: str | None = "AIServices"  # None: no such account
    permissions: list[dict[str, Any]] = field(default_factory=lambda: [CONTRIBUTOR])
    account_models: list[dict[str, Any]] = field(
        default_factory=lambda: [
            {
                "name": "gpt-4.1",
                "version": "2025-04-14",
                "format": "OpenAI",
                "capabilities": {"fineTune": "true"},
            },
            {
                "name": "gpt-4o",
                "version": "2024-11-20",
                "format": "OpenAI",
                "capabilities": {"chatCompletion": "true"},
            },
        ]
    )
    requests: list[str] = field(default_factory=list)

    def transport(self) -> FakeAzureTransport:
        return FakeAzureTransport(self)

    def handle(self, method: str, url: str, headers: dict[str, str], body: bytes | None) -> Reply:
        parts = urlsplit(url)
        path = parts.path
        self.requests.append(f"{method} {path}")
        if parts.hostname == ARM and method == "GET":
            reply = self._arm(path)
            if reply is not None:
                return reply
        return self.azure_ml.handle(method, url, headers, body)

    def _arm(self, path: str) -> Reply | None:
        sub = f"/subscriptions/{SUBSCRIPTION}"
        rg = f"{sub}/resourceGroups/{RESOURCE_GROUP}"
        if path.lower() == sub.lower():
            return self._subscription()
        provider = re.fullmatch(re.escape(sub) + r"/providers/([^/]+)", path, re.I)
        if provider:
            ns = provider.group(1)
            state = self.providers.get(ns, "NotRegistered")
            return Reply(200, {"id": f"{sub}/providers/{ns}", "namespace": ns, "registrationState": state})
        if path.lower() == f"{rg}/providers/Microsoft.Authorization/permissions".lower():
            return Reply(200, {"value": self.permissions})
        if path == WS_PATH:
            return self._workspace()
        if path.lower() == ACCOUNT_PATH.lower():
            return self._account()
        if path.lower() == f"{ACCOUNT_PATH}/models".lower():
            return Reply(200, {"value": self.account_models})
        return None

    def _subscription(self) -> Reply:
        if not self.subscription_visible:
            return Reply(
                404,
                error_body("SubscriptionNotFound", f"The subscription '{SUBSCRIPTION}' could not be found."),
            )
        return Reply(
            200,
            {
                "id": f"/subscriptions/{SUBSCRIPTION}",
                "subscriptionId": SUBSCRIPTION,
                "displayName": "ftbot test subscription",
                "state": self.subscription_state,
                "tenantId": "tenant-0000",
                "subscriptionPolicies": {"quotaId": self.quota_id, "spendingLimit": "Off"},
            },
        )

    def _workspace(self) -> Reply:
        if self.workspace_kind is None:
            return Reply(404, error_body("ResourceNotFound", "The Resource was not found."))
        body = self.azure_ml._workspace_body()
        return Reply(200, body | {"kind": self.workspace_kind, "location": self.location})

    def _account(self) -> Reply:
        if self.account_kind is None:
            return Reply(404, error_body("ResourceNotFound", "The Resource was not found."))
        return Reply(
            200,
            {
                "id": ACCOUNT_PATH,
                "name": ACCOUNT,
                "type": "Microsoft.CognitiveServices/accounts",
                "kind": self.account_kind,
                "location": self.location,
                "sku": {"name": "S0"},
                "properties": {
                    "endpoint": f"https://{ACCOUNT}.openai.azure.com/",
                    "provisioningState": "Succeeded",
                },
            },
        )


class RefusingCredential(FakeCredential):
    """A chain in which no credential answers, as ``DefaultAzureCredential`` says it."""

    def get_token(self, *scopes: str, **_: Any) -> Any:
        self.scopes.append(scopes)
        raise ClientAuthenticationError(
            "DefaultAzureCredential failed to retrieve a token from the included credentials.\n"
            "Attempted credentials:\n\tAzureCliCredential: Please run 'az login' to set up an account"
        )


class ChainCredential(FakeCredential):
    """Like ``DefaultAzureCredential``: says which credential in its chain answered."""

    def __init__(self) -> None:
        super().__init__()
        self._successful_credential = AzureCliCredential()


class AzureCliCredential(FakeCredential):
    pass
