"""Where the resource is and the two official clients that talk to it: ``openai.OpenAI`` on
``{endpoint}/openai/v1/`` (an API key, or Entra ID through azure-identity's bearer token provider) and
azure-mgmt-cognitiveservices' ``CognitiveServicesManagementClient`` on Azure Resource Manager."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import openai

from bot.backends.foundry.constants import DATA_PLANE_SCOPE, DEFAULT_ARM_ENDPOINT, V1_PATH

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential
    from azure.mgmt.cognitiveservices import CognitiveServicesManagementClient

    from bot.runtime.settings import Settings


@dataclass(frozen=True)
class FoundryConfig:
    """The resource: ``endpoint`` is AZURE_OPENAI_ENDPOINT (a resource's or a Foundry project's)."""

    endpoint: str
    subscription_id: str
    resource_group: str
    account: str
    arm_endpoint: str = DEFAULT_ARM_ENDPOINT
    models: tuple[str, ...] = ()
    training_type: str = "Standard"
    deployment_sku: str = "Standard"
    api_key: str | None = field(default=None, repr=False)

    @property
    def base_url(self) -> str:
        return self.endpoint.rstrip("/") + V1_PATH

    @property
    def resource_id(self) -> str:
        """The account's ARM id: what a deployment in another account names as its model's ``source``."""
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.CognitiveServices/accounts/{self.account}"
        )

    @property
    def arm_scope(self) -> str:
        return self.arm_endpoint.rstrip("/") + "/.default"

    @classmethod
    def from_settings(cls, settings: Settings) -> FoundryConfig:
        """Raises ``ValueError`` naming each missing variable (``serve`` reports them before this)."""
        values = {
            "AZURE_OPENAI_ENDPOINT": settings.azure_openai_endpoint,
            "AZURE_SUBSCRIPTION_ID": settings.azure_subscription_id,
            "AZURE_RESOURCE_GROUP": settings.azure_resource_group,
            "AZURE_OPENAI_ACCOUNT": settings.azure_openai_account,
        }
        missing = [name for name, value in values.items() if not value]
        if missing:
            raise ValueError(f"FTBOT_BACKEND=foundry needs {', '.join(missing)}")
        key = settings.azure_openai_api_key
        return cls(
            endpoint=str(settings.azure_openai_endpoint),
            subscription_id=str(settings.azure_subscription_id),
            resource_group=str(settings.azure_resource_group),
            account=str(settings.azure_openai_account),
            arm_endpoint=settings.azure_resource_manager_endpoint,
            models=tuple(settings.foundry_models),
            training_type=settings.foundry_training_type,
            deployment_sku=settings.foundry_deployment_sku,
            api_key=key.get_secret_value() if key is not None else None,
        )


def data_plane_client(
    config: FoundryConfig, credential: TokenCredential | None, **options: Any
) -> openai.OpenAI:
    """``OpenAI(base_url=…/openai/v1/)`` with the key, or a bearer token provider for the data-plane
    scope (a callable ``api_key``, supported since openai 1.106). ``options``: ``http_client``,
    ``max_retries``, ``timeout`` (tests hand an httpx transport here)."""
    api_key: Any = config.api_key
    if api_key is None:
        from azure.identity import get_bearer_token_provider

        if credential is None:
            raise ValueError("Entra ID needs a credential when AZURE_OPENAI_API_KEY is unset")
        api_key = get_bearer_token_provider(credential, DATA_PLANE_SCOPE)
    options.setdefault("max_retries", 2)
    return openai.OpenAI(base_url=config.base_url, api_key=api_key, **options)


def management_client(
    config: FoundryConfig,
    credential: TokenCredential,
    *,
    subscription_id: str | None = None,
    **options: Any,
) -> CognitiveServicesManagementClient:
    """The ARM client for ``accounts/{account}/deployments``, on AZURE_RESOURCE_MANAGER_ENDPOINT with its
    own token scope (sovereign clouds differ); in ``subscription_id`` for a deploy target's account.
    ``options``: azure-core's (``transport``, ``retry_total``, ``polling_interval``)."""
    from azure.mgmt.cognitiveservices import CognitiveServicesManagementClient

    return CognitiveServicesManagementClient(
        credential,
        subscription_id or config.subscription_id,
        base_url=config.arm_endpoint,
        credential_scopes=[config.arm_scope],
        **options,
    )
