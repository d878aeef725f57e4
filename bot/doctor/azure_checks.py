"""Checks 2-5 against Azure Resource Manager, through the official management clients: the credential,
the subscription and its resource providers, the project (``azure``) or resource (``foundry``), and what
the identity may do in the resource group.

Prerequisites as Microsoft's "Fine-tune models using serverless API deployments in Azure AI Foundry" lists
them: a paid subscription, ``Microsoft.Network`` registered, a hub-based project, Owner or Contributor."""

from __future__ import annotations

import fnmatch
from typing import Any

from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ResourceNotFoundError

from bot.doctor import arm
from bot.doctor.probe import Probe
from commands.doctor import Check, failed, passed

#: the data plane's Entra ID scope of the foundry backend (``{endpoint}/openai/v1``)
FOUNDRY_DATA_SCOPE = "https://cognitiveservices.azure.com/.default"
PROVIDERS = {
    "azure": ("Microsoft.Network", "Microsoft.MachineLearningServices"),
    "foundry": ("Microsoft.Network", "Microsoft.CognitiveServices"),
}
#: subscription offers that cannot buy serverless fine-tuning ("Free or trial Azure subscriptions won't work")
UNPAID_OFFERS = ("freetrial", "azurepass")
WORKSPACE_API = "2024-10-01"
FOUNDRY_KINDS = ("AIServices", "OpenAI")
#: what ftbot does in the resource group, as ARM actions (Contributor and Owner hold all of them)
WRITES = {
    "azure": (
        "Microsoft.MachineLearningServices/workspaces/jobs/write",
        "Microsoft.MachineLearningServices/workspaces/serverlessEndpoints/write",
        "Microsoft.MachineLearningServices/workspaces/serverlessEndpoints/listKeys/action",
    ),
    "foundry": ("Microsoft.CognitiveServices/accounts/deployments/write",),
}
#: the data plane's fine-tuning, when it is reached with Entra ID (Cognitive Services OpenAI Contributor)
FOUNDRY_DATA_ACTIONS = ("Microsoft.CognitiveServices/accounts/OpenAI/fine-tunes/write",)
SIGN_IN_FIX = (
    "Sign in where ftbot runs: `az login` on a laptop; a managed identity in a container; or "
    "AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_CLIENT_SECRET for a service principal."
)


def _first_line(error: BaseException, probe: Probe, limit: int = 240) -> str:
    text = getattr(error, "message", None) or str(error) or type(error).__name__
    line = next((ln.strip() for ln in str(text).splitlines() if ln.strip()), type(error).__name__)
    line = probe.redact(line)
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _code(error: HttpResponseError) -> str:
    inner = getattr(error, "error", None)
    return str(getattr(inner, "code", None) or error.status_code or type(error).__name__)


def check_credential(probe: Probe) -> Check:
    assert probe.settings is not None
    s = probe.settings
    scopes = [arm.arm_scope(probe)]
    key = s.backend == "foundry" and s.azure_openai_api_key is not None
    if s.backend == "foundry" and not key:
        scopes.append(FOUNDRY_DATA_SCOPE)
    credential = probe.credential_factory()
    for scope in scopes:
        try:
            credential.get_token(scope)
        except ClientAuthenticationError as e:
            return failed(
                "credential",
                f"no credential in DefaultAzureCredential's chain gave a token for {scope}: "
                + _first_line(e, probe),
                SIGN_IN_FIX,
            )
    answered = getattr(credential, "_successful_credential", None) or credential
    probe.credential = credential
    planes = "Azure Resource Manager" + (
        "; the data plane uses AZURE_OPENAI_API_KEY"
        if key
        else " and the data plane"
        if len(scopes) > 1
        else ""
    )
    return passed("credential", f"{type(answered).__name__} gave tokens for {planes}")


def check_subscription(probe: Probe) -> Check:
    assert probe.settings is not None
    sub_id = str(probe.settings.azure_subscription_id)
    try:
        sub = arm.subscriptions(probe).subscriptions.get(sub_id)
    except HttpResponseError as e:
        return failed(
            "subscription",
            f"subscription {sub_id} cannot be read ({_code(e)}): "
            "it does not exist or this identity has no role on it",
            "Check AZURE_SUBSCRIPTION_ID (`az account list -o table`) and give the identity a role on it.",
        )
    state = _text(sub.state) or "unknown"
    offer = str(getattr(sub.subscription_policies, "quota_id", "") or "")
    name = sub.display_name or sub_id
    if state.lower() != "enabled":
        return failed(
            "subscription",
            f"subscription {name} is {state}",
            "Re-enable it in the Azure portal (Subscriptions, then Reactivate) or use another one.",
        )
    if offer.lower().startswith(UNPAID_OFFERS):
        return failed(
            "subscription",
            f"subscription {name} is a {offer.split('_')[0]} offer: serverless fine-tuning needs a paid one",
            "Upgrade it to pay-as-you-go in the Azure portal, or use a paid subscription.",
        )
    return passed("subscription", f"{name} is enabled" + (f" ({offer})" if offer else ""))


