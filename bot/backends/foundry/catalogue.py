"""The base models ftbot offers on a Foundry resource: FTBOT_FOUNDRY_MODELS when set, otherwise those
``GET {endpoint}/openai/v1/models`` marks ``capabilities.fine_tune`` (fine-tuned models, ``….ft-…``, left
out). Cached for a TTL, as the Azure backend's catalogue is, so Slack's option loads answer from memory."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import openai

from bot.backends.common import TtlCache
from bot.backends.foundry.constants import DEFAULT_CONTEXT_LENGTH, DPO_MODELS
from bot.backends.foundry.errors import openai_errors
from commands.errors import NotFound
from commands.models import BaseModelInfo, Method, Task

SOURCE = "azure-openai"
#: at most this many models are read from the listing (a guard against a server that pages forever)
MAX_LISTED = 2000


def methods_of(name: str, capabilities: Mapping[str, Any] | None = None) -> tuple[Method, ...]:
    """Supervised always; DPO for the models the DPO how-to lists, or when the service's capabilities
    name it (``dpo`` true, or ``dpo`` in a ``fine_tune_methods`` list: not documented, accepted)."""
    caps = capabilities or {}
    listed = caps.get("fine_tune_methods")
    says_dpo = caps.get("dpo") is True or (isinstance(listed, list) and "dpo" in listed)
    return (Method.SUPERVISED, Method.DPO) if says_dpo or name in DPO_MODELS else (Method.SUPERVISED,)


def _info(name: str, description: str = "", capabilities: Mapping[str, Any] | None = None) -> BaseModelInfo:
    return BaseModelInfo(
        name=name,
        source=SOURCE,
        description=description,
        tasks=(Task.CHAT_COMPLETION,),
        context_length=DEFAULT_CONTEXT_LENGTH,
        methods=methods_of(name, capabilities),
        model_id=name,
    )


class Catalogue:
    def __init__(
        self,
        client: openai.OpenAI,
        *,
        models: Sequence[str] = (),
        ttl_s: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._configured = [m.strip() for m in models if m.strip()]
        self._cache = TtlCache(self._load, ttl_s, clock)

    def list_base_models(self) -> list[BaseModelInfo]:
        """Cached for ``ttl_s``; concurrent callers wait for one load."""
        return list(self._cache.get())

    def refresh_base_models(self) -> list[BaseModelInfo]:
        """Drop the cache and load again (warm it at start-up, off Slack's ack path)."""
        return list(self._cache.refresh())

    def _load(self) -> list[BaseModelInfo]:
        if self._configured:
            return [_info(name) for name in dict.fromkeys(self._configured)]
        found: list[BaseModelInfo] = []
        with openai_errors("The list of models"):
            for i, model in enumerate(self._client.models.list()):
                if i >= MAX_LISTED:
                    break
                data = model.model_dump()
                raw_caps = data.get("capabilities")
                caps: dict[str, Any] = raw_caps if isinstance(raw_caps, dict) else {}
                name = str(data.get("id") or "")
                if name and caps.get("fine_tune") is True and ".ft-" not in name:
                    found.append(_info(name, str(data.get("lifecycle_status") or ""), caps))
        return sorted(found, key=lambda m: m.name)

    def get_base_model(self, name: str) -> BaseModelInfo:
        wanted = name.strip().lower()
        models = self.list_base_models()
        for model in models:
            if model.name.lower() == wanted:
                return model
        if not models:
            raise NotFound(
                "No base model called {model}: the resource lists no fine-tunable models. Set {setting} "
                "to the models ftbot should offer.",
                model=name,
                setting="FTBOT_FOUNDRY_MODELS",
            )
        raise NotFound(
            "No base model called {model}. {command} lists the ones this resource can fine-tune.",
            model=name,
            command="/finetune models",
        )
