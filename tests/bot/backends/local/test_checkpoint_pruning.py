"""How many per-epoch checkpoints a local job keeps (``FTBOT_LOCAL_CHECKPOINTS``): the N most recent plus
the best by validation loss; the rule, the pruning after each save, and a real ftbot-tiny job."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.backends.local import LocalBackend, checkpoints
from bot.backends.local.layout import DataDir, JobDir
from bot.runtime.settings import Settings
from commands.models import Hyperparameters, JobSpec, JobState, Task
from tests.bot.backends.local.conftest import LocalHarness
from tests.bot.backends.local.fixtures import examples, write_jsonl


def test_keeps_the_most_recent_and_the_best_by_validation_loss() -> None:
    losses = {1: 1.0, 2: 0.5, 3: 0.7, 4: 0.9, 5: 1.1}
    assert checkpoints.kept(losses, 2) == {2, 4, 5}  # epoch 2 has the lowest validation loss
    assert checkpoints.kept(losses, 5) == {1, 2, 3, 4, 5}
    assert checkpoints.kept(losses, 0) == {2}
    assert checkpoints.kept({1: 0.4, 2: 0.4, 3: 0.6}, 1) == {1, 3}  # the earliest of equal losses
    assert checkpoints.kept({1: None, 2: None, 3: None}, 2) == {2, 3}  # no validation: the recent ones
    assert checkpoints.kept({}, 5) == set()


def _job(tmp_path: Path, keep: object) -> JobDir:
    job = DataDir(tmp_path).job("ft-prune")
    job.path.mkdir(parents=True)
    job.spec.write_text(json.dumps({"keep_checkpoints": keep}))
    return job


def _weights(folder: Path) -> None:
    (folder / "w.bin").write_text("x")


def _save(job: JobDir, epoch: int, valid_loss: float | None) -> None:
    metrics = {"train_loss": 1.0 / epoch, **({"valid_loss": valid_loss} if valid_loss is not None else {})}
    checkpoints.save(job, epoch, {"step": epoch * 10, "metrics": metrics}, lambda d: _weights(d))


def _epochs(job: JobDir) -> list[int]:
    return sorted(int(p.name.split("-")[1]) for p in checkpoints.folder(job).iterdir())


def test_each_save_prunes_to_the_setting(tmp_path: Path) -> None:
    job = _job(tmp_path, 2)
    for epoch, loss in ((1, 0.9), (2, 0.3), (3, 0.5), (4, 0.6), (5, 0.8)):
        _save(job, epoch, loss)
    assert _epochs(job) == [2, 4, 5]
    assert (checkpoints.folder(job) / "epoch-2" / "w.bin").is_file()  # the best stays whole


@pytest.mark.parametrize("setting", [None, "three", True, -1])
def test_a_missing_or_odd_setting_keeps_the_default(tmp_path: Path, setting: object) -> None:
    job = _job(tmp_path, setting)
    for epoch in range(1, 8):
        _save(job, epoch, None)
    assert _epochs(job) == [3, 4, 5, 6, 7]  # DEFAULT_KEEP = 5


def test_the_setting_reaches_the_backend(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, FTBOT_DATA_DIR=str(tmp_path), FTBOT_LOCAL_CHECKPOINTS="2")
    assert LocalBackend.from_settings(settings).keep_checkpoints == 2
    assert Settings(_env_file=None, FTBOT_DATA_DIR=str(tmp_path)).local_checkpoints == 5


@pytest.mark.slow
def test_a_real_job_keeps_the_latest_and_the_best(
    make_backend: Callable[..., LocalBackend], tmp_path: Path
) -> None:
    backend = make_backend(keep_checkpoints=1)
    harness = LocalHarness(backend, tmp_path)
    train = write_jsonl(tmp_path / "t.jsonl", examples(12))
    valid = write_jsonl(tmp_path / "v.jsonl", examples(6))
    spec = JobSpec(
        name="ft-prune-real",
        base_model="ftbot-tiny",
        training=backend.upload_dataset(train, name="t.jsonl", task=Task.CHAT_COMPLETION),
        validation=backend.upload_dataset(valid, name="v.jsonl", task=Task.CHAT_COMPLETION),
        hyperparameters=Hyperparameters(n_epochs=4, batch_size=4),
        output_model_name="ft-prune-real-model",
    )
    backend.submit_job(spec)
    harness.wait_job(spec.name, lambda j: j.state.terminal)
    assert backend.get_job(spec.name).state is JobState.SUCCEEDED
    reported = {
        m.epoch: m.valid_loss
        for m in backend.get_job(spec.name).metrics
        if m.epoch is not None and m.valid_loss is not None
    }
    assert sorted(reported) == [1, 2, 3, 4]
    best = min(reported, key=lambda e: (reported[e], e))
    listed = backend.list_checkpoints(spec.name)
    assert {c.number for c in listed} == {4, best}  # the most recent one, and the best by validation loss
    assert all(
        (checkpoints.folder(backend.data.job(spec.name)) / f"epoch-{c.number}").is_dir() for c in listed
    )
