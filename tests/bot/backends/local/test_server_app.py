"""The endpoint's HTTP surface and quotas in-process, with a fake generator (the real model and a real
socket are exercised in test_endpoint.py)."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest
from fastapi.testclient import TestClient

from bot.backends.local.quota import RateLimiter, Refusal
from bot.backends.local.server import Generation, build_app

KEY = "k3y-for-tests"


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class EchoGenerator:
    context_length = 64

    def __init__(self) -> None:
        self.calls: list[tuple[float, int]] = []

    def prompt_tokens(self, messages: Sequence[dict[str, str]]) -> list[int]:
        return [1] * sum(len(m["content"].split()) + 2 for m in messages)

    def generate(
        self, prompt: list[int], *, temperature: float, max_tokens: int, min_tokens: int = 0
    ) -> Generation:
        self.calls.append((temperature, max_tokens))
        n = min(3, max_tokens)
        return Generation(
            text="ok " * n, completion_tokens=n, finish_reason="stop" if n < max_tokens else "length"
        )


def _client(
    *, tpm: int = 200_000, rpm: int = 1_000, clock: FakeClock | None = None
) -> tuple[TestClient, EchoGenerator]:
    gen = EchoGenerator()
    limiter = RateLimiter(tokens_per_minute=tpm, requests_per_minute=rpm, clock=clock or FakeClock())
    return TestClient(build_app(gen, key=KEY, model_name="m1", limiter=limiter)), gen


BODY = {"messages": [{"role": "user", "content": "hello there"}], "max_tokens": 10, "temperature": 0}


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer wrong", "wrong", f"Basic {KEY}", f"{KEY}x"])
def test_a_missing_or_wrong_key_is_401(header: str | None) -> None:
    client, gen = _client()
    headers = {} if header is None else {"Authorization": header}
    resp = client.post("/v1/chat/completions", json=BODY, headers=headers)
    assert resp.status_code == 401
    assert KEY not in resp.text
    assert client.get("/v1/models", headers=headers).status_code == 401
    assert gen.calls == []


@pytest.mark.parametrize("header", [KEY, f"Bearer {KEY}", f"bearer  {KEY} "])
def test_the_key_bare_or_as_bearer_is_accepted(header: str) -> None:
    client, gen = _client()
    resp = client.post("/v1/chat/completions", json=BODY, headers={"Authorization": header})
    assert resp.status_code == 200
    data = resp.json()
    assert data["choices"][0]["message"] == {"role": "assistant", "content": "ok ok ok "}
    assert data["choices"][0]["finish_reason"] == "stop"
    assert data["usage"] == {"prompt_tokens": 4, "completion_tokens": 3, "total_tokens": 7}
    assert gen.calls == [(0.0, 10)]
    assert client.get("/v1/models", headers={"Authorization": header}).json()["data"][0]["id"] == "m1"
    assert client.get("/healthz").json()["ok"] is True


def test_bad_bodies_are_400_and_max_tokens_is_clipped_to_the_context() -> None:
    client, gen = _client()
    auth = {"Authorization": KEY}
    assert client.post("/v1/chat/completions", content=b"{", headers=auth).status_code == 400
    resp = client.post("/v1/chat/completions", json={"messages": []}, headers=auth)
    assert resp.status_code == 400 and "messages" in resp.json()["error"]["message"]
    bad_role = {"messages": [{"role": "tool", "content": "x"}]}
    assert client.post("/v1/chat/completions", json=bad_role, headers=auth).status_code == 400
    long = {"messages": [{"role": "user", "content": "w " * 70}]}
    assert client.post("/v1/chat/completions", json=long, headers=auth).status_code == 400
    ok = client.post("/v1/chat/completions", json={**BODY, "max_tokens": 4000}, headers=auth)
    assert ok.status_code == 200
    assert gen.calls[-1][1] == 64 - 4


def test_requests_per_minute_quota_gives_429_with_retry_after_and_recovers() -> None:
    clock = FakeClock()
    client, _ = _client(rpm=2, clock=clock)
    auth = {"Authorization": KEY}
    assert client.post("/v1/chat/completions", json=BODY, headers=auth).status_code == 200
    clock.t += 20
    assert client.post("/v1/chat/completions", json=BODY, headers=auth).status_code == 200
    clock.t += 10
    refused = client.post("/v1/chat/completions", json=BODY, headers=auth)
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "30"  # the first request leaves the window in 30 s
    assert "2 requests per minute" in refused.json()["error"]["message"]
    clock.t += 30.5
    assert client.post("/v1/chat/completions", json=BODY, headers=auth).status_code == 200


def test_tokens_per_minute_quota_counts_the_estimate_then_the_real_use() -> None:
    clock = FakeClock()
    client, _ = _client(tpm=30, clock=clock)
    auth = {"Authorization": KEY}
    # estimate 4 prompt + 10 max = 14; settled at 4 + 3 = 7 each
    for _ in range(3):
        assert client.post("/v1/chat/completions", json=BODY, headers=auth).status_code == 200
        clock.t += 1
    refused = client.post("/v1/chat/completions", json=BODY, headers=auth)  # 21 used + 14 > 30
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "57"
    assert "30 tokens per minute" in refused.json()["error"]["message"]


def test_rate_limiter_admits_an_oversized_request_into_an_empty_window() -> None:
    clock = FakeClock()
    limiter = RateLimiter(tokens_per_minute=10, requests_per_minute=5, clock=clock)
    first = limiter.acquire(50)
    assert not isinstance(first, Refusal)
    second = limiter.acquire(1)
    assert isinstance(second, Refusal) and second.reason == "tokens"
    assert second.retry_after == pytest.approx(60)
    limiter.settle(first, 2)
    assert limiter.tokens_in_window == 2
    assert not isinstance(limiter.acquire(1), Refusal)
    clock.t += 61
    assert limiter.tokens_in_window == 0
    with pytest.raises(ValueError):
        RateLimiter(tokens_per_minute=0, requests_per_minute=1)


def _events(raw: str) -> list[str]:
    return [e.removeprefix("data: ") for e in raw.split("\n\n") if e.strip()]


def test_stream_true_answers_in_openai_server_sent_events_and_settles_the_quota() -> None:
    clock = FakeClock()
    client, _ = _client(tpm=21, clock=clock)
    resp = client.post(
        "/v1/chat/completions",
        json={**BODY, "stream": True, "stream_options": {"include_usage": True}},
        headers={"Authorization": KEY},
    )
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/event-stream")
    events = _events(resp.text)
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"} and len({c["id"] for c in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"]) == "ok ok ok "
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]][-1] == "stop"
    assert chunks[-1]["usage"] == {"prompt_tokens": 4, "completion_tokens": 3, "total_tokens": 7}
    # the estimate (4 + 10) was settled to what was used (7): 7 + 14 fits in 21, 14 + 14 would not
    assert client.post("/v1/chat/completions", json=BODY, headers={"Authorization": KEY}).status_code == 200
    assert client.post("/v1/chat/completions", json=BODY, headers={"Authorization": KEY}).status_code == 429


def test_a_request_naming_the_base_model_is_answered_by_the_base_generator() -> None:
    tuned, base = EchoGenerator(), EchoGenerator()
    limiter = RateLimiter(tokens_per_minute=10_000, requests_per_minute=100, clock=FakeClock())
    app = build_app(
        tuned, key=KEY, model_name="m1", limiter=limiter, base_generator=base, base_model_name="b0"
    )
    client = TestClient(app)
    models = client.get("/v1/models", headers={"Authorization": KEY}).json()
    assert [m["id"] for m in models["data"]] == ["m1", "b0"]
    r = client.post("/v1/chat/completions", json={**BODY, "model": "b0"}, headers={"Authorization": KEY})
    assert r.json()["model"] == "b0" and len(base.calls) == 1 and not tuned.calls
    r = client.post("/v1/chat/completions", json={**BODY, "model": "other"}, headers={"Authorization": KEY})
    assert r.json()["model"] == "m1" and len(tuned.calls) == 1
