"""Evaluate and side-by-side Test chat on ``foundry`` and ``azure``, over signed HTTP against their wire
fakes: with the base model's deployment (FTBOT_FOUNDRY_BASE_DEPLOYMENTS) or endpoint
(FTBOT_AZURE_BASE_ENDPOINTS) named, both models' figures reach the thread and the requests went to the
fine-tuned deployment or endpoint and to the base one; without it, the evaluation says why the base is
missing and the base is never asked."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from bot.ui.ids import Action
from bot.ui.ids import Block as B
from commands.models import JobState
from tests.bot.backends.fake_azure import PHI, AzureWorld, make_world
from tests.bot.backends.fake_azure.wire import WS_PATH, now
from tests.bot.slack.test_test_chat import _ask, _replies
from tests.fakes.foundry import GPT41, FakeFoundry, make_foundry
from tests.support.harness import running_bot
from tests.support.world import APPROVER, MEMBER, World, block, buttons, evaluation_posts, open_world

BASE = "base-serving"  # the base model's deployment (foundry) or serverless endpoint (azure)
EXAMPLES = 6  # the automatic split's held-out share of train.jsonl's 30 examples


# --- driving a job to a live endpoint on each fake ---------------------------------------------------------


def _until(world: World, check: Callable[[], bool], advance: Callable[[], None], rounds: int = 200) -> None:
    for _ in range(rounds):
        world.tick()
        if check():
            return
        advance()
        time.sleep(0.02)
    raise AssertionError("condition not reached")


def _deployed(world: World, model: str, advance: Callable[[], None]) -> tuple[str, str]:
    """Submit with an automatic split, train, deploy: the job id and its endpoint's name."""
    world.slash(f"submit --model {model} --data {world.files.url('train.jsonl')} --split 0.2")
    job_id = world.wait_response("Started", timeout=30).split("`")[1]
    succeeded = lambda: world.services.lifecycle.queries.card(job_id).job.state is JobState.SUCCEEDED  # noqa: E731
    _until(world, succeeded, advance)
    world.click(Action.DEPLOY, job_id, user=APPROVER)
    world.wait_response("Deploying")
    _until(world, lambda: "Test chat" in buttons(world.card()), advance)
    world.settle()
    return job_id, str(buttons(world.card())["Test chat"]["value"])


def _evaluation(world: World, job_id: str) -> str:
    assert world.click(Action.EVALUATE, job_id, user=MEMBER) == 200
    [post] = evaluation_posts(world)
    return json.dumps(post.blocks)


def _both_figures(world: World, thread: str) -> None:
    table = json.dumps(next(b for b in json.loads(thread) if b.get("block_id") == B.EVAL_TABLE))
    assert "fine-tuned" in table and "base" in table and "chrF" in table and "Per example on chrF" in table
    line = block(world.card().blocks, B.CARD_EVALUATION)["text"]["text"]
    assert "vs base" in line and f"{EXAMPLES} held-out examples" in line


def _base_missing(world: World, thread: str, setting: str) -> None:
    assert "Fine-tuned model only" in thread and setting in thread
    assert "no base model to compare" in block(world.card().blocks, B.CARD_EVALUATION)["text"]["text"]


# --- foundry -----------------------------------------------------------------------------------------------


@contextmanager
def _foundry(tmp_path: Path, **settings: str) -> Iterator[tuple[World, FakeFoundry]]:
    foundry = FakeFoundry(auto_advance=True)
    foundry.deployments[BASE] = {
        "name": BASE,
        "properties": {"model": {"name": GPT41}, "provisioningState": "Succeeded"},
    }
    backend, _, _ = make_foundry(foundry)
    with open_world(tmp_path, backend, running_bot, **settings) as world:
        yield world, foundry


def _asked(foundry: FakeFoundry, deployment: str) -> list[Any]:
    return [r for r in foundry.requests_to("POST", r"/chat/completions$") if r.body["model"] == deployment]


def test_foundry_evaluate_asks_the_fine_tuned_and_the_base_deployment(tmp_path: Path) -> None:
    with _foundry(tmp_path, FTBOT_FOUNDRY_BASE_DEPLOYMENTS=f"{GPT41}={BASE}") as (world, foundry):
        job_id, endpoint = _deployed(world, GPT41, lambda: None)
        probes = len(_asked(foundry, endpoint))  # the deploy's readiness probes
        _both_figures(world, _evaluation(world, job_id))
        assert len(_asked(foundry, endpoint)) - probes == EXAMPLES
        assert len(_asked(foundry, BASE)) == EXAMPLES


