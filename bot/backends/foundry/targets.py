"""Deploy targets on ``foundry`` (FTBOT_DEPLOY_TARGETS, ``NAME=SUBSCRIPTION/RESOURCE_GROUP/ACCOUNT``):
deployments in another Azure OpenAI (or AIServices) account, in another region or subscription, serving a
model fine-tuned in the training account.

"Deploy a fine-tuned model" (cross-region deployment) creates the deployment in the target account through
Azure Resource Manager with ``properties.model.source`` set to the training account's resource id and the
fine-tuned model's name as the model. Its rules are checked before any deploy call: the credential reaches
both subscriptions (the one it cannot reach is named), and the target account's region is one the model's
fine-tunes deploy to with the chosen SKU (``constants.STANDARD_DEPLOY_REGIONS``, ``ANY_REGION_MODELS``).
Test chat, idle reminders and tear down act in the target: its deployments through its ARM client, chat on
its own endpoint (read from the account) with Entra ID, never the training account's API key.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

from bot.backends.common import TargetRegistry, missing_target, unreachable
from bot.backends.foundry.chat import Chat
from bot.backends.foundry.clients import FoundryConfig
from bot.backends.foundry.constants import (
    ACCOUNT_KINDS,
    ANY_REGION_MODELS,
    DEPLOYMENT_SKUS,
    FINE_TUNE_MARK,
    OPENAI_ENDPOINT_KEY,
    STANDARD_DEPLOY_REGIONS,
    TierWire,
    find,
)
from bot.backends.foundry.deployments import Deployments
from bot.backends.foundry.errors import arm_errors
from commands.errors import BackendAuthError, InvalidInput, NotFound
from commands.models import HOME_TARGET, ChatDelta, ChatReply, ChatRequest, DeployTarget, Endpoint

if TYPE_CHECKING:
    import openai
    from azure.mgmt.cognitiveservices import CognitiveServicesManagementClient
    from azure.mgmt.cognitiveservices.models import Account

#: the role a deploy target's account needs for ARM deployments (Contributor works too)
TARGET_ROLE = "Cognitive Services Contributor on the account, or Contributor"

DataPlaneFor = Callable[[FoundryConfig], "openai.OpenAI"]


def home_target(config: FoundryConfig) -> DeployTarget:
    """The training account as the target named ``home``."""
    return DeployTarget(
        name=HOME_TARGET,
        subscription_id=config.subscription_id,
        resource_group=config.resource_group,
        project=config.account,
    )


def region_of(account: Account) -> str:
    """``westus3`` for ``West US 3`` or ``westus3``: ARM's location as the region lists spell it."""
    return str(account.location or "").replace(" ", "").lower()


def endpoint_of(account: Account) -> str:
    """The account's OpenAI data plane: ``properties.endpoints``' OpenAI entry, else its endpoint when that
    is an OpenAI one, else ``https://<custom subdomain>.openai.azure.com/``."""
    props = account.properties
    endpoints: dict[str, str] = dict(getattr(props, "endpoints", None) or {})
    if endpoints.get(OPENAI_ENDPOINT_KEY):
        return endpoints[OPENAI_ENDPOINT_KEY]
    endpoint = str(getattr(props, "endpoint", None) or "")
    if ".openai." in endpoint:
        return endpoint
    sub = getattr(props, "custom_sub_domain_name", None) or account.name
    return f"https://{sub}.openai.azure.com/"


def read_account(arm: CognitiveServicesManagementClient, target: DeployTarget) -> Account:
    """Read ``target``'s account, each time (a role can be removed at any time): ``PermissionDenied``
    naming the subscription when the credential cannot reach it, ``InvalidInput`` when it is not there or
    serves no Azure OpenAI deployments."""
    try:
        with arm_errors(f"The account of deploy target {target.name}", target.project):
            account = arm.accounts.get(resource_group_name=target.resource_group, account_name=target.project)
    except BackendAuthError:
        raise unreachable(target, "account", TARGET_ROLE) from None
    except NotFound:
        raise missing_target(target, "account") from None
    if account.kind not in ACCOUNT_KINDS:
        raise InvalidInput(
            "Deploy target {target} names account {project} of kind {kind}, which serves no Azure OpenAI "
            "deployments (kinds OpenAI and AIServices do). Check FTBOT_DEPLOY_TARGETS.",
            field="target",
            target=target.name,
            project=target.project,
            kind=str(account.kind),
        )
    return account


def deploy_regions(model: str, sku: TierWire) -> tuple[str, ...] | None:
    """The regions ``model``'s fine-tunes deploy to with ``sku``; None: any Azure OpenAI region. A
    checkpoint's ``ftchkpt-…`` id does not say its base model: the SKU alone decides then."""
    families = ANY_REGION_MODELS.get(sku.name)
    base = model.split(FINE_TUNE_MARK, 1)[0] if FINE_TUNE_MARK in model else None
    if families is not None and (base is None or base.startswith(families)):
        return None
    return STANDARD_DEPLOY_REGIONS


