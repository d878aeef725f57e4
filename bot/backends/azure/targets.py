"""Deploy targets on ``azure`` (FTBOT_DEPLOY_TARGETS): serverless endpoints in another Foundry project,
in another region or subscription, serving a model of the training project.

Microsoft's "Fine-tune models using serverless API deployments in Azure AI Foundry" deploys across regions
and subscriptions with an ``MLClient`` for the target workspace and the model id of the source project
(``azureml://locations/{region}/workspaces/{guid}/models/{name}/versions/{v}``). Its rules are checked
before any deploy call: the credential reaches both subscriptions, and the target's region is one of the
base model's ``maas-finetuning-deploy-regions``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from azure.ai.ml import MLClient

from bot.backends.azure.endpoints import Endpoints, ServesEndpoints
from bot.backends.azure.errors import azure_errors
from bot.backends.azure.project import FoundryProject
from bot.backends.common import TargetRegistry, missing_target, unreachable
from commands.errors import BackendAuthError, NotFound
from commands.models import HOME_TARGET, DeployTarget


def home_target(workspace: MLClient) -> DeployTarget:
    """The training project as the target named ``home``."""
    return DeployTarget(
        name=HOME_TARGET,
        subscription_id=str(workspace.subscription_id),
        resource_group=str(workspace.resource_group_name),
        project=str(workspace.workspace_name),
    )


class TargetEndpoints(ServesEndpoints):
    """``EndpointOps`` in one deploy target: the training project's ``Endpoints`` pointed at the target's
    workspace for everything but the model itself."""

    def __init__(self, target: DeployTarget, project: FoundryProject, endpoints: Endpoints) -> None:
        self.target = target
        self.project = project  # the target's workspace
        self.endpoints = endpoints


class Targets:
    """``home`` and the configured targets, each with its endpoint operations (built once)."""

    def __init__(
        self,
        home: FoundryProject,
        targets: Sequence[tuple[DeployTarget, MLClient]],
        endpoints_in: Callable[[FoundryProject, str], Endpoints],
    ) -> None:
        """``endpoints_in(project, where)``: the training project's ``Endpoints`` serving from ``project``."""
        self.home = home
        self.home_target = home_target(home.ws)
        built: list[tuple[DeployTarget, TargetEndpoints]] = []
        for target, client in targets:
            project = FoundryProject(client)
            where = f"the deploy target {target.name} ({target.path})"
            built.append((target, TargetEndpoints(target, project, endpoints_in(project, where))))
        self._registry = TargetRegistry(self.home_target, built)

    def list(self) -> list[DeployTarget]:
        return self._registry.list()

    def at(self, name: str) -> TargetEndpoints:
        return self._registry.at(name)

    def check(self, name: str, model: str) -> None:
        """The article's rules: both subscriptions reachable (``PermissionDenied`` naming the one that is
        not), the target's region among the model's deploy regions (``InvalidInput`` naming them)."""
        where = self.at(name)
        reach(self.home, self.home_target)
        reach(where.project, where.target)
        where.endpoints.check_region(model)


def reach(project: FoundryProject, target: DeployTarget) -> None:
    """Read the target's workspace, each time (a role can be removed at any time): that the credential
    can is what a deploy there needs first. Its region is then known (``FoundryProject.workspace``)."""
    try:
        with azure_errors(f"The project {target.project} of deploy target {target.name}"):
            project.ws.workspaces.get(project.ws.workspace_name)
        project.workspace()
    except BackendAuthError:
        raise unreachable(target, "project", "Contributor on the resource group") from None
    except NotFound:
        raise missing_target(target, "project") from None