def test_foundry_evaluate_without_a_base_deployment_says_why(tmp_path: Path) -> None:
    with _foundry(tmp_path) as (world, foundry):
        job_id, endpoint = _deployed(world, GPT41, lambda: None)
        probes = len(_asked(foundry, endpoint))
        _base_missing(world, _evaluation(world, job_id), "FTBOT_FOUNDRY_BASE_DEPLOYMENTS")
        assert len(_asked(foundry, endpoint)) - probes == EXAMPLES
        assert _asked(foundry, BASE) == []


def test_foundry_side_by_side_chat_asks_the_base_deployment(tmp_path: Path) -> None:
    with _foundry(tmp_path, FTBOT_FOUNDRY_BASE_DEPLOYMENTS=f"{GPT41}={BASE}") as (world, foundry):
        _, endpoint = _deployed(world, GPT41, lambda: None)
        _ask(world, "Where is order 7?", with_base=True)
        [reply] = _replies(world)
        both = json.dumps(block(reply.blocks, B.CHAT_SIDE_BY_SIDE))
        assert both.count("echo: Where is order 7?") == 2
        usage = json.dumps(block(reply.blocks, B.CHAT_BASE_USAGE))
        assert "Base: Tokens:" in usage and "Fine-tuned: Tokens:" in usage and usage.count("Latency:") == 2
        [base] = _asked(foundry, BASE)
        assert "Where is order 7?" in json.dumps(base.body["messages"])
        assert "Where is order 7?" in json.dumps(_asked(foundry, endpoint)[-1].body["messages"])


# --- azure -------------------------------------------------------------------------------------------------


@pytest.fixture
def azure(monkeypatch: pytest.MonkeyPatch) -> AzureWorld:
    world = make_world(monkeypatch)
    world.fake.endpoints[BASE] = {  # the base model's own serverless endpoint, already online
        "id": f"{WS_PATH}/serverlessEndpoints/{BASE}",
        "name": BASE,
        "type": "Microsoft.MachineLearningServices/workspaces/serverlessEndpoints",
        "location": world.fake.location,
        "tags": {},
        "sku": {"name": "Consumption"},
        "properties": {
            "authMode": "Key",
            "modelSettings": {"modelId": f"azureml://registries/azureml/models/{PHI}/versions/3"},
            "provisioningState": "Succeeded",
            "endpointState": "Online",
            "inferenceEndpoint": {"uri": f"https://{BASE}.{world.fake.location}.models.ai.azure.com"},
        },
        "systemData": {"createdAt": now()},
    }
    world.fake.endpoint_keys[BASE] = {"primaryKey": "pk-base", "secondaryKey": "sk-base"}
    return world


def _scored(azure: AzureWorld, endpoint: str) -> list[Any]:
    return [r for r in azure.scoring.requests if (r.url.host or "").split(".")[0] == endpoint]


def test_azure_evaluate_asks_the_fine_tuned_and_the_base_endpoint(tmp_path: Path, azure: AzureWorld) -> None:
    with open_world(tmp_path, backend=azure.backend, FTBOT_AZURE_BASE_ENDPOINTS=f"{PHI}={BASE}") as world:
        job_id, endpoint = _deployed(world, PHI, azure.fake.advance)
        before = len(_scored(azure, endpoint))
        _both_figures(world, _evaluation(world, job_id))
        assert len(_scored(azure, endpoint)) - before == EXAMPLES
        assert len(_scored(azure, BASE)) == EXAMPLES


def test_azure_evaluate_without_a_base_endpoint_says_why(tmp_path: Path, azure: AzureWorld) -> None:
    with open_world(tmp_path, backend=azure.backend) as world:
        job_id, endpoint = _deployed(world, PHI, azure.fake.advance)
        before = len(_scored(azure, endpoint))
        _base_missing(world, _evaluation(world, job_id), "FTBOT_AZURE_BASE_ENDPOINTS")
        assert len(_scored(azure, endpoint)) - before == EXAMPLES
        assert _scored(azure, BASE) == []


def test_azure_side_by_side_chat_asks_the_base_endpoint(tmp_path: Path, azure: AzureWorld) -> None:
    with open_world(tmp_path, backend=azure.backend, FTBOT_AZURE_BASE_ENDPOINTS=f"{PHI}={BASE}") as world:
        _, endpoint = _deployed(world, PHI, azure.fake.advance)
        _ask(world, "Where is order 7?", with_base=True)
        [reply] = _replies(world)
        both = json.dumps(block(reply.blocks, B.CHAT_SIDE_BY_SIDE))
        assert both.count("echo: Where is order 7?") == 2
        [base] = _scored(azure, BASE)
        assert base.headers["authorization"] == "pk-base"  # the base endpoint's own key
        assert "Where is order 7?" in base.read().decode()
        assert "Where is order 7?" in _scored(azure, endpoint)[-1].read().decode()
