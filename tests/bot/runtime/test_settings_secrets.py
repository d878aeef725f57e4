"""Every secret setting is scrubbed from the logs of both processes: ``Settings.secret_values`` names them
all, a key added with a new backend included, so the scrubber never needs a list kept by hand."""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr

from bot.runtime.settings import Settings


def test_secret_values_are_every_secret_setting_that_is_set() -> None:
    values: dict[str, Any] = {
        "SLACK_BOT_TOKEN": "xoxb-1",
        "SLACK_SIGNING_SECRET": "signing-2",
        "AZURE_OPENAI_API_KEY": "key-3",
    }
    settings = Settings(_env_file=None, **values)  # type: ignore[call-arg]
    secret_fields = [n for n, f in Settings.model_fields.items() if f.annotation == SecretStr | None]
    assert "azure_openai_api_key" in secret_fields and "slack_app_token" in secret_fields
    assert sorted(settings.secret_values()) == ["key-3", "signing-2", "xoxb-1"]
