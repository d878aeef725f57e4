"""smollm2-135m-instruct for real: one conversion per test session (the ``smollm2_data_dir`` fixture),
the model's own tokenizer for the statistics, and one short training job that is served, streamed and
compared with the base model from the same endpoint process."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from bot.backends.local import LocalBackend, smollm2
from bot.backends.local.tokenizer import LocalTokenizer
from commands.dataset import sample_dataset_path, validate_dataset
from commands.models import ChatMessage, ChatRequest, EndpointState, Hyperparameters, JobSpec, JobState, Task
from tests.bot.backends.local.conftest import LocalHarness
from tests.bot.backends.local.fixtures import post_json, sse_events, write_jsonl

pytestmark = pytest.mark.slow


def _sample(n: int) -> list[dict[str, Any]]:
    lines = sample_dataset_path().read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines[:n]]


def test_the_conversion_is_a_plain_model_folder_with_tied_embeddings(
    smollm2_data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from safetensors import safe_open

    folder = smollm2_data_dir / "models" / smollm2.NAME
    names = {p.name for p in folder.iterdir()}
    assert {
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "chat_template.jinja",
        "source.json",
    } <= names
    config = json.loads((folder / "config.json").read_text())
    assert config["tie_word_embeddings"] is True and "quantization_config" not in config
    with safe_open(str(folder / "model.safetensors"), "pt") as weights:
        keys = set(weights.keys())
    assert "model.embed_tokens.weight" in keys and "lm_head.weight" not in keys
    gguf = smollm2.gguf_path()
    assert gguf is not None
    assert json.loads((folder / "source.json").read_text())["sha256"] == smollm2.sha256_of(gguf)

    def must_not_convert(source: Path, out: Path) -> None:
        raise AssertionError("converted twice")

    monkeypatch.setattr(smollm2, "write_folder", must_not_convert)
    started = time.monotonic()
    assert smollm2.ensure(smollm2_data_dir / "models") == folder
    assert time.monotonic() - started < 5


def test_statistics_are_counted_with_the_models_own_tokenizer(smollm2_data_dir: Path) -> None:
    from transformers import AutoTokenizer

    backend = LocalBackend(smollm2_data_dir)
    tokenizer = backend.tokenizer_for(smollm2.NAME)
    assert isinstance(tokenizer, LocalTokenizer)
    assert backend.tokenizer_for("ftbot-tiny") is None  # o200k counts stay for the toy model
    report = validate_dataset(sample_dataset_path(), tokenizer=tokenizer, workers=1)
    stats = report.stats
    assert stats.encoding == "smollm2-135m-instruct tokenizer" and not stats.approximate_tokens
    hf = AutoTokenizer.from_pretrained(str(smollm2_data_dir / "models" / smollm2.NAME))
    expected: list[int] = []
    for ex in _sample(35):
        enc: Any = hf.apply_chat_template(ex["messages"], tokenize=True, return_dict=True)
        expected.append(len(enc["input_ids"]))
    assert stats.tokens_per_example is not None
    assert stats.tokens_per_example.total == sum(expected)
    assert (stats.tokens_per_example.min, stats.tokens_per_example.max) == (min(expected), max(expected))
    o200k = validate_dataset(sample_dataset_path(), workers=1).stats.tokens_per_example
    assert o200k is not None and o200k.total != sum(expected)


def test_a_short_job_trains_and_is_served_streamed_and_compared_with_the_base(smollm2_data_dir: Path) -> None:
    backend = LocalBackend(smollm2_data_dir)
    harness = LocalHarness(backend, smollm2_data_dir.parent)
    data = _sample(8)
    ref = backend.upload_dataset(
        write_jsonl(smollm2_data_dir.parent / "eight.jsonl", data),
        name="eight.jsonl",
        task=Task.CHAT_COMPLETION,
    )
    spec = JobSpec(
        name="smol-short",
        base_model=smollm2.NAME,
        training=ref,
        hyperparameters=Hyperparameters(n_epochs=1, batch_size=4),
        output_model_name="smol-support",
    )
    try:
        backend.submit_job(spec)
        job = harness.wait_job(spec.name, lambda j: j.state.terminal, timeout=240)
        assert job.state is JobState.SUCCEEDED, job.error
        messages = [e.message for e in job.events]
        assert not any(m.startswith("Converting") for m in messages), "the session's conversion is reused"
        assert any(m.startswith(f"Training {smollm2.NAME} on 8 examples") for m in messages)
        assert [c.number for c in backend.list_checkpoints(spec.name)] == [1]
        assert job.output_model == "smol-support"

        backend.deploy_model("smol-support", "smol-ep")
        ep = harness.wait_endpoint("smol-ep", lambda e: e.state.terminal, timeout=120)
        assert ep.state is EndpointState.READY, ep.error
        system, user, _ = data[0]["messages"]
        request = ChatRequest(
            messages=(ChatMessage(**system), ChatMessage(**user)), temperature=0, max_tokens=16
        )
        reply = backend.chat("smol-ep", request)
        assert reply.content.strip() and "<|im_end|>" not in reply.content
        assert reply.usage.completion_tokens <= 16
        port = int((ep.scoring_uri or "").split(":")[2].split("/")[0])
        key = (smollm2_data_dir / "endpoints" / "smol-ep" / "key").read_text().strip()
        body = {"messages": [system, user], "max_tokens": 16, "temperature": 0}
        chunks, done = sse_events(port, {**body, "stream": True}, key)
        streamed = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
        assert done and streamed == reply.content
        status, _, base = post_json(
            port, "/v1/chat/completions", {**body, "model": smollm2.NAME}, {"Authorization": key}
        )
        assert status == 200 and base["model"] == smollm2.NAME
        assert base["choices"][0]["message"]["content"].strip()
    finally:
        backend.stop_all()
