"""CUDA when present: the trainer and the generator take the same code path on a GPU as on the CPU.

The device choice is checked everywhere (torch's CUDA probes replaced); the run on a real GPU is skipped
on a machine without one, such as CI here.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from bot.backends.local import tiny, trainer
from bot.backends.local.data import encode, read_examples
from bot.backends.local.generation import HFGenerator
from tests.bot.backends.local.fixtures import examples, write_jsonl

torch = pytest.importorskip("torch")

needs_gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.mark.parametrize(("bf16", "dtype"), [(True, "bfloat16"), (False, "float16")])
def test_a_gpu_is_picked_in_half_precision_when_present(
    monkeypatch: pytest.MonkeyPatch, bf16: bool, dtype: str
) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: bf16)
    assert trainer.pick_device() == ("cuda", getattr(torch, dtype))


def test_the_cpu_in_full_precision_without_a_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert trainer.pick_device() == ("cpu", torch.float32)


@needs_gpu
def test_training_and_generation_run_on_the_gpu(tmp_path: Path) -> None:
    device, dtype = trainer.pick_device()
    assert device == "cuda"
    model, tok = trainer.load_base(tiny.ensure(tmp_path / "models"), device=device, dtype=dtype)
    cfg = trainer.TrainConfig(n_epochs=3, batch_size=4, learning_rate=3e-3, seed=1)
    model = trainer.add_lora(model, cfg)
    assert {p.device.type for p in model.parameters()} == {"cuda"}
    rows = [
        encode(tok, ex, max_length=256)
        for ex in read_examples(write_jsonl(tmp_path / "t.jsonl", examples(12)))
    ]

    result = trainer.train(model, rows, cfg, pad_id=int(tok.pad_token_id), device=device, valid_data=rows[:4])

    losses = [e.train_loss for e in result.epochs]
    assert len(losses) == 3 and all(math.isfinite(x) for x in losses)
    assert losses[-1] < losses[0]
    assert result.epochs[-1].valid_loss is not None and math.isfinite(result.epochs[-1].valid_loss)

    generator = HFGenerator(model, tok, device=device, context_length=512)
    prompt = generator.prompt_tokens([{"role": "user", "content": "Where is my order?"}])
    alone = generator.generate(prompt, temperature=0.0, max_tokens=8)
    assert 0 < alone.completion_tokens <= 8
    batch = generator.generate_batch([prompt, prompt[:-1]], [8, 8])
    assert [0 < g.completion_tokens <= 8 for g in batch] == [True, True]
