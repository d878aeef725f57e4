"""Batched greedy generation: concurrent requests are generated together (a fake batch function shows
the grouping and the failure path), and on the real ftbot-tiny model a left-padded batch gives each row
the same greedy tokens as ``generate`` alone."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bot.backends.local.batching import Batcher
from bot.backends.local.generation import Generation, HFGenerator


def _echo(prompts: Sequence[list[int]], max_tokens: Sequence[int]) -> list[Generation]:
    return [
        Generation(text=str(p[:m]), completion_tokens=m, finish_reason="length")
        for p, m in zip(prompts, max_tokens, strict=True)
    ]


def test_concurrent_requests_are_generated_as_one_batch_each_with_its_own_answer() -> None:
    gate = threading.Event()
    calls: list[int] = []

    def slow(prompts: Sequence[list[int]], max_tokens: Sequence[int]) -> list[Generation]:
        calls.append(len(prompts))
        gate.wait(5)  # the first batch is still generating while the others arrive
        return _echo(prompts, max_tokens)

    batcher = Batcher(slow, max_batch=8, window=0.05)
    with ThreadPoolExecutor(max_workers=9) as pool:
        first = pool.submit(batcher.generate, [0], 1)
        while not calls:
            threading.Event().wait(0.01)
        rest = [pool.submit(batcher.generate, [i, i, i], 2) for i in range(1, 9)]
        threading.Event().wait(0.1)
        gate.set()
        assert first.result().text == "[0]"
        assert [f.result().text for f in rest] == [str([i, i]) for i in range(1, 9)]
    assert calls == [1, 8]  # the eight that came while the first generated went together


def test_a_failed_batch_fails_each_of_its_requests_and_the_batcher_goes_on() -> None:
    broken = [True]

    def flaky(prompts: Sequence[list[int]], max_tokens: Sequence[int]) -> list[Generation]:
        if broken[0]:
            raise RuntimeError("out of memory")
        return _echo(prompts, max_tokens)

    batcher = Batcher(flaky, window=0.05)
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = [pool.submit(batcher.generate, [i], 1) for i in range(3)]
        for f in futures:
            with pytest.raises(RuntimeError, match="out of memory"):
                f.result()
    broken[0] = False
    assert batcher.generate([7], 1).text == "[7]"


@pytest.mark.slow
def test_a_padded_batch_on_ftbot_tiny_gives_the_same_greedy_tokens(tmp_path: Path) -> None:
    from bot.backends.local import tiny, trainer

    torch = trainer.setup_torch(1)
    model, tok = trainer.load_base(tiny.ensure(tmp_path / "models"), device="cpu", dtype=torch.float32)
    gen = HFGenerator(model, tok, device="cpu", context_length=512, adapter=False)
    questions = [
        "Hi",
        "How long does shipping take to Norway?",
        "Can I return boots?",
        "Where is my order 42?",
    ]
    prompts = [gen.prompt_tokens([{"role": "user", "content": q}]) for q in questions]
    assert len({len(p) for p in prompts}) > 1  # rows really are padded
    limits = [12, 20, 7, 16]
    alone = [gen.generate(p, temperature=0.0, max_tokens=m) for p, m in zip(prompts, limits, strict=True)]
    together = gen.generate_batch(prompts, limits)
    assert together == alone
    with ThreadPoolExecutor(max_workers=4) as pool:
        served = list(pool.map(gen.generate_batched, prompts, limits))
    assert served == alone


class _BatchingGenerator:
    """A generator with the batch path: greedy requests must go to ``generate_batched``."""

    context_length = 64

    def __init__(self) -> None:
        self.batched: list[int] = []
        self.alone: list[float] = []

    def prompt_tokens(self, messages: Sequence[dict[str, str]]) -> list[int]:
        return [1, 2, 3]

    def generate(
        self, prompt: list[int], *, temperature: float, max_tokens: int, min_tokens: int = 0
    ) -> Generation:
        self.alone.append(temperature)
        return Generation(text="sampled", completion_tokens=1, finish_reason="stop")

    def generate_batched(self, prompt: list[int], max_tokens: int) -> Generation:
        self.batched.append(max_tokens)
        return Generation(text="greedy", completion_tokens=1, finish_reason="stop")


def test_the_server_sends_greedy_requests_to_the_batch_path_and_sampled_ones_alone() -> None:
    from fastapi.testclient import TestClient

    from bot.backends.local.quota import RateLimiter
    from bot.backends.local.server import build_app

    gen = _BatchingGenerator()
    limiter = RateLimiter(tokens_per_minute=100_000, requests_per_minute=1_000)
    client = TestClient(build_app(gen, key="k", model_name="m1", limiter=limiter))
    headers = {"Authorization": "Bearer k"}
    body = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 9, "temperature": 0}
    greedy = client.post("/v1/chat/completions", json=body, headers=headers)
    sampled = client.post("/v1/chat/completions", json={**body, "temperature": 0.7}, headers=headers)
    forced = client.post("/v1/chat/completions", json={**body, "min_tokens": 5}, headers=headers)
    assert greedy.json()["choices"][0]["message"]["content"] == "greedy"
    assert sampled.json()["choices"][0]["message"]["content"] == "sampled"
    assert forced.json()["choices"][0]["message"]["content"] == "sampled"  # min_tokens: answered alone
    assert gen.batched == [9] and gen.alone == [0.7, 0.0]
