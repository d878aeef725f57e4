"""What a doctor run works with (the settings, how to get an Azure credential, the management clients'
options, the Slack client, the database URL) and what its checks learn on the way (the credential that
answered, the project's region, the identity's permissions on the resource group).

Tests build one with a fake ``TokenCredential`` and an azure-core ``transport`` in ``azure_options``;
``ftbot doctor``, ``/finetune doctor`` and ``ftbot serve`` build it from the settings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from slack_sdk import WebClient

from bot.runtime.settings import Settings

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential


def default_credential() -> TokenCredential:
    """azure-identity's ``DefaultAzureCredential``: environment, workload or managed identity, the Azure
    CLI's ``az login`` and the other developer sign-ins, in that order."""
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential()


@dataclass
class Probe:
    settings: Settings | None
    settings_errors: tuple[str, ...] = ()
    credential_factory: Callable[[], TokenCredential] = default_credential
    #: extra keyword arguments for every Azure client (tests: ``transport``, ``retry_total=0``)
    azure_options: dict[str, Any] = field(default_factory=dict)
    slack_factory: Callable[[], WebClient] | None = None
    # learned by the checks, in order
    credential: TokenCredential | None = None
    region: str | None = None
    permissions: list[Any] | None = None

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> Probe:
        return cls(settings=settings, **kwargs)

    @classmethod
    def unreadable(cls, errors: list[str]) -> Probe:
        """Settings that did not even load: the settings check fails with these lines, the rest skip."""
        return cls(settings=None, settings_errors=tuple(errors))

    @property
    def backend(self) -> str | None:
        return self.settings.backend if self.settings is not None else None

    def slack(self) -> WebClient:
        if self.slack_factory is not None:
            return self.slack_factory()
        assert self.settings is not None
        token = self.settings.slack_bot_token
        return WebClient(
            token=token.get_secret_value() if token else None,
            base_url=self.settings.slack_api_url,
            timeout=10,
        )

    def secrets(self) -> list[str]:
        """Every secret value in the settings, so no detail ever carries one."""
        if self.settings is None:
            return []
        s = self.settings
        values = (s.slack_bot_token, s.slack_signing_secret, s.slack_app_token, s.azure_openai_api_key)
        return [v.get_secret_value() for v in values if v is not None and v.get_secret_value()]

    def redact(self, text: str) -> str:
        for secret in self.secrets():
            text = text.replace(secret, "[redacted]")
        return text
