"""Foundry projects and Azure OpenAI resources: fine-tuning on the OpenAI-compatible v1 API, deployments
through Azure Resource Manager.

``FoundryBackend`` implements ``FineTuningBackend`` plus the optional ``PausableBackend``,
``CheckpointedBackend``, ``TieredBackend`` and ``TargetedBackend``. It composes one part per module:
``catalogue`` (base models, cached), ``files`` (uploads), ``jobs`` (create, read, cancel, pause, resume,
checkpoints), ``deployments`` (ARM), ``chat`` and ``targets`` (deployments in other accounts, from
FTBOT_DEPLOY_TARGETS). It is built from an injected ``openai.OpenAI`` and management client, so tests hand
it clients whose transports are in-process fakes. Calls block: run them in worker threads.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import openai

from bot.backends.foundry.catalogue import Catalogue
from bot.backends.foundry.chat import Chat
from bot.backends.foundry.clients import FoundryConfig, data_plane_client, management_client
from bot.backends.foundry.constants import DEPLOYMENT_SKUS, TRAINING_TIERS, as_tiers
from bot.backends.foundry.deployments import Deployments
from bot.backends.foundry.files import Files
from bot.backends.foundry.jobs import Jobs
from bot.backends.foundry.targets import DataPlaneFor, TargetDeployments, Targets
from commands.errors import InvalidInput
from commands.models import (
    BaseModelInfo,
    ChatDelta,
    ChatReply,
    ChatRequest,
    Checkpoint,
    DatasetRef,
    DeployTarget,
    Endpoint,
    Job,
    JobSpec,
    ServiceDataset,
    Task,
    Tier,
)

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential
    from azure.mgmt.cognitiveservices import CognitiveServicesManagementClient

    from bot.runtime.settings import Settings


class FoundryBackend:
    kind = "foundry"

    def __init__(
        self,
        data_plane: openai.OpenAI,
        arm: CognitiveServicesManagementClient,
        config: FoundryConfig,
        *,
        catalog_ttl_s: float = 3600.0,
        file_poll_s: float = 5.0,
        targets: Sequence[tuple[DeployTarget, CognitiveServicesManagementClient]] = (),
        data_plane_for: DataPlaneFor | None = None,
        **job_options: Any,
    ) -> None:
        """``targets``: the deploy targets besides the training account (FTBOT_DEPLOY_TARGETS), each with
        an ARM client for its subscription; ``data_plane_for(config)`` builds a client on a target's
        endpoint (Entra ID)."""
        self.config = config
        self.catalogue = Catalogue(data_plane, models=config.models, ttl_s=catalog_ttl_s)
        self.files = Files(data_plane, poll_s=file_poll_s)
        self.jobs = Jobs(data_plane, self.catalogue, training_type=config.training_type, **job_options)
        self.chats = Chat(data_plane)
        self.deployments = Deployments(arm, data_plane, config, self.chats)
        self.targets = Targets(arm, config, targets, data_plane_for)

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        credential: TokenCredential | None = None,
        data_plane_options: dict[str, Any] | None = None,
        arm_options: dict[str, Any] | None = None,
    ) -> FoundryBackend:
        """Clients for the AZURE_OPENAI_* settings: the data plane with AZURE_OPENAI_API_KEY or Entra ID,
        ARM always with Entra ID (azure-identity's ``DefaultAzureCredential`` unless one is given)."""
        try:
            config = FoundryConfig.from_settings(settings)
        except ValueError as e:
            raise InvalidInput(str(e)) from None
        if credential is None:
            from azure.identity import DefaultAzureCredential

            credential = DefaultAzureCredential()
        data_plane = data_plane_client(config, credential, **(data_plane_options or {}))
        arm = management_client(config, credential, **(arm_options or {}))
        targets = [
            (
                t,
                management_client(
                    config, credential, subscription_id=t.subscription_id, **(arm_options or {})
                ),
            )
            for t in settings.deploy_targets
        ]

        def data_plane_for(target: FoundryConfig) -> openai.OpenAI:
            return data_plane_client(target, credential, **(data_plane_options or {}))

        return cls(data_plane, arm, config, targets=targets, data_plane_for=data_plane_for)

    # ---- base models, tiers ------------------------------------------------------------------------
    def list_base_models(self) -> list[BaseModelInfo]:
        return self.catalogue.list_base_models()

    def get_base_model(self, name: str) -> BaseModelInfo:
        return self.catalogue.get_base_model(name)

    def training_tiers(self) -> list[Tier]:
        return as_tiers(TRAINING_TIERS, self.config.training_type)

    def deployment_skus(self) -> list[Tier]:
        return as_tiers(DEPLOYMENT_SKUS, self.config.deployment_sku)

    # ---- data and jobs -----------------------------------------------------------------------------
    def upload_dataset(self, path: Path, *, name: str, task: Task) -> DatasetRef:
        if task is not Task.CHAT_COMPLETION:
            raise InvalidInput(
                "Azure OpenAI fine-tunes chat models only (task chat_completion).", field="task"
            )
        return self.files.upload_dataset(path, name=name)

    def list_datasets(self) -> list[ServiceDataset]:
        return self.files.list_datasets()

    def get_dataset(self, ref: str) -> ServiceDataset:
        return self.files.get_dataset(ref)

    def download_dataset(self, ref: str, dest: Path) -> None:
        self.files.download_dataset(ref, dest)

    def _file_id(self, ref: DatasetRef, name: str) -> str:
        if ref.kind == "asset":
            return ref.value
        if ref.kind == "file":
            return self.files.upload_dataset(Path(ref.value), name=name).value
        raise InvalidInput(
            "Azure OpenAI fine-tunes from uploaded files: give ftbot the data (it downloads a URL itself).",
            field="data",
        )

    def submit_job(self, spec: JobSpec) -> Job:
        found = self.jobs.find(spec.name)
        if found is not None:
            return self.jobs.to_job(spec.name, found)
        training = self._file_id(spec.training, f"{spec.name}-training")
        validation = self._file_id(spec.validation, f"{spec.name}-validation") if spec.validation else None
        return self.jobs.submit_job(spec, training, validation)

    def get_job(self, job_id: str) -> Job:
        return self.jobs.get_job(job_id)

    def cancel_job(self, job_id: str) -> Job:
        return self.jobs.cancel_job(job_id)

    def pause_job(self, job_id: str) -> Job:
        return self.jobs.pause_job(job_id)

    def resume_job(self, job_id: str) -> Job:
        return self.jobs.resume_job(job_id)

    def list_checkpoints(self, job_id: str) -> list[Checkpoint]:
        return self.jobs.list_checkpoints(job_id)

    # ---- deployments and chat ----------------------------------------------------------------------
    def deploy_model(self, model: str, endpoint_name: str, *, sku: str | None = None) -> Endpoint:
        return self.deployments.deploy_model(model, endpoint_name, sku=sku)

    def get_endpoint(self, name: str) -> Endpoint:
        return self.deployments.get_endpoint(name)

    def list_endpoints(self) -> list[Endpoint]:
        return self.deployments.list_endpoints()

    def chat(self, endpoint_name: str, request: ChatRequest) -> ChatReply:
        return self.chats.chat(endpoint_name, request)

    def chat_stream(self, endpoint_name: str, request: ChatRequest) -> Iterator[ChatDelta]:
        return self.chats.chat_stream(endpoint_name, request)

    def delete_endpoint(self, name: str) -> None:
        self.deployments.delete_endpoint(name)

    def delete_model(self, model: str) -> None:
        self.deployments.delete_model(model)

    # ---- deploy targets: targets.py ----------------------------------------------------------------
    def deploy_targets(self) -> list[DeployTarget]:
        return self.targets.list()

    def check_target(self, target: str, model: str, *, sku: str | None = None) -> None:
        self.targets.check(target, model, sku)

    def endpoints_at(self, target: str) -> TargetDeployments:
        return self.targets.at(target)