class TargetDeployments:
    """``EndpointOps`` in one deploy target: the target account's ``Deployments`` (models from the
    training account) and ``Chat`` on the target's own endpoint, built at first use from the account."""

    kind = "foundry"

    def __init__(
        self,
        target: DeployTarget,
        arm: CognitiveServicesManagementClient,
        home: FoundryConfig,
        data_plane_for: DataPlaneFor,
    ) -> None:
        self.target = target
        self.arm = arm
        self._home = home
        self._data_plane_for = data_plane_for
        self._lock = threading.Lock()
        self._built: tuple[Deployments, Chat, FoundryConfig] | None = None

    def account(self) -> Account:
        return read_account(self.arm, self.target)

    def config(self) -> FoundryConfig:
        """The target account as a ``FoundryConfig``: its endpoint, Entra ID only (no API key)."""
        return self._parts()[2]

    def _parts(self) -> tuple[Deployments, Chat, FoundryConfig]:
        with self._lock:
            if self._built is None:
                account = self.account()
                config = dataclasses.replace(
                    self._home,
                    endpoint=endpoint_of(account),
                    subscription_id=self.target.subscription_id,
                    resource_group=self.target.resource_group,
                    account=self.target.project,
                    api_key=None,
                )
                data_plane = self._data_plane_for(config)
                chat = Chat(data_plane)
                source = self._home.resource_id
                self._built = (Deployments(self.arm, data_plane, config, chat, source=source), chat, config)
            return self._built

    def check_region(self, model: str, sku: str | None) -> None:
        """``InvalidInput`` naming the allowed regions when the target account's region is not one where
        ``model``'s fine-tunes deploy with ``sku`` (None: the configured default)."""
        region = region_of(self.account())
        tier = find(DEPLOYMENT_SKUS, sku or self._home.deployment_sku)
        if tier is None:
            return  # Deployments refuses an unknown SKU, naming the known ones
        allowed = deploy_regions(model, tier)
        if allowed is None or region in allowed:
            return
        global_sku = find(DEPLOYMENT_SKUS, "GlobalStandard")
        anywhere = global_sku is not None and global_sku != tier and deploy_regions(model, global_sku) is None
        other = ", or the GlobalStandard SKU (any Azure OpenAI region)" if anywhere else ""
        raise InvalidInput(
            f"{{model}} deploys with the {{sku}} SKU only in {', '.join(allowed)}; deploy target {{target}} "
            f"(account {{project}}) is in {{region}}. Choose a target in one of those regions{other}.",
            field="target",
            model=model,
            sku=tier.name,
            target=self.target.name,
            project=self.target.project,
            region=region,
        )

    def deploy_model(self, model: str, endpoint_name: str, *, sku: str | None = None) -> Endpoint:
        self.check_region(model, sku)  # again, with the SKU of this very call, before the PUT
        return self._parts()[0].deploy_model(model, endpoint_name, sku=sku)

    def get_endpoint(self, name: str) -> Endpoint:
        return self._parts()[0].get_endpoint(name)

    def list_endpoints(self) -> list[Endpoint]:
        return self._parts()[0].list_endpoints()

    def chat(self, endpoint_name: str, request: ChatRequest) -> ChatReply:
        return self._parts()[1].chat(endpoint_name, request)

    def chat_stream(self, endpoint_name: str, request: ChatRequest) -> Iterator[ChatDelta]:
        return self._parts()[1].chat_stream(endpoint_name, request)

    def delete_endpoint(self, name: str) -> None:
        self._parts()[0].delete_endpoint(name)


class Targets:
    """``home`` (the training account) and the configured targets, each with its ``TargetDeployments``."""

    def __init__(
        self,
        home_arm: CognitiveServicesManagementClient,
        home: FoundryConfig,
        targets: Sequence[tuple[DeployTarget, CognitiveServicesManagementClient]],
        data_plane_for: DataPlaneFor | None,
    ) -> None:
        """``data_plane_for(config)``: an ``openai.OpenAI`` on a target account's endpoint (Entra ID);
        needed when there are targets."""
        if targets and data_plane_for is None:
            raise ValueError("deploy targets need data_plane_for: a client for each target's endpoint")
        self._home_arm = home_arm
        self.home_target = home_target(home)
        self._registry = TargetRegistry(
            self.home_target,
            [(t, TargetDeployments(t, arm, home, data_plane_for)) for t, arm in targets if data_plane_for],
        )

    def list(self) -> list[DeployTarget]:
        return self._registry.list()

    def at(self, name: str) -> TargetDeployments:
        return self._registry.at(name)

    def check(self, name: str, model: str, sku: str | None = None) -> None:
        """The rules of cross-region deployment: both subscriptions reachable (``PermissionDenied`` naming
        the one that is not), the target's region one where the model deploys with ``sku``
        (``InvalidInput`` naming the allowed regions)."""
        where = self.at(name)
        read_account(self._home_arm, self.home_target)
        where.check_region(model, sku)  # reads the target's account: reachable, then its region
