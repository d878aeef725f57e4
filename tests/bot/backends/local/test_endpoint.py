"""A model trained for real (5 epochs of ftbot-tiny), served by the endpoint process over HTTP on
127.0.0.1: the learnt answers, keys (401), quotas (429), one deployment per model, delete order."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.backends.local import LocalBackend
from commands.errors import Conflict, InvalidInput, NotFound, Unavailable
from commands.models import (
    ChatMessage,
    ChatRequest,
    EndpointState,
    Hyperparameters,
    Job,
    JobSpec,
    JobState,
    Task,
)
from tests.bot.backends.local.conftest import LocalHarness
from tests.bot.backends.local.fixtures import examples, post_json, sse_events, write_jsonl

pytestmark = pytest.mark.slow

DATA = examples(30)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Job]]:
    """One 5-epoch job on the 30-example set, shared by this module; its data dir is reused below."""
    root = tmp_path_factory.mktemp("local-trained")
    backend = LocalBackend(root / "data")
    harness = LocalHarness(backend, root)
    ref = backend.upload_dataset(
        write_jsonl(root / "train.jsonl", DATA), name="train.jsonl", task=Task.CHAT_COMPLETION
    )
    spec = JobSpec(
        name="ft-five-epochs",
        base_model="ftbot-tiny",
        training=ref,
        validation=ref,
        hyperparameters=Hyperparameters(n_epochs=5, batch_size=4),
        output_model_name="tiny-support",
    )
    backend.submit_job(spec)
    try:
        job = harness.wait_job(spec.name, lambda j: j.state.terminal, timeout=180)
        assert job.state is JobState.SUCCEEDED, job.error
        yield root / "data", job
    finally:
        backend.stop_all()


def _deploy(backend: LocalBackend, model: str, name: str) -> str:
    backend.deploy_model(model, name)
    LocalHarness(backend, Path()).wait_endpoint(name, lambda e: e.state.terminal, timeout=90)
    ep = backend.get_endpoint(name)
    assert ep.state is EndpointState.READY, ep.error
    return ep.scoring_uri or ""


def test_training_loss_falls_and_validation_is_reported(trained: tuple[Path, Job]) -> None:
    _, job = trained
    by_epoch: dict[int, list[float]] = {}
    for m in job.metrics:
        assert m.epoch is not None and m.train_loss is not None
        by_epoch.setdefault(m.epoch, []).append(m.train_loss)
    assert sorted(by_epoch) == [1, 2, 3, 4, 5]
    first, last = (sum(v) / len(v) for v in (by_epoch[1], by_epoch[5]))
    assert last < first / 4, (first, last)
    valid = [m.valid_loss for m in job.metrics if m.valid_loss is not None]
    assert len(valid) == 5 and valid[-1] < valid[0]
    assert [e.kind for e in job.events if e.kind == "epoch"] == ["epoch"] * 5
    assert job.trained_tokens and job.trained_tokens > 0


def test_greedy_reply_to_a_training_prompt_is_the_trained_answer(trained: tuple[Path, Job]) -> None:
    data_dir, job = trained
    backend = LocalBackend(data_dir)
    assert job.output_model
    try:
        _deploy(backend, job.output_model, "ep-greedy")
        matches = 0
        for example in DATA[:10]:
            system, user, answer = example["messages"]
            request = ChatRequest(
                messages=(ChatMessage(**system), ChatMessage(**user)), temperature=0, max_tokens=60
            )
            reply = backend.chat("ep-greedy", request)
            matches += reply.content == answer["content"]
            assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens
        first_system, first_user, first_answer = DATA[0]["messages"]
        first = backend.chat(
            "ep-greedy",
            ChatRequest(
                messages=(ChatMessage(**first_system), ChatMessage(**first_user)),
                temperature=0,
                max_tokens=60,
            ),
        )
        assert first.content == first_answer["content"]
        assert first.finish_reason == "stop"
        assert matches >= 5, f"only {matches} of 10 training prompts answered verbatim"

        # one deployment per model; a deployed model cannot be deleted
        with pytest.raises(Conflict) as again:
            backend.deploy_model(job.output_model, "ep-second")
        assert again.value.existing == "ep-greedy"
        with pytest.raises(Conflict) as in_use:
            backend.delete_model(job.output_model)
        assert in_use.value.existing == "ep-greedy"
        with pytest.raises(InvalidInput):
            backend.deploy_model("ftbot-tiny", "ep-base")
    finally:
        backend.delete_endpoint("ep-greedy")
    with pytest.raises(NotFound):
        backend.get_endpoint("ep-greedy")


def test_keys_quotas_and_teardown_over_http(trained: tuple[Path, Job]) -> None:
    data_dir, job = trained
    backend = LocalBackend(data_dir, requests_per_minute=3)
    assert job.output_model
    try:
        uri = _deploy(backend, job.output_model, "ep-http")
        port = int(uri.split(":")[2].split("/")[0])
        key_file = data_dir / "endpoints" / "ep-http" / "key"
        assert key_file.stat().st_mode & 0o777 == 0o600
        key = key_file.read_text().strip()
        body = {
            "messages": [{"role": "user", "content": "Where is my order?"}],
            "max_tokens": 5,
            "temperature": 0,
        }

        status, _, data = post_json(port, "/v1/chat/completions", body, {})
        assert status == 401 and key not in json.dumps(data)
        status, _, _ = post_json(port, "/v1/chat/completions", body, {"Authorization": "Bearer wrong-key"})
        assert status == 401
        status, _, _ = post_json(port, "/v1/models", None, {"Authorization": "nope"})
        assert status == 401

        status, _, models = post_json(port, "/v1/models", None, {"Authorization": key})
        assert status == 200 and models["data"][0]["id"] == job.output_model
        status, _, data = post_json(
            port, "/v1/chat/completions", body, {"Authorization": key}
        )  # the bare key
        assert status == 200, data
        assert data["object"] == "chat.completion" and isinstance(
            data["choices"][0]["message"]["content"], str
        )
        assert (
            data["usage"]["total_tokens"]
            == data["usage"]["prompt_tokens"] + data["usage"]["completion_tokens"]
        )
        assert 1 <= data["usage"]["completion_tokens"] <= 5
        status, _, _ = post_json(port, "/v1/chat/completions", body, {"Authorization": f"Bearer {key}"})
        assert status == 200

        # 3 requests per minute: the third admitted request fills the window; the next is refused
        status, _, _ = post_json(port, "/v1/chat/completions", body, {"Authorization": f"Bearer {key}"})
        assert status == 200
        status, headers, data = post_json(
            port, "/v1/chat/completions", body, {"Authorization": f"Bearer {key}"}
        )
        assert status == 429, data
        assert 1 <= int(headers["retry-after"]) <= 60
        with pytest.raises(Unavailable) as throttled:
            backend.chat(
                "ep-http", ChatRequest(messages=(ChatMessage(role="user", content="hi"),), max_tokens=2)
            )
        assert throttled.value.retry_after and throttled.value.retry_after > 0
        assert key not in str(throttled.value)
        assert key not in (data_dir / "endpoints" / "ep-http" / "server.log").read_text()
    finally:
        backend.delete_endpoint("ep-http")

    # the process is gone and the port is free again
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
    assert not (data_dir / "endpoints" / "ep-http").exists()


def test_one_checkpoint_per_epoch_is_listed_and_served_with_streaming_and_base_answers(
    trained: tuple[Path, Job],
) -> None:
    data_dir, job = trained
    backend = LocalBackend(data_dir)
    checkpoints = backend.list_checkpoints(job.id)
    assert [c.number for c in checkpoints] == [1, 2, 3, 4, 5]
    assert [c.epoch for c in checkpoints] == [1, 2, 3, 4, 5]
    assert checkpoints[-1].model == f"{job.id}:ckpt-epoch-5" and checkpoints[-1].step == 40
    assert {"train_loss", "valid_loss"} <= set(checkpoints[0].metrics)
    assert checkpoints[-1].metrics["train_loss"] < checkpoints[0].metrics["train_loss"]
    with pytest.raises(NotFound):
        backend.list_checkpoints("no-such-job")
    with pytest.raises(NotFound):
        backend.deploy_model(f"{job.id}:ckpt-epoch-9", "ep-ckpt")

    system, user, answer = DATA[0]["messages"]
    body = {"messages": [system, user], "max_tokens": 60, "temperature": 0}
    try:
        uri = _deploy(backend, checkpoints[-1].model, "ep-ckpt")
        port = int(uri.split(":")[2].split("/")[0])
        key = (data_dir / "endpoints" / "ep-ckpt" / "key").read_text().strip()
        status, _, plain = post_json(port, "/v1/chat/completions", body, {"Authorization": key})
        assert status == 200 and plain["model"] == checkpoints[-1].model
        assert plain["choices"][0]["message"]["content"] == answer["content"]  # epoch 5 = the final adapter

        chunks, done = sse_events(
            port, {**body, "stream": True, "stream_options": {"include_usage": True}}, key
        )
        assert done and all(c["object"] == "chat.completion.chunk" for c in chunks)
        assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
        text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
        assert text == plain["choices"][0]["message"]["content"]
        assert len([c for c in chunks if c["choices"] and c["choices"][0]["delta"].get("content")]) > 3
        finish = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]]
        assert finish[-1] == "stop" and set(finish[:-1]) == {None}
        assert chunks[-1]["choices"] == [] and chunks[-1]["usage"] == plain["usage"]

        status, _, models = post_json(port, "/v1/models", None, {"Authorization": key})
        assert [m["id"] for m in models["data"]] == [checkpoints[-1].model, "ftbot-tiny"]
        status, _, base = post_json(
            port, "/v1/chat/completions", {**body, "model": "ftbot-tiny"}, {"Authorization": key}
        )
        assert status == 200 and base["model"] == "ftbot-tiny"
        assert base["choices"][0]["message"]["content"] != answer["content"], (
            "the base model has not learnt it"
        )
        status, _, again = post_json(port, "/v1/chat/completions", body, {"Authorization": key})
        assert again["choices"][0]["message"]["content"] == answer["content"], "the adapter is back on"
    finally:
        backend.delete_endpoint("ep-ckpt")


def test_model_can_be_deleted_once_its_endpoint_is_gone(trained: tuple[Path, Job]) -> None:
    data_dir, job = trained
    backend = LocalBackend(data_dir)
    assert job.output_model
    deadline = time.monotonic() + 5
    while backend.list_endpoints() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert backend.list_endpoints() == []
    backend.delete_model(job.output_model)
    with pytest.raises(NotFound):
        backend.delete_model(job.output_model)
