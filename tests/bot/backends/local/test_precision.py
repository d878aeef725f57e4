"""Training precision on CPU (FTBOT_LOCAL_PRECISION): bfloat16 mixed precision where the CPU multiplies
bfloat16 natively, float32 elsewhere or when asked; what the worker spec and the job's events say."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.backends.local import LocalBackend, catalog, tiny, trainer
from bot.backends.local.data import encode, read_examples
from bot.runtime.settings import Settings
from commands.models import JobState
from tests.bot.backends.local.conftest import LocalHarness
from tests.bot.backends.local.fixtures import examples, write_jsonl

FLAGS = "fpu vme sse sse2 avx2 avx512f avx512bw"


@pytest.mark.parametrize(
    ("flags", "native"),
    [
        (FLAGS, False),
        (FLAGS + " avx512_bf16 avx512_vnni", True),
        (FLAGS + " amx_bf16 amx_tile", True),
        ("avx512_bf16_but_not_really", False),  # whole flags only
    ],
)
def test_native_bfloat16_is_read_from_the_cpu_flags(tmp_path: Path, flags: str, native: bool) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: {flags}\n\nprocessor\t: 1\n")
    assert catalog.cpu_bf16(cpuinfo) is native


def test_no_cpuinfo_means_no_native_bfloat16(tmp_path: Path) -> None:
    assert catalog.cpu_bf16(tmp_path / "missing") is False
    empty = tmp_path / "empty"
    empty.write_text("processor\t: 0\n")
    assert catalog.cpu_bf16(empty) is False


@pytest.mark.parametrize(("native", "auto"), [(True, "bf16"), (False, "fp32")])
def test_auto_picks_bf16_only_where_native(monkeypatch: pytest.MonkeyPatch, native: bool, auto: str) -> None:
    monkeypatch.setattr(catalog, "cpu_bf16", lambda: native)
    assert catalog.resolve_precision("auto") == auto
    assert catalog.resolve_precision("bf16") == "bf16"  # as asked: emulated where not native
    assert catalog.resolve_precision("fp32") == "fp32"
    with pytest.raises(ValueError, match=r"precision must be one of auto, bf16, fp32, not 'fp16'"):
        catalog.resolve_precision("fp16")


def test_the_setting_reaches_the_backend_and_refuses_other_values(tmp_path: Path) -> None:
    settings = Settings(FTBOT_DATA_DIR=tmp_path / "data", FTBOT_LOCAL_PRECISION="fp32")
    assert LocalBackend.from_settings(settings).precision == "fp32"
    assert Settings(FTBOT_DATA_DIR=tmp_path / "data").local_precision == "auto"
    with pytest.raises(ValidationError, match="FTBOT_LOCAL_PRECISION"):
        Settings(FTBOT_DATA_DIR=tmp_path / "data", FTBOT_LOCAL_PRECISION="fp16")


def test_autocast_only_on_cpu_in_bf16() -> None:
    torch = trainer.setup_torch(1)
    layer = torch.nn.Linear(8, 4)
    x = torch.randn(2, 8)
    with trainer.autocast("cpu", "bf16"):
        assert layer(x).dtype == torch.bfloat16
    with trainer.autocast("cpu", "fp32"):
        assert layer(x).dtype == torch.float32
    with trainer.autocast("cuda", "bf16"):  # a CUDA model is loaded in its own dtype
        assert not torch.is_autocast_enabled("cpu")


def _train(tmp_path: Path, precision: str) -> tuple[list[float], list[str]]:
    torch = trainer.setup_torch(1)
    base = tiny.ensure(tmp_path / "models")
    model, tok = trainer.load_base(base, device="cpu", dtype=torch.float32)
    cfg = trainer.TrainConfig(
        n_epochs=2,
        batch_size=4,
        learning_rate=tiny.LEARNING_RATE,
        seed=1,
        lora_r=tiny.LORA_R,
        lora_alpha=tiny.LORA_ALPHA,
        lora_targets=tiny.LORA_TARGETS,
        precision=precision,
    )
    model = trainer.add_lora(model, cfg)
    data = [
        encode(tok, ex, max_length=256)
        for ex in read_examples(write_jsonl(tmp_path / "t.jsonl", examples(12)))
    ]
    result = trainer.train(model, data, cfg, pad_id=int(tok.pad_token_id), device="cpu", valid_data=data[:4])
    dtypes = sorted({str(p.dtype) for p in model.parameters() if p.requires_grad})
    return [e.train_loss for e in result.epochs] + [e.valid_loss or 0.0 for e in result.epochs], dtypes


def test_bf16_training_keeps_float32_parameters_and_learns(tmp_path: Path) -> None:
    fp32, fp32_dtypes = _train(tmp_path, "fp32")
    bf16, bf16_dtypes = _train(tmp_path, "bf16")
    assert fp32_dtypes == bf16_dtypes == ["torch.float32"]  # LoRA weights, and so AdamW's state
    assert bf16[1] < bf16[0]  # the second epoch's training loss is lower
    assert bf16 != fp32  # the matrix products really ran in bfloat16
    assert bf16 == pytest.approx(fp32, rel=0.05)  # and to the same effect


def test_the_job_says_its_precision(make_backend: Callable[..., LocalBackend], tmp_path: Path) -> None:
    harness = LocalHarness(make_backend(precision="bf16"), tmp_path)
    job = harness.backend.submit_job(harness.spec("job-bf16"))
    job = harness.wait_job(job.id, lambda j: j.state.terminal)
    assert job.state is JobState.SUCCEEDED, job.error
    started = next(e.message for e in job.events if e.message.startswith("Training"))
    assert " on cpu in bfloat16 mixed precision: 1 epochs" in started
    spec = harness.backend.data.jobs / job.id / "spec.json"
    assert '"precision": "bf16"' in spec.read_text()
