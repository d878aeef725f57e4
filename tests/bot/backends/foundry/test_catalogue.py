"""The catalogue: fine-tunable models from GET /models, or FTBOT_FOUNDRY_MODELS; cached."""

from __future__ import annotations

import pytest

from bot.backends.foundry.backend import FoundryBackend
from commands.errors import NotFound
from commands.models import Method
from tests.fakes.foundry import GPT4O_MINI, GPT41, FakeFoundry, make_foundry

World = tuple[FoundryBackend, FakeFoundry]


def test_lists_fine_tunable_models_with_their_methods(world: World) -> None:
    backend, fake = world
    fake.add_model(f"{GPT41}.ft-0123456789abcdef")  # a fine-tune is not a base model
    models = {m.name: m for m in backend.list_base_models()}
    assert sorted(models) == [GPT41, GPT4O_MINI]  # the embedding model cannot be fine-tuned
    assert models[GPT41].methods == (Method.SUPERVISED, Method.DPO)
    assert models[GPT4O_MINI].methods == (Method.SUPERVISED,)
    assert backend.get_base_model(GPT41.upper()).name == GPT41


def test_cached_between_loads(world: World) -> None:
    backend, fake = world
    for _ in range(5):
        backend.list_base_models()
    assert len(fake.requests_to("GET", r"^/models$")) == 1
    backend.catalogue.refresh_base_models()
    assert len(fake.requests_to("GET", r"^/models$")) == 2


def test_setting_overrides_the_listing() -> None:
    backend, fake, _ = make_foundry(models=("gpt-4.1-mini-2025-04-14", "my-model"))
    assert [m.name for m in backend.list_base_models()] == ["gpt-4.1-mini-2025-04-14", "my-model"]
    assert backend.get_base_model("gpt-4.1-mini-2025-04-14").methods == (Method.SUPERVISED, Method.DPO)
    assert not fake.requests_to("GET", r"^/models$")


def test_no_model_at_all_says_which_setting_to_set() -> None:
    fake = FakeFoundry(
        models=[{"id": "text-embedding-3-small", "object": "model", "capabilities": {"fine_tune": False}}]
    )
    backend, _, _ = make_foundry(fake)
    assert backend.list_base_models() == []
    with pytest.raises(NotFound, match="FTBOT_FOUNDRY_MODELS"):
        backend.get_base_model(GPT41)
