"""A real ``MLClient`` and ``AzureBackend`` wired to the fake: ``make_world`` for tests, ``make_spec`` for
the job they submit."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import pytest
from azure.ai.ml import MLClient

from bot.backends.azure.backend import AzureBackend
from bot.backends.azure.catalogue import DEPLOY_REGIONS_TAG
from bot.backends.azure.project import client_options
from commands.models import DatasetRef, JobSpec
from tests.bot.backends.fake_azure.scoring import FakeScoring
from tests.bot.backends.fake_azure.service import FakeAzureML
from tests.bot.backends.fake_azure.wire import (
    LOCATION,
    RESOURCE_GROUP,
    SUBSCRIPTION,
    WORKSPACE,
    FakeAzureTransport,
    FakeCredential,
)

META = "Meta-Llama-3.1-8B-Instruct"
PHI = "Phi-4-mini-instruct"


@dataclass
class AzureWorld:
    fake: FakeAzureML
    scoring: FakeScoring
    credential: FakeCredential
    workspace: MLClient
    backend: AzureBackend

    def registry_client(self, name: str) -> MLClient:
        return MLClient(
            self.credential,
            registry_name=name,
            **client_options(retry_total=0, polling_interval=0, transport=self.fake.transport()),
        )


def patch_sdk(monkeypatch: pytest.MonkeyPatch, transport: FakeAzureTransport) -> None:
    """The two process-level patches the fake needs: deterministic job bodies (azure-ai-ml adds the working
    directory's git metadata to a job) and the blob client azure-ai-ml builds for uploads, which does not
    forward the client's ``transport``."""
    import azure.ai.ml._artifacts._blob_storage_helper as blob_helper
    import azure.ai.ml.operations._job_operations as job_operations
    from azure.storage.blob import BlobServiceClient

    monkeypatch.setattr(job_operations, "get_git_properties", lambda: {})
    monkeypatch.setattr(
        blob_helper, "BlobServiceClient", functools.partial(BlobServiceClient, transport=transport)
    )


def make_world(
    monkeypatch: pytest.MonkeyPatch,
    *,
    location: str = LOCATION,
    regions: str = "eastus2, westus3, northcentralus",
    lro_polls: int = 1,
    **backend_kwargs: Any,
) -> AzureWorld:
    fake = FakeAzureML(location=location, lro_polls=lro_polls)
    fake.add_registry_model(
        "azureml", PHI, "3", tags={DEPLOY_REGIONS_TAG: regions, "task": "chat-completion"}
    )
    fake.add_registry_model(
        "azureml-meta", META, "4", tags={DEPLOY_REGIONS_TAG: regions, "task": "chat-completion"}
    )
    transport = fake.transport()
    patch_sdk(monkeypatch, transport)
    credential = FakeCredential()
    options = client_options(retry_total=0, polling_interval=0, transport=transport)
    workspace = MLClient(credential, SUBSCRIPTION, RESOURCE_GROUP, WORKSPACE, **options)
    scoring = FakeScoring(fake)
    backend_kwargs.setdefault("models", [f"azureml/{PHI}", f"azureml-meta/{META}"])
    backend_kwargs.setdefault("metrics_reader", lambda name: [])
    backend = AzureBackend(
        workspace,
        registry_factory=lambda name: MLClient(credential, registry_name=name, **options),
        http_client=scoring.client(),
        **backend_kwargs,
    )
    return AzureWorld(fake, scoring, credential, workspace, backend)


def make_spec(name: str = "ftbot-job-1", *, model: str = META, **kw: Any) -> JobSpec:
    """A JobSpec as the Slack layer would build it (an uploaded asset, Slack channel and user tags)."""
    kw.setdefault("training", DatasetRef(kind="asset", value="azureml:slack-train:1", name="train.jsonl"))
    kw.setdefault("output_model_name", "Llama 3.1 8B ft (sales)")
    kw.setdefault("tags", {"slack_channel": "C0123", "slack_user": "U0456"})
    return JobSpec(name=name, base_model=model, **kw)
