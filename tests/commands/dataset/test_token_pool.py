"""``commands.dataset.token_pool``: per-example totals of a batch, when batches are handed over (in file
order, at most two per worker in flight), the bounded cache of shared texts, and a model's own tokenizer."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

import pytest

from commands.dataset import token_pool
from commands.dataset.token_pool import TokenPool, count_batch, count_with_model
from commands.dataset.tokens import ENCODINGS, get_counter

SEP = "<|endoftext|>"


def ordinary(text: str, encoding: str = "o200k_base") -> int:
    return len(get_counter(encoding).encode_ordinary(text))


@pytest.mark.parametrize("encoding", ["o200k_base", "cl100k_base"])
def test_count_batch_gives_each_example_its_own_total(encoding: str) -> None:
    core, eot = get_counter(encoding), ENCODINGS[encoding][2][SEP]
    texts = ["Hello there", "", f"a {SEP} b", "東京 tower", "x", f"{SEP}"]
    ends, base = [2, 2, 5, 6], [3, 0, 7, 1]
    totals = count_batch(core, eot, texts, ends, base)
    per = [ordinary(t, encoding) for t in texts]
    assert totals == [3 + per[0] + per[1], 0, 7 + per[2] + per[3] + per[4], 1 + per[5]]
    assert texts[2] == f"a {SEP} b"  # the caller's list is left alone
    assert count_batch(core, eot, ["one two"], [1], [0]) == [ordinary("one two", encoding)]
    every_text_has_one = [f"a {SEP}", f"{SEP} b c"]
    assert count_batch(core, eot, every_text_has_one, [1, 2], [0, 0]) == [
        ordinary(t, encoding) for t in every_text_has_one
    ]


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[list[int], list[int]]] = []
        self.threads: set[str] = set()

    def __call__(self, totals: list[int], lines: list[int]) -> None:
        self.calls.append((totals, lines))


def test_a_batch_is_handed_over_once_it_holds_enough_characters(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(token_pool, "_BATCH_TEXT_CHARS", 10)
    got = Recorder()
    pool = TokenPool("o200k_base", 1, got)
    pool.add(1, 4, 3, ["a"], [])
    pool.add(2, 5, 3, ["b"], [])
    assert got.calls == []  # 9 characters
    pool.add(3, 1, 3, ["c"], [])
    assert got.calls == [([4, 4, 4], [1, 2, 3])]  # 10: handed over at once with one worker
    pool.add(4, 9, 0, ["d"], [])
    assert len(got.calls) == 1  # a new batch starts empty
    pool.add(7, 1, 0, ["hello"], [])
    assert got.calls[1:] == [([1, 1], [4, 7])]
    pool.drain()
    pool.drain()
    assert len(got.calls) == 2
    pool.close()


def test_nothing_queued_hands_nothing_over() -> None:
    got = Recorder()
    pool = TokenPool("o200k_base", 1, got)
    pool.drain()
    pool.close()
    assert got.calls == []


@pytest.mark.parametrize("workers", [2, 3])
def test_at_most_two_batches_per_worker_are_in_flight(monkeypatch: pytest.MonkeyPatch, workers: int) -> None:
    monkeypatch.setattr(token_pool, "_BATCH_TEXT_CHARS", 1)
    got = Recorder()
    names: set[str] = set()
    real = token_pool.count_batch

    def named(*args: Any) -> list[int]:
        names.add(threading.current_thread().name)
        return real(*args)

    monkeypatch.setattr(token_pool, "count_batch", named)
    pool = TokenPool("o200k_base", workers, got)
    handed = []
    for line in range(1, 2 * workers + 4):
        pool.add(line, 1, line, [], [])
        handed.append(len(got.calls))
    assert handed == [0] * (2 * workers) + [1, 2, 3]
    pool.drain()
    assert got.calls == [([n], [n]) for n in range(1, 2 * workers + 4)]  # in file order
    assert names and all(n.startswith("ftbot-tokens") for n in names)
    pool.close()
    assert pool._pool is None
    pool.close()


def test_shared_texts_are_counted_once_and_the_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(token_pool, "_CACHE_MAX", 2)
    got = Recorder()
    pool = TokenPool("o200k_base", 1, got)
    tools = [{"type": "function", "function": {"name": "lookup"}}]
    prompts = ["You are terse.", "You are kind.", "You are new here."]
    for line, prompt in enumerate(prompts, 1):
        pool.add(line, 1, 10, ["hi"], [prompt, tools] if line == 1 else [prompt])
    pool.add(4, 1, 10, ["hi"], [prompts[2]])
    pool.drain()
    tools_n = ordinary('[{"type":"function","function":{"name":"lookup"}}]')
    hi = ordinary("hi")
    expected = [10 + hi + ordinary(p) for p in [*prompts, prompts[2]]]
    expected[0] += tools_n
    assert got.calls == [(expected, [1, 2, 3, 4])]
    tools_json = '[{"type":"function","function":{"name":"lookup"}}]'
    assert pool._cache == {prompts[0]: ordinary(prompts[0]), tools_json: tools_n}
    assert pool._cached("You are terse.") == ordinary("You are terse.")


class Spy:
    """A counter core that records the texts encoded one by one."""

    def __init__(self) -> None:
        self.core = get_counter("o200k_base")
        self.ordinary: list[str] = []

    def encode_ordinary(self, text: str) -> list[int]:
        self.ordinary.append(text)
        return self.core.encode_ordinary(text)

    def encode_to_tiktoken_buffer(self, text: str, allowed_special: set[str]) -> Any:
        return self.core.encode_to_tiktoken_buffer(text, allowed_special)


def test_a_shared_text_is_encoded_once_until_the_cache_is_full(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(token_pool, "_CACHE_MAX", 2)
    got = Recorder()
    pool = TokenPool("o200k_base", 1, got)
    pool._core = spy = Spy()
    for line, prompt in enumerate(["one", "two", "one", "three", "three", "two"], 1):
        pool.add(line, 1, 0, [], [prompt])
    pool.drain()
    assert spy.ordinary == ["one", "two"]  # "three" is counted with the batch, each time
    assert got.calls == [([1, 1, 1, 1, 1, 1], [1, 2, 3, 4, 5, 6])]


def test_the_pool_counts_with_the_encodings_own_end_of_text() -> None:
    for name in ("o200k_base", "cl100k_base"):
        got = Recorder()
        pool = TokenPool(name, 1, got)
        pool.add(1, 1, 0, ["a", "b", "c"], [])
        pool.add(2, 1, 0, ["dd"], [])
        pool.drain()
        assert got.calls == [([3, ordinary("dd", name)], [1, 2])]
        assert pool.eot == ENCODINGS[name][2][SEP]


class Words:
    """A model tokenizer that counts words; records what it was given and on which thread."""

    name = "words"

    def __init__(self) -> None:
        self.seen: list[tuple[Any, list[str], int]] = []
        self.threads: set[str] = set()

    def count(self, example: Any, texts: Sequence[str], base: int) -> int:
        self.seen.append((example, list(texts), base))
        self.threads.add(threading.current_thread().name)
        return base + sum(len(t.split()) for t in texts)


def test_count_with_model() -> None:
    tok = Words()
    assert count_with_model(tok, [({"a": 1}, ["x y"], 2), (None, [], 0)]) == [4, 0]
    assert tok.seen == [({"a": 1}, ["x y"], 2), (None, [], 0)]


@pytest.mark.parametrize("workers", [1, 2])
def test_a_model_tokenizer_gets_each_example_with_its_shared_texts(
    monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    monkeypatch.setattr(token_pool, "_BATCH_TEXT_CHARS", 10)
    tok = Words()
    got = Recorder()
    pool = TokenPool("o200k_base", workers, got, tokenizer=tok)
    pool.add(1, 4, 3, ["one two"], ["sys prompt", [{"t": 1}]], {"n": 1})
    pool.add(2, 5, 3, ["three"], [], {"n": 2})
    assert got.calls == [] and tok.seen == []
    pool.add(3, 1, 0, [], [], {"n": 3})
    if workers == 1:
        assert got.calls == [([3 + 2 + 2 + 1, 4, 0], [1, 2, 3])]
    pool.add(4, 9, 1, ["four"], [], {"n": 4})
    if workers == 1:
        assert len(got.calls) == 1  # a new batch starts empty
    pool.add(5, 1, 0, [], [], {"n": 5})
    pool.drain()
    assert got.calls == [([8, 4, 0], [1, 2, 3]), ([2, 0], [4, 5])]
    assert tok.seen[0] == ({"n": 1}, ["one two", "sys prompt", '[{"t":1}]'], 3)
    assert [s[0]["n"] for s in tok.seen] == [1, 2, 3, 4, 5]
    assert all(n.startswith("ftbot-tokens") for n in tok.threads) is (workers > 1)
    pool.close()


def test_a_model_tokenizer_keeps_at_most_two_batches_per_worker_in_flight(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(token_pool, "_BATCH_TEXT_CHARS", 1)
    got = Recorder()
    pool = TokenPool("o200k_base", 2, got, tokenizer=Words())
    handed = []
    for line in range(1, 8):
        pool.add(line, 1, line, [], [], {})
        handed.append(len(got.calls))
    assert handed == [0, 0, 0, 0, 1, 2, 3]
    pool.drain()
    assert got.calls == [([n], [n]) for n in range(1, 8)]
    pool.close()
    pool.drain()
    assert len(got.calls) == 7


@pytest.mark.parametrize("model", [False, True])
def test_no_more_threads_than_workers(monkeypatch: pytest.MonkeyPatch, model: bool) -> None:
    monkeypatch.setattr(token_pool, "_BATCH_TEXT_CHARS", 1)
    go = threading.Event()
    real = token_pool.count_batch

    def slow(*args: Any) -> list[int]:
        go.wait(5)
        return real(*args)

    class SlowWords(Words):
        def count(self, example: Any, texts: Sequence[str], base: int) -> int:
            go.wait(5)
            return super().count(example, texts, base)

    monkeypatch.setattr(token_pool, "count_batch", slow)
    got = Recorder()
    pool = TokenPool("o200k_base", 2, got, tokenizer=SlowWords() if model else None)
    try:
        for line in range(1, 5):
            pool.add(line, 1, 0, ["x"], [], {})
        busy = [t.name for t in threading.enumerate() if t.name.startswith("ftbot-tokens")]
        assert len(busy) == 2, busy
    finally:
        go.set()
        pool.drain()
        pool.close()
    assert [lines for _, lines in got.calls] == [[1], [2], [3], [4]]


def test_close_drops_queued_batches_and_waits_for_running_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    """After an error the reader closes the pool without draining it."""
    monkeypatch.setattr(token_pool, "_BATCH_TEXT_CHARS", 1)
    started: list[int] = []
    finished: list[int] = []
    real = token_pool.count_batch

    def slow(*args: Any) -> list[int]:
        started.append(1)
        time.sleep(0.3)
        finished.append(1)
        return real(*args)

    monkeypatch.setattr(token_pool, "count_batch", slow)
    pool = TokenPool("o200k_base", 2, Recorder())
    for line in range(1, 5):
        pool.add(line, 1, 0, ["x"], [])
    deadline = time.monotonic() + 5
    while not started and time.monotonic() < deadline:
        time.sleep(0.01)
    pool.close()
    assert 1 <= len(started) <= 2 and len(finished) == len(started)
    time.sleep(0.4)
    assert len(started) <= 2
