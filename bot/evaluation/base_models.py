"""Where a fine-tuned model's base model answers from: ``local`` in the endpoint's own process; ``foundry``
and ``azure`` from a deployment or endpoint of the base model named in the settings
(``FTBOT_FOUNDRY_BASE_DEPLOYMENTS``, ``FTBOT_AZURE_BASE_ENDPOINTS``: ``base-model=name,...``)."""

from __future__ import annotations

from commands.errors import InvalidInput
from commands.models import ChatReply, ChatRequest
from commands.ports import BaseModelChat, FineTuningBackend

_SETTING = {"foundry": "FTBOT_FOUNDRY_BASE_DEPLOYMENTS", "azure": "FTBOT_AZURE_BASE_ENDPOINTS"}


def parse_base_map(text: str | None, setting: str) -> dict[str, str]:
    """``base-model=name,...`` as a mapping; ``InvalidInput`` naming the setting for a malformed pair."""
    pairs: dict[str, str] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        model, sep, name = part.partition("=")
        if not sep or not model.strip() or not name.strip():
            raise InvalidInput(
                f"{setting} takes base-model=name pairs separated by commas; got {part.strip()!r}."
            )
        pairs[model.strip()] = name.strip()
    return pairs


class MappedBaseChat:
    """``BaseModelChat`` for a backend whose base models are served by endpoints it already chats with."""

    def __init__(self, backend: FineTuningBackend, names: dict[str, str], setting: str) -> None:
        self.backend = backend
        self.names = names
        self.setting = setting

    def base_model_missing(self, endpoint_name: str, base_model: str) -> str | None:
        if base_model in self.names:
            return None
        return f"no deployment of the base model {base_model} is named in {self.setting}"

    def chat_base(self, endpoint_name: str, base_model: str, request: ChatRequest) -> ChatReply:
        return self.backend.chat(self.names[base_model], request)


def base_chat_for(
    backend: FineTuningBackend, *, foundry: str | None = None, azure: str | None = None
) -> BaseModelChat | None:
    """The backend itself where it can ask its base models; else the settings' mapping; else None."""
    if isinstance(backend, BaseModelChat):
        return backend
    setting = _SETTING.get(backend.kind)
    if setting is None:
        return None
    text = foundry if backend.kind == "foundry" else azure
    return MappedBaseChat(backend, parse_base_map(text, setting), setting)
