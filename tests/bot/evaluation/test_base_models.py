"""Where a base model answers on ``foundry`` and ``azure``: the deployment or endpoint named in
``FTBOT_FOUNDRY_BASE_DEPLOYMENTS`` / ``FTBOT_AZURE_BASE_ENDPOINTS``, reached over the backends' wire
fakes; a model the setting does not name is reported missing, naming the setting; a malformed setting is
a clear error."""

from __future__ import annotations

import json

import httpx
import pytest

from bot.evaluation.base_models import MappedBaseChat, base_chat_for
from commands.errors import InvalidInput
from commands.models import ChatMessage, ChatRequest
from tests.bot.backends.fake_azure import PHI, AzureWorld, make_spec, make_world
from tests.fakes.foundry import make_foundry

REQUEST = ChatRequest(
    messages=(ChatMessage(role="user", content="Hello base"),), temperature=0.0, max_tokens=8
)


def test_foundry_base_chat_reaches_the_named_deployment() -> None:
    backend, fake, _ = make_foundry()
    fake.deployments["gpt-base-dep"] = {
        "name": "gpt-base-dep",
        "properties": {"model": {"name": "gpt-4.1-mini"}, "provisioningState": "Succeeded"},
    }
    chat = base_chat_for(backend, foundry="gpt-4.1-mini=gpt-base-dep, other=x")
    assert isinstance(chat, MappedBaseChat)
    assert chat.base_model_missing("ft-ep", "gpt-4.1-mini") is None
    missing = chat.base_model_missing("ft-ep", "gpt-4o")
    assert missing is not None and "FTBOT_FOUNDRY_BASE_DEPLOYMENTS" in missing and "gpt-4o" in missing
    reply = chat.chat_base("ft-ep", "gpt-4.1-mini", REQUEST)
    assert reply.content.startswith("echo:") and "Hello base" in reply.content
    (sent,) = fake.requests_to("POST", "/chat/completions")
    assert sent.body["model"] == "gpt-base-dep"  # the deployment the setting names, not the fine-tuned one


def test_azure_base_chat_reaches_the_named_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    world: AzureWorld = make_world(monkeypatch)
    world.backend.submit_job(make_spec(model=PHI))
    world.fake.advance(4)
    model = world.backend.get_job("ftbot-job-1").output_model
    assert model
    world.backend.deploy_model(model, "phi-base-ep")  # stands for the base model's endpoint
    chat = base_chat_for(world.backend, azure=f"{PHI}=phi-base-ep")
    assert chat is not None and chat.base_model_missing("ft-ep", PHI) is None
    missing = chat.base_model_missing("ft-ep", "Other-Model")
    assert missing is not None and "FTBOT_AZURE_BASE_ENDPOINTS" in missing
    reply = chat.chat_base("ft-ep", PHI, REQUEST)
    assert reply.content.startswith("echo:")
    sent = world.scoring.requests[-1]
    assert str(sent.url) == "https://phi-base-ep.eastus2.models.ai.azure.com/v1/chat/completions"
    payload = json.loads(httpx.Request("POST", "x", content=sent.content).read())
    assert payload["messages"] == [{"role": "user", "content": "Hello base"}]


def test_a_malformed_base_setting_names_the_setting() -> None:
    backend, _, _ = make_foundry()
    with pytest.raises(InvalidInput) as e:
        base_chat_for(backend, foundry="gpt-4.1-mini")
    assert "FTBOT_FOUNDRY_BASE_DEPLOYMENTS" in e.value.message and "base-model=name" in e.value.message
