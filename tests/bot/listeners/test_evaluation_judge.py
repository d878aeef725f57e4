"""Evaluate with a judge model (``FTBOT_EVAL_JUDGE_*``, an OpenAI-compatible endpoint faked at the httpx
transport) and a price file: the thread states the judge's preferences and each model's cost; the judge's
key reaches no Slack message."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from bot.evaluation.judge import OpenAIJudge
from bot.ui.ids import Action
from bot.ui.ids import Block as B
from commands.models import JobState
from tests.support.world import APPROVER, World, block, buttons, evaluation_posts, open_world, submit

KEY = "sk-judge-key-never-shown"
PRICES = """\
currency: USD
models:
  ftbot-tiny:
    input_per_million_tokens: 1000000      # USD 1 per input token
    output_per_million_tokens: 2000000     # USD 2 per output token
"""


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    prices = tmp_path / "prices.yaml"
    prices.write_text(PRICES)
    settings = {
        "FTBOT_PRICES": str(prices),
        "FTBOT_EVAL_JUDGE_URL": "http://127.0.0.1:9/v1",
        "FTBOT_EVAL_JUDGE_KEY": KEY,
        "FTBOT_EVAL_JUDGE_MODEL": "judge-1",
    }
    with open_world(
        tmp_path,
        FTBOT_PRICES=settings["FTBOT_PRICES"],
        FTBOT_EVAL_JUDGE_URL=settings["FTBOT_EVAL_JUDGE_URL"],
        FTBOT_EVAL_JUDGE_KEY=settings["FTBOT_EVAL_JUDGE_KEY"],
        FTBOT_EVAL_JUDGE_MODEL=settings["FTBOT_EVAL_JUDGE_MODEL"],
    ) as w:
        yield w


class FakeJudge:
    """Prefers the fine-tuned model's reply (the fake backend's "echo: …") wherever it is shown; the
    first call answers TIE."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls = 0
        self.chosen: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == f"Bearer {KEY}"
        prompt = json.loads(request.content)["messages"][0]["content"]
        reply_a = re.search(r"<reply_a>\n(.*?)\n</reply_a>", prompt, re.S)
        assert reply_a is not None
        with self.lock:
            self.calls += 1
            verdict = "TIE" if self.calls == 1 else ("A" if reply_a.group(1).startswith("echo:") else "B")
            self.chosen.append(verdict)
        return httpx.Response(
            200,
            json={
                "id": "c",
                "object": "chat.completion",
                "created": 1,
                "model": "judge-1",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": verdict}}],
                "usage": {"prompt_tokens": 100, "completion_tokens": 1, "total_tokens": 101},
            },
        )


def test_the_judges_preferences_and_every_models_cost_are_in_the_thread(world: World) -> None:
    evaluations = world.services.evaluations.evaluations
    assert evaluations.judge is not None and evaluations.judge.model == "judge-1"  # from the settings
    fake = FakeJudge()
    client = httpx.Client(transport=httpx.MockTransport(fake))
    evaluations.judge = OpenAIJudge("http://judge.test/v1", SecretStr(KEY), "judge-1", http_client=client)
    job_id = submit(world)
    world.until(lambda: world.services.lifecycle.queries.card(job_id).job.state is JobState.SUCCEEDED)
    world.click(Action.DEPLOY, job_id, user=APPROVER)
    world.until(lambda: "Test chat" in buttons(world.card()))
    world.click(Action.EVALUATE, job_id)
    (post,) = evaluation_posts(world)
    table = block(post.blocks, B.EVAL_TABLE)["text"]["text"]
    assert "Judge `judge-1` prefers: fine-tuned on *5*, tie on *1*, base on *0*." in table
    assert fake.calls == 6 and {"A", "B"} <= set(fake.chosen)  # the order alternates per example
    cost = block(post.blocks, f"{B.EVAL_NOTE}.tokens")["elements"][0]["text"]
    # 6 examples: fine-tuned 3 prompt + 4 reply tokens each, base 3 + 7, at USD 1 in and 2 out per token
    assert "Fine-tuned (on ftbot-tiny): 18 prompt + 24 reply tokens ≈ USD 66.00" in cost
    assert "Base (ftbot-tiny): 18 prompt + 42 reply tokens ≈ USD 102.00" in cost
    assert "Judge (judge-1): 600 prompt + 6 reply tokens (no price for judge-1 in FTBOT_PRICES)" in cost
    stored = evaluations.latest(job_id)
    assert stored is not None and all(a.judge is not None for a in stored.answers)
    everything = json.dumps([world.fake.responses, [m.blocks for m in world.thread()], world.card().blocks])
    assert KEY not in everything
