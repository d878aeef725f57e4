"""The official Azure management clients a doctor run uses, all on AZURE_RESOURCE_MANAGER_ENDPOINT with
its token scope, azure-core's retry policy (one retry: a doctor answers in seconds) and whatever the probe
adds (tests: an in-process ``transport``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.doctor.probe import Probe

if TYPE_CHECKING:
    from azure.ai.ml import MLClient
    from azure.mgmt.authorization import AuthorizationManagementClient
    from azure.mgmt.cognitiveservices import CognitiveServicesManagementClient
    from azure.mgmt.resource.resources import ResourceManagementClient
    from azure.mgmt.resource.subscriptions import SubscriptionClient


def arm_scope(probe: Probe) -> str:
    assert probe.settings is not None
    return probe.settings.azure_resource_manager_endpoint.rstrip("/") + "/.default"


def _options(probe: Probe) -> dict[str, Any]:
    assert probe.settings is not None
    return {
        "base_url": probe.settings.azure_resource_manager_endpoint,
        "credential_scopes": [arm_scope(probe)],
        "retry_total": 1,
        **probe.azure_options,
    }


def _scope(probe: Probe) -> tuple[Any, str]:
    assert probe.credential is not None and probe.settings is not None
    return probe.credential, str(probe.settings.azure_subscription_id)


def subscriptions(probe: Probe) -> SubscriptionClient:
    from azure.mgmt.resource.subscriptions import SubscriptionClient

    assert probe.credential is not None
    return SubscriptionClient(probe.credential, **_options(probe))


def resources(probe: Probe) -> ResourceManagementClient:
    from azure.mgmt.resource.resources import ResourceManagementClient

    return ResourceManagementClient(*_scope(probe), **_options(probe))


def authorization(probe: Probe) -> AuthorizationManagementClient:
    from azure.mgmt.authorization import AuthorizationManagementClient

    return AuthorizationManagementClient(*_scope(probe), **_options(probe))


def cognitive(probe: Probe) -> CognitiveServicesManagementClient:
    from azure.mgmt.cognitiveservices import CognitiveServicesManagementClient

    return CognitiveServicesManagementClient(*_scope(probe), **_options(probe))


def workspace(probe: Probe) -> MLClient:
    """azure-ai-ml's client for the project (AZURE_AI_PROJECT), as the azure backend builds it."""
    from azure.ai.ml import MLClient

    from bot.backends.azure.project import client_options

    assert probe.settings is not None
    credential, subscription = _scope(probe)
    return MLClient(
        credential,
        subscription_id=subscription,
        resource_group_name=probe.settings.azure_resource_group,
        workspace_name=probe.settings.azure_ai_project,
        **client_options(**{"retry_total": 1, **probe.azure_options}),
    )


def registry(probe: Probe, name: str) -> MLClient:
    """azure-ai-ml's client for a model registry (its constructor asks the registry discovery service)."""
    from azure.ai.ml import MLClient

    from bot.backends.azure.project import client_options

    assert probe.credential is not None
    return MLClient(
        probe.credential, registry_name=name, **client_options(**{"retry_total": 1, **probe.azure_options})
    )
