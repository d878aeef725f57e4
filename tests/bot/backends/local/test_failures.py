"""A base model that cannot be prepared fails the job with a clear reason and leaves nothing half-written:
a truncated GGUF file, a disk that fills up during the conversion, a folder that is not a causal LM.
The worker's entry point runs in-process here (no subprocess), on a job folder written by hand."""

from __future__ import annotations

import errno
import json
from pathlib import Path
from typing import Any

import pytest

from bot.backends.local import files, smollm2, trainer
from bot.backends.local.layout import DataDir, JobDir
from tests.bot.backends.local.fixtures import examples, write_jsonl


def _job(tmp_path: Path, **spec: Any) -> JobDir:
    data = DataDir(tmp_path / "data")
    job = data.job("job-1")
    job.path.mkdir(parents=True)
    training = write_jsonl(tmp_path / "train.jsonl", examples(4))
    files.atomic_write_json(
        job.spec,
        {
            "name": "job-1",
            "data_dir": str(data.root),
            "training": str(training),
            "validation": None,
            "n_epochs": 1,
            "batch_size": 2,
            "learning_rate": 1e-3,
            "threads": 1,
            "output_model_name": "out",
            **spec,
        },
    )
    files.atomic_write_json(job.status, {"state": "queued"})
    return job


def _failed(job: JobDir) -> str:
    status = files.read_json(job.status) or {}
    assert status["state"] == "failed"
    events = files.read_jsonl(job.events)
    assert events[-1]["kind"] == "failed" and events[-1]["message"] == status["error"]
    return str(status["error"])


def _builtin_smollm2(tmp_path: Path) -> JobDir:
    return _job(
        tmp_path,
        base_model=smollm2.NAME,
        base_path=str(tmp_path / "data" / "models" / smollm2.NAME),
        builtin=True,
        builtin_name=smollm2.NAME,
    )


@pytest.mark.skipif(smollm2.gguf_path() is None, reason="the smollm2 extra is not installed")
def test_a_truncated_gguf_fails_the_job_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = smollm2.gguf_path()
    assert real is not None
    truncated = tmp_path / smollm2.GGUF_FILE
    with real.open("rb") as fh:
        truncated.write_bytes(fh.read(3_000_000))
    monkeypatch.setattr(smollm2, "gguf_path", lambda: truncated)
    job = _builtin_smollm2(tmp_path)

    assert trainer.main([str(job.path)]) == 1
    reason = _failed(job)
    assert reason.startswith("The base model could not be prepared:")
    assert "corrupt or truncated" in reason and "pip install 'ftbot[smollm2]'" in reason
    models = tmp_path / "data" / "models"
    assert [p.name for p in models.iterdir()] == [f".{smollm2.NAME}.lock"], "nothing half-written"


def test_a_full_disk_during_conversion_fails_the_job_and_the_next_attempt_starts_clean(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / smollm2.GGUF_FILE
    source.write_bytes(b"GGUF")
    monkeypatch.setattr(smollm2, "gguf_path", lambda: source)

    def disk_full(src: Path, out: Path) -> None:
        (out / "model.safetensors").write_bytes(b"\0" * 1024)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(smollm2, "write_folder", disk_full)
    job = _builtin_smollm2(tmp_path)
    assert trainer.main([str(job.path)]) == 1
    reason = _failed(job)
    assert "the disk is full" in reason and "the next attempt starts again" in reason
    models = tmp_path / "data" / "models"
    assert [p.name for p in models.iterdir()] == [f".{smollm2.NAME}.lock"]
    events = [e["message"] for e in files.read_jsonl(job.events)]
    assert any(m.startswith("Converting smollm2-135m-instruct for its first use") for m in events)


@pytest.mark.parametrize(
    ("config", "words"),
    [
        ({"model_type": "bert", "architectures": ["BertModel"]}, "is not a causal language model"),
        (None, "has no config.json"),
    ],
)
def test_a_folder_that_is_not_a_causal_lm_fails_the_job_with_the_reason(
    tmp_path: Path, config: dict[str, Any] | None, words: str
) -> None:
    folder = tmp_path / "not-a-chat-model"
    folder.mkdir()
    if config is not None:
        (folder / "config.json").write_text(json.dumps(config))
    job = _job(tmp_path, base_model="mine", base_path=str(folder), builtin=False)
    assert trainer.main([str(job.path)]) == 1
    reason = _failed(job)
    assert words in reason and str(folder) in reason
    assert not job.adapter.exists() and not (job.path / "checkpoints").exists()
