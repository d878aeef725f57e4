"""Azure AI Foundry serverless (MaaS) fine-tuning, on azure-ai-ml.

``AzureBackend`` implements ``commands.ports.FineTuningBackend`` with the calls of Microsoft's "Fine-tune
models using serverless API deployments in Azure AI Foundry" and the azure-ai-ml fine-tuning sample. It
composes three parts, one module each:

* ``catalogue.Catalogue``: base models from the registries (cached), marketplace subscriptions;
* ``jobs.Jobs``: dataset upload, submit / get / cancel a fine-tuning job, its MLflow metrics;
* ``endpoints.Endpoints``: serverless endpoints (deploy, get, list, chat, delete) and deleting a model.

It is built from injected ``MLClient`` objects (one for the Foundry project, one per registry), so tests hand
it clients whose azure-core transport is an in-process fake. azure-ai-ml is synchronous and slow: callers run
these methods in worker threads, never on Bolt's ack path. Every SDK error leaves as a ``commands.errors``
type through ``bot.backends.azure.errors``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from azure.ai.ml import MLClient

from bot.backends.azure.catalogue import DEFAULT_MODELS, MICROSOFT_REGISTRY, Catalogue
from bot.backends.azure.data import DataAssets
from bot.backends.azure.endpoints import Endpoints, ServesEndpoints
from bot.backends.azure.jobs import Jobs
from bot.backends.azure.metrics import MetricsReader
from bot.backends.azure.project import FoundryProject, cheap_experimental_check, client_options
from bot.backends.azure.targets import TargetEndpoints, Targets
from bot.backends.common import no_skus
from commands.errors import InvalidInput
from commands.models import (
    BaseModelInfo,
    DatasetRef,
    DeployTarget,
    Job,
    JobSpec,
    ServiceDataset,
    Task,
)

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

    from bot.runtime.settings import Settings


class AzureBackend(ServesEndpoints):
    """``FineTuningBackend`` on Azure AI Foundry. Thread-safe for the bot's worker threads. Endpoint
    operations come from ``ServesEndpoints`` (endpoints.py)."""

    def __init__(
        self,
        workspace: MLClient,
        registries: Mapping[str, MLClient] | None = None,
        *,
        registry_factory: Callable[[str], MLClient] | None = None,
        models: Sequence[str] = DEFAULT_MODELS,
        default_registry: str = MICROSOFT_REGISTRY,
        catalog_ttl_s: float = 3600.0,
        deploy_wait_s: float = 900.0,
        http_client: httpx.Client | None = None,
        metrics_reader: MetricsReader | None = None,
        clock: Callable[[], float] = time.monotonic,
        targets: Sequence[tuple[DeployTarget, MLClient]] = (),
    ) -> None:
        """``workspace`` is the Foundry project's client; ``registries`` maps registry names to registry
        clients (``MLClient(cred, registry_name=...)``); ``registry_factory`` builds a missing one on first
        use (its constructor calls the registry discovery service). ``models`` lists the catalogue as ``name``
        (in ``default_registry``) or ``registry/name``. ``deploy_wait_s``: how long ``deploy_model`` waits for
        the endpoint's LRO before returning it as ``creating``. ``metrics_reader`` reads a job's training
        metrics (default: MLflow through azureml-mlflow, when installed). ``targets``: the deploy targets
        besides the training project (FTBOT_DEPLOY_TARGETS), each with its workspace's client."""
        cheap_experimental_check()
        self.project = FoundryProject(workspace, registries, registry_factory)
        self.catalogue = Catalogue(
            self.project, models=models, default_registry=default_registry, ttl_s=catalog_ttl_s, clock=clock
        )
        self.jobs = Jobs(self.project, self.catalogue, metrics_reader=metrics_reader)
        self.data = DataAssets(self.project)
        http = http_client or httpx.Client(timeout=httpx.Timeout(120.0, connect=10.0))
        self.endpoints = Endpoints(
            self.project, self.catalogue, http_client=http, deploy_wait_s=deploy_wait_s
        )
        self.targets = Targets(
            self.project,
            targets,
            lambda serving, where: Endpoints(
                self.project,
                self.catalogue,
                http_client=http,
                deploy_wait_s=deploy_wait_s,
                serving=serving,
                where=where,
            ),
        )

    @classmethod
    def from_settings(
        cls, settings: Settings, *, credential: TokenCredential | None = None, **client_kwargs: Any
    ) -> AzureBackend:
        """Clients for AZURE_SUBSCRIPTION_ID / AZURE_RESOURCE_GROUP / AZURE_AI_PROJECT with azure-identity's
        ``DefaultAzureCredential`` (managed identity in a container, ``az login`` on a laptop). Registry
        clients are built lazily, the first time a model from that registry is needed."""
        if not (
            settings.azure_subscription_id and settings.azure_resource_group and settings.azure_ai_project
        ):
            raise InvalidInput(
                "The Azure backend needs AZURE_SUBSCRIPTION_ID, AZURE_RESOURCE_GROUP and AZURE_AI_PROJECT."
            )
        if credential is None:
            from azure.identity import DefaultAzureCredential

            credential = DefaultAzureCredential()
        options = client_options(**client_kwargs)
        workspace = MLClient(
            credential,
            subscription_id=settings.azure_subscription_id,
            resource_group_name=settings.azure_resource_group,
            workspace_name=settings.azure_ai_project,
            **options,
        )

        def registry(name: str) -> MLClient:
            return MLClient(credential, registry_name=name, **options)

        extras = [m for m in settings.azure_models if m]
        targets = [
            (
                t,
                MLClient(
                    credential,
                    subscription_id=t.subscription_id,
                    resource_group_name=t.resource_group,
                    workspace_name=t.project,
                    **options,
                ),
            )
            for t in settings.deploy_targets
        ]
        return cls(
            workspace,
            registry_factory=registry,
            models=[*DEFAULT_MODELS, *extras],
            default_registry=settings.azure_registry,
            targets=targets,
        )

    # ---- base models: catalogue.py ---------------------------------------------------------------------
    def list_base_models(self) -> list[BaseModelInfo]:
        return self.catalogue.list_base_models()

    def get_base_model(self, name: str) -> BaseModelInfo:
        return self.catalogue.get_base_model(name)

    # ---- datasets and jobs: jobs.py --------------------------------------------------------------------
    def upload_dataset(self, path: Path, *, name: str, task: Task) -> DatasetRef:
        return self.jobs.upload_dataset(path, name=name, task=task)

    def submit_job(self, spec: JobSpec) -> Job:
        return self.jobs.submit_job(spec)

    def get_job(self, job_id: str) -> Job:
        return self.jobs.get_job(job_id)

    def cancel_job(self, job_id: str) -> Job:
        return self.jobs.cancel_job(job_id)

    # ---- the project's own data assets: data.py --------------------------------------------------------
    def list_datasets(self) -> list[ServiceDataset]:
        return self.data.list_datasets()

    def get_dataset(self, ref: str) -> ServiceDataset:
        return self.data.get_dataset(ref)

    def download_dataset(self, ref: str, dest: Path) -> None:
        self.data.download_dataset(ref, dest)

    # ---- endpoints and models: endpoints.py (ServesEndpoints) -----------------------------------------
    def delete_model(self, model: str) -> None:
        self.endpoints.delete_model(model)

    # ---- deploy targets: targets.py --------------------------------------------------------------------
    def deploy_targets(self) -> list[DeployTarget]:
        return self.targets.list()

    def check_target(self, target: str, model: str, *, sku: str | None = None) -> None:
        no_skus(self.kind, sku)
        self.targets.check(target, model)

    def endpoints_at(self, target: str) -> TargetEndpoints:
        return self.targets.at(target)
