"""Backends: Azure AI Foundry (azure-ai-ml) and the local LoRA backend. Both implement
``commands.ports.FineTuningBackend``."""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.runtime.settings import Settings
    from commands.ports import FineTuningBackend

#: Test hook: ``package.module:function`` taking the Settings and returning a backend. Lets tests run a
#: real ``ftbot serve`` process (several, one after another) on a shared test backend. Not a setting:
#: it is read here only, and never documented for operators.
FACTORY_ENV = "FTBOT_BACKEND_FACTORY"


def build_backend(settings: Settings) -> FineTuningBackend:
    """The backend FTBOT_BACKEND names, seen through ``observed.Observed`` (calls counted and timed,
    credentials watched) when metrics or on-call paging are on."""
    backend = _build(settings)
    if settings.metrics_port is None and not settings.oncall:
        return backend
    from bot.backends.observed import observe

    observed: FineTuningBackend = observe(backend, metrics=settings.metrics_port is not None)
    return observed


def _build(settings: Settings) -> FineTuningBackend:
    """The backend FTBOT_BACKEND names. Imports lazily: the Azure SDK and torch are heavy."""
    factory = os.environ.get(FACTORY_ENV)
    if factory:
        module, _, func = factory.partition(":")
        built: FineTuningBackend = getattr(importlib.import_module(module), func)(settings)
        return built
    if settings.backend == "azure":
        from bot.backends.azure.backend import AzureBackend

        return AzureBackend.from_settings(settings)
    if settings.backend == "foundry":
        from bot.backends.foundry.backend import FoundryBackend

        return FoundryBackend.from_settings(settings)
    from bot.backends.local import LocalBackend

    return LocalBackend.from_settings(settings)
