"""LocalBackend bookkeeping that needs no worker: models, datasets, refusals, defaults, light imports."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.backends import build_backend
from bot.backends.local import LocalBackend, smollm2
from bot.backends.local.backend import _cookbook_epochs, _default_epochs, default_batch_size
from bot.runtime.settings import Settings
from commands.errors import Conflict, InvalidInput, NotFound
from commands.models import DatasetRef, JobSpec, Task
from commands.ports import FineTuningBackend
from tests.bot.backends.local.fixtures import examples, write_jsonl


def test_importing_and_using_the_backend_does_not_load_torch(tmp_path: Path) -> None:
    code = (
        "import sys; from pathlib import Path; from bot.backends.local import LocalBackend; "
        f"b = LocalBackend(Path({str(tmp_path)!r})); b.list_base_models(); b.list_endpoints(); "
        "print(sorted(m for m in ('torch', 'transformers', 'peft') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "[]"


def test_built_from_settings_with_user_models(tmp_path: Path) -> None:
    folder = tmp_path / "phi"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"max_position_embeddings": 131072}))
    settings = Settings(
        FTBOT_DATA_DIR=tmp_path / "data",
        FTBOT_LOCAL_MODELS=f"phi={folder},gone={tmp_path / 'missing'}",
        FTBOT_LOCAL_REQUESTS_PER_MINUTE=7,
    )
    backend = build_backend(settings)
    assert isinstance(backend, LocalBackend) and isinstance(backend, FineTuningBackend)
    assert backend.endpoints.requests_per_minute == 7
    builtin = ["ftbot-tiny", "smollm2-135m-instruct"] if smollm2.available() else ["ftbot-tiny"]
    assert [m.name for m in backend.list_base_models()] == [*builtin, "gone", "phi"]
    assert backend.get_base_model("phi").context_length == 131072
    assert "not found" in backend.get_base_model("gone").description
    spec = JobSpec(
        name="job-gone",
        base_model="gone",
        training=DatasetRef(kind="file", value=str(tmp_path / "x.jsonl")),
        output_model_name="m",
    )
    with pytest.raises(InvalidInput, match=r"no config\.json"):
        backend.submit_job(spec)


@pytest.fixture
def backend(make_backend: Callable[..., LocalBackend]) -> LocalBackend:
    return make_backend()


def test_upload_copies_the_file_under_a_content_address(backend: LocalBackend, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "my train.jsonl", examples(12))
    ref = backend.upload_dataset(path, name="my train.jsonl", task=Task.CHAT_COMPLETION)
    assert ref.kind == "asset" and ref.name == "my train.jsonl"
    stored = backend.data.datasets / f"{ref.value}.jsonl"
    assert stored.read_bytes() == path.read_bytes()
    assert backend.upload_dataset(path, name="again", task=Task.CHAT_COMPLETION).value == ref.value
    with pytest.raises(InvalidInput):
        backend.upload_dataset(tmp_path / "missing.jsonl", name="x", task=Task.CHAT_COMPLETION)
    with pytest.raises(InvalidInput, match="chat"):
        backend.upload_dataset(path, name="x", task=Task.TEXT_COMPLETION)


def _spec(training: DatasetRef, **changes: object) -> JobSpec:
    values: dict[str, object] = {
        "name": "job-x",
        "base_model": "ftbot-tiny",
        "training": training,
        "output_model_name": "model-x",
    }
    values.update(changes)
    return JobSpec(**values)


def test_submit_refusals_come_before_any_worker_starts(backend: LocalBackend, tmp_path: Path) -> None:
    ref = DatasetRef(kind="file", value=str(write_jsonl(tmp_path / "t.jsonl", examples(12))))
    with pytest.raises(InvalidInput, match="downloads URLs first"):
        backend.submit_job(_spec(DatasetRef(kind="url", value="https://example.com/d.jsonl")))
    with pytest.raises(InvalidInput, match="No local base model"):
        backend.submit_job(_spec(ref, base_model="gpt-9"))
    with pytest.raises(NotFound):
        backend.submit_job(_spec(DatasetRef(kind="asset", value="nope-123")))
    with pytest.raises(InvalidInput, match="cannot name a model"):
        backend.submit_job(_spec(ref, output_model_name="../escape"))
    (backend.data.registry / "taken.json").write_text("{}")
    with pytest.raises(Conflict) as taken:
        backend.submit_job(_spec(ref, output_model_name="taken"))
    assert taken.value.existing == "taken"
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    with pytest.raises(InvalidInput, match="no examples"):
        backend.submit_job(_spec(DatasetRef(kind="file", value=str(empty))))
    assert backend.jobs.names() == []


def test_models_and_endpoints_that_do_not_exist(backend: LocalBackend) -> None:
    with pytest.raises(NotFound):
        backend.delete_model("no-such-model")
    with pytest.raises(NotFound):
        backend.deploy_model("no-such-model", "ep-1")
    with pytest.raises(InvalidInput, match="base model"):
        backend.deploy_model("ftbot-tiny", "ep-1")
    with pytest.raises(InvalidInput):
        backend.deploy_model("no-such-model", "../ep")
    backend.delete_endpoint("never-existed")  # not an error
    assert backend.list_endpoints() == []


@pytest.mark.parametrize(
    ("n", "epochs"), [(1, 25), (5, 20), (10, 10), (30, 3), (50, 3), (10_000, 2), (100_000, 1)]
)
def test_default_epochs_follow_the_cookbook_rule(n: int, epochs: int) -> None:
    assert _default_epochs(n) == epochs
    assert _cookbook_epochs(n) == epochs


@pytest.mark.parametrize(("n", "batch"), [(1, 1), (3, 3), (30, 4), (5_000, 10), (100_000, 32)])
def test_default_batch_size(n: int, batch: int) -> None:
    assert default_batch_size(n) == batch