def check_providers(probe: Probe) -> Check:
    assert probe.settings is not None and probe.backend is not None
    client = arm.resources(probe)
    states: dict[str, str] = {}
    for namespace in PROVIDERS[probe.backend]:
        try:
            states[namespace] = _text(client.providers.get(namespace).registration_state) or "NotRegistered"
        except ResourceNotFoundError:
            states[namespace] = "NotRegistered"
    missing = [ns for ns, state in states.items() if state.lower() != "registered"]
    if missing:
        sub = probe.settings.azure_subscription_id
        return failed(
            "providers",
            "not registered on the subscription: " + ", ".join(f"{ns} ({states[ns]})" for ns in missing),
            "; ".join(f"az provider register --namespace {ns} --subscription {sub}" for ns in missing),
        )
    return passed("providers", "registered: " + ", ".join(states))


def check_project(probe: Probe) -> Check:
    assert probe.settings is not None
    s = probe.settings
    if s.backend == "azure":
        workspace_id = (
            f"/subscriptions/{s.azure_subscription_id}/resourceGroups/{s.azure_resource_group}"
            f"/providers/Microsoft.MachineLearningServices/workspaces/{s.azure_ai_project}"
        )
        return _hub_project(probe, workspace_id, str(s.azure_resource_group), str(s.azure_ai_project))
    return _foundry_account(probe, str(s.azure_resource_group), str(s.azure_openai_account))


def _hub_project(probe: Probe, workspace_id: str, group: str, name: str) -> Check:
    try:
        ws = arm.resources(probe).resources.get_by_id(workspace_id, api_version=WORKSPACE_API)
    except ResourceNotFoundError:
        return failed(
            "project",
            f"no project {name} in resource group {group}",
            "Check AZURE_RESOURCE_GROUP and AZURE_AI_PROJECT: the project's Overview page in "
            "Azure AI Foundry shows both.",
        )
    kind = _text(ws.kind) or "Default"
    probe.region = _region(ws.location)
    if kind.lower() == "hub":
        return failed(
            "project",
            f"{name} is a hub, not a project (region {probe.region})",
            "Set AZURE_AI_PROJECT to a project created in that hub.",
        )
    if kind.lower() != "project":
        return failed(
            "project",
            f"{name} is an Azure Machine Learning workspace of kind {kind}, not a hub-based project",
            "Create a hub-based project in Azure AI Foundry and set AZURE_AI_PROJECT to it.",
        )
    return passed("project", f"hub-based project {name} in {probe.region}")


def _foundry_account(probe: Probe, group: str, name: str) -> Check:
    try:
        account = arm.cognitive(probe).accounts.get(group, name)
    except ResourceNotFoundError:
        return failed(
            "project",
            f"no resource {name} in resource group {group}",
            "Check AZURE_RESOURCE_GROUP and AZURE_OPENAI_ACCOUNT: the resource's Overview page shows both.",
        )
    probe.region = _region(account.location)
    kind = _text(account.kind) or "unknown"
    if kind not in FOUNDRY_KINDS:
        return failed(
            "project",
            f"{name} is a {kind} resource, not an AIServices (Foundry) or OpenAI resource",
            "Set AZURE_OPENAI_ACCOUNT to a Foundry (AIServices) or Azure OpenAI resource.",
        )
    return passed("project", f"{kind} resource {name} in {probe.region}")


def _text(value: object) -> str:
    """An SDK field as the service wrote it (its enums' value, not ``SubscriptionState.ENABLED``)."""
    return str(getattr(value, "value", value) or "")


def _region(location: object) -> str:
    return str(location or "").lower().replace(" ", "")


def allows(permissions: list[Any], action: str, *, data: bool = False) -> bool:
    """Whether the effective permissions (``Permission`` objects: actions minus not-actions, wildcards
    allowed) grant ``action``."""
    want = action.lower()
    for p in permissions:
        granted = (p.data_actions if data else p.actions) or []
        denied = (p.not_data_actions if data else p.not_actions) or []
        if any(fnmatch.fnmatchcase(want, g.lower()) for g in granted) and not any(
            fnmatch.fnmatchcase(want, d.lower()) for d in denied
        ):
            return True
    return False


def check_role(probe: Probe) -> Check:
    assert probe.settings is not None and probe.backend is not None
    s = probe.settings
    group = str(s.azure_resource_group)
    try:
        permissions = list(arm.authorization(probe).permissions.list_for_resource_group(group))
    except HttpResponseError as e:
        return failed(
            "role",
            f"the permissions on resource group {group} cannot be read ({_code(e)})",
            "Give the identity Contributor (or Owner) on the resource group.",
        )
    probe.permissions = permissions
    missing = [a for a in WRITES[probe.backend] if not allows(permissions, a)]
    missing_data = []
    if s.backend == "foundry" and s.azure_openai_api_key is None:
        missing_data = [a for a in FOUNDRY_DATA_ACTIONS if not allows(permissions, a, data=True)]
    scope = f"/subscriptions/{s.azure_subscription_id}/resourceGroups/{group}"
    if missing:
        return failed(
            "role",
            f"the identity cannot write in resource group {group}: missing {', '.join(missing)}",
            "az role assignment create --assignee <the identity's object id> --role Contributor "
            f"--scope {scope}",
        )
    if missing_data:
        return failed(
            "role",
            "the identity cannot fine-tune through the data plane: missing data action "
            + ", ".join(missing_data),
            "az role assignment create --assignee <the identity's object id> "
            f'--role "Cognitive Services OpenAI Contributor" --scope {scope}',
        )
    return passed("role", f"the identity can write in resource group {group}")
