"""Settings → the two clients: endpoints, auth (key or Entra ID and its scopes), required settings."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from bot.backends.foundry.clients import FoundryConfig, data_plane_client, management_client
from bot.backends.foundry.constants import DATA_PLANE_SCOPE
from bot.runtime.settings import Settings
from tests.bot.backends.fake_azure.wire import FakeCredential
from tests.fakes.foundry import ACCOUNT, FakeFoundry
from tests.support.serve import clean_env, ftbot_argv

FULL = {
    "FTBOT_BACKEND": "foundry",
    "AZURE_OPENAI_ENDPOINT": "https://my-res.services.ai.azure.com/api/projects/my-project/",
    "AZURE_SUBSCRIPTION_ID": "sub",
    "AZURE_RESOURCE_GROUP": "rg",
    "AZURE_OPENAI_ACCOUNT": "my-res",
    "FTBOT_FOUNDRY_MODELS": "gpt-4.1-2025-04-14, gpt-4o-mini-2024-07-18",
    "FTBOT_FOUNDRY_TRAINING_TYPE": "GlobalStandard",
}


def _settings(monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Settings(_env_file=None)


def test_settings_make_the_config(monkeypatch: pytest.MonkeyPatch) -> None:
    config = FoundryConfig.from_settings(_settings(monkeypatch, **FULL))
    assert config.base_url == "https://my-res.services.ai.azure.com/api/projects/my-project/openai/v1/"
    assert config.models == ("gpt-4.1-2025-04-14", "gpt-4o-mini-2024-07-18")
    assert config.training_type == "GlobalStandard" and config.deployment_sku == "Standard"
    assert config.arm_scope == "https://management.azure.com/.default"
    assert config.api_key is None


def test_endpoints_must_be_https_except_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError, match="AZURE_OPENAI_ENDPOINT"):
        _settings(monkeypatch, **{**FULL, "AZURE_OPENAI_ENDPOINT": "http://my-res.openai.azure.com"})
    with pytest.raises(ValidationError, match="AZURE_RESOURCE_MANAGER_ENDPOINT"):
        _settings(monkeypatch, **{**FULL, "AZURE_RESOURCE_MANAGER_ENDPOINT": "http://management.example"})
    ok = _settings(
        monkeypatch,
        **{**FULL, "AZURE_OPENAI_ENDPOINT": "http://127.0.0.1:8080", "AZURE_RESOURCE_MANAGER_ENDPOINT": ""},
    )
    assert ok.azure_openai_endpoint == "http://127.0.0.1:8080"
    assert ok.azure_resource_manager_endpoint == "https://management.azure.com"  # blank: the default


def test_serve_exits_2_with_one_line_per_missing_setting(tmp_path: Path) -> None:
    env = clean_env(
        {
            "FTBOT_DATA_DIR": str(tmp_path / "data"),
            "SLACK_BOT_TOKEN": "xoxb-1",
            "SLACK_SIGNING_SECRET": "s",
            "FTBOT_BACKEND": "foundry",
            "AZURE_SUBSCRIPTION_ID": "sub",
        }
    )
    r = subprocess.run(ftbot_argv("serve"), env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert r.returncode == 2
    lines = [line for line in r.stderr.splitlines() if "is not set" in line]
    assert [line.split()[1] for line in lines] == [
        "AZURE_OPENAI_ENDPOINT",
        "AZURE_RESOURCE_GROUP",
        "AZURE_OPENAI_ACCOUNT",
    ]
    assert "Traceback" not in r.stderr


def _config(**changes: object) -> FoundryConfig:
    base: dict[str, object] = {
        "endpoint": "https://r.openai.azure.com",
        "subscription_id": "s",
        "resource_group": "g",
        "account": ACCOUNT,
    }
    return FoundryConfig(**{**base, **changes})  # type: ignore[arg-type]


def test_entra_id_uses_the_data_plane_scope_and_arm_its_own() -> None:
    fake = FakeFoundry()
    cred = FakeCredential()
    client = data_plane_client(_config(), cred, http_client=httpx.Client(transport=fake.openai_transport()))
    client.models.list()
    assert cred.scopes == [(DATA_PLANE_SCOPE,)]
    (call,) = fake.calls
    assert (
        call.headers["authorization"].startswith("Bearer ") and call.headers["authorization"] != "Bearer None"
    )
    sovereign = _config(arm_endpoint="https://management.usgovcloudapi.net")
    arm = management_client(sovereign, cred, transport=fake.arm_transport(), retry_total=0)
    assert arm._config.credential_scopes == ["https://management.usgovcloudapi.net/.default"]
    assert arm._client._base_url == "https://management.usgovcloudapi.net"


def test_key_auth_sends_the_key_and_asks_no_token() -> None:
    fake = FakeFoundry()
    cred = FakeCredential()
    client = data_plane_client(
        _config(api_key="k-123"), cred, http_client=httpx.Client(transport=fake.openai_transport())
    )
    client.models.list()
    assert cred.scopes == []
    assert fake.calls[0].headers["authorization"] == "Bearer k-123"
    assert "k-123" not in repr(_config(api_key="k-123"))
