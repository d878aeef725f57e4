"""Backends: Azure AI Foundry (azure-ai-ml) and the local LoRA backend. Both implement
``commands.ports.FineTuningBackend``."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.settings import Settings
    from commands.ports import FineTuningBackend


def build_backend(settings: Settings) -> FineTuningBackend:
    """The backend FTBOT_BACKEND names. Imports lazily: the Azure SDK and torch are heavy."""
    if settings.backend == "azure":
        from bot.foundry.azure import AzureBackend

        return AzureBackend.from_settings(settings)
    from bot.foundry.local import LocalBackend

    return LocalBackend.from_settings(settings)
