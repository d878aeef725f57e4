"""The trainer's batching, in-process on ftbot-tiny: micro-batches with accumulated gradients give the
same update as the whole batch, and batches are grouped by length."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from bot.backends.local import tiny, trainer
from bot.backends.local.data import Encoded, encode, read_examples
from tests.bot.backends.local.fixtures import examples, write_jsonl


def _enc(n: int) -> Encoded:
    return Encoded(input_ids=list(range(n)), labels=list(range(n)))


def test_micro_batches_stay_within_the_token_budget_longest_first() -> None:
    batch = [_enc(n) for n in (10, 40, 20, 30)]
    assert [[len(e.input_ids) for e in part] for part in trainer.micro_batches(batch, 0)] == [
        [40, 30, 20, 10]
    ]
    parts = trainer.micro_batches(batch, 80)
    assert [[len(e.input_ids) for e in part] for part in parts] == [[40, 30], [20, 10]]
    assert all(len(p) * len(p[0].input_ids) <= 80 for p in parts)
    assert [len(p) for p in trainer.micro_batches(batch, 1)] == [1, 1, 1, 1]  # never an empty part


def test_length_grouped_batches_cover_every_example_once() -> None:
    lengths = [random.Random(3).randint(5, 200) for _ in range(103)]
    batches = trainer.length_grouped_batches(lengths, 4, random.Random(0))
    assert sorted(i for b in batches for i in b) == list(range(103))
    assert all(len(b) <= 4 for b in batches)


def test_accumulated_gradients_equal_the_whole_batch(tmp_path: Path) -> None:
    torch = trainer.setup_torch(1)
    base = tiny.ensure(tmp_path / "models")
    path = write_jsonl(tmp_path / "t.jsonl", examples(6))
    grads = []
    for budget in (0, 60):
        model, tok = trainer.load_base(base, device="cpu", dtype=torch.float32)
        cfg = trainer.TrainConfig(
            n_epochs=1, batch_size=6, learning_rate=1e-3, seed=5, max_batch_tokens=budget
        )
        model = trainer.add_lora(model, cfg)
        data = [encode(tok, ex, max_length=256) for ex in read_examples(path)]
        if budget:
            assert len(trainer.micro_batches(data, budget)) > 1
        loss, _, n = trainer._accumulate(model, data, cfg, int(tok.pad_token_id), "cpu", True)
        grads.append(
            (loss, n, torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None]))
        )
    (loss_a, n_a, g_a), (loss_b, n_b, g_b) = grads
    assert n_a == n_b and loss_a == pytest.approx(loss_b, rel=1e-5)
    assert torch.allclose(g_a, g_b, rtol=1e-4, atol=1e-6)
