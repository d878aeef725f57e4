"""Probes for the doctor's tests: settings for each backend, the fake ARM on an azure-core transport, and a
fake ``TokenCredential`` (no real credential chain ever runs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from azure.core.credentials import TokenCredential

from bot.doctor.probe import Probe
from bot.runtime.settings import Settings
from tests.bot.backends.fake_azure.wire import RESOURCE_GROUP, SUBSCRIPTION, WORKSPACE
from tests.bot.doctor.fake_arm import ACCOUNT, ChainCredential, FakeArm
from tests.support.doubles import APPROVER
from tests.support.harness import BOT_TOKEN, SIGNING_SECRET

OPENAI_KEY = "sk-test-openai-key-0123456789"


def settings_for(tmp_path: Path, backend: str = "local", **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": "http://127.0.0.1:9/api/",
        "FTBOT_DATA_DIR": str(tmp_path / "data"),
        "FTBOT_APPROVERS": APPROVER,
        "FTBOT_BACKEND": backend,
    }
    if backend == "azure":
        values |= {
            "AZURE_SUBSCRIPTION_ID": SUBSCRIPTION,
            "AZURE_RESOURCE_GROUP": RESOURCE_GROUP,
            "AZURE_AI_PROJECT": WORKSPACE,
        }
    if backend == "foundry":
        values |= {
            "AZURE_SUBSCRIPTION_ID": SUBSCRIPTION,
            "AZURE_RESOURCE_GROUP": RESOURCE_GROUP,
            "AZURE_OPENAI_ACCOUNT": ACCOUNT,
            "AZURE_OPENAI_ENDPOINT": f"https://{ACCOUNT}.openai.azure.com",
        }
    values.update(extra)
    return Settings(_env_file=None, **values)


def probe_for(settings: Settings, arm: FakeArm, credential: TokenCredential | None = None) -> Probe:
    cred = credential or ChainCredential()
    return Probe.from_settings(
        settings,
        credential_factory=lambda: cred,
        azure_options={"transport": arm.transport(), "retry_total": 0},
    )


@pytest.fixture
def arm() -> FakeArm:
    return FakeArm()
