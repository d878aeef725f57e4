"""``ftbot submit job.json`` on the foundry backend: a v1 job create body with local paths, submitted
through ``FoundryBackend.submit_job`` on the wire fake."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from bot.backends.foundry.backend import FoundryBackend
from bot.cli.submit import EXIT_UNREADABLE, register
from bot.cli.submit_json import spec_from_json
from commands.errors import InvalidInput
from commands.models import Method
from tests.bot.backends.foundry.conftest import CHAT, DPO
from tests.fakes.foundry import GPT41, FakeFoundry, make_foundry


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[tuple[FoundryBackend, FakeFoundry]]:
    monkeypatch.setenv("FTBOT_DATA_DIR", str(tmp_path / "data"))  # the store and datasets `submit` keeps
    monkeypatch.delenv("FTBOT_DATABASE_URL", raising=False)
    backend, fake, _ = make_foundry()
    yield backend, fake
    fake.settle()


def _app(backend: FoundryBackend) -> typer.Typer:
    app = typer.Typer()
    app.command("noop")(lambda: None)  # typer needs two commands to keep `submit` as a subcommand
    register(app, backend_factory=lambda: backend)
    return app


def test_dpo_body_is_submitted_with_seed_suffix_and_tier(
    world: tuple[FoundryBackend, FakeFoundry], tmp_path: Path
) -> None:
    backend, fake = world
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "prefs.jsonl").write_text(DPO * 12, encoding="utf-8")
    job = tmp_path / "job.json"
    job.write_text(
        json.dumps(
            {
                "model": GPT41,
                "training_file": "data/prefs.jsonl",
                "method": {"type": "dpo", "dpo": {"hyperparameters": {"beta": 0.2, "n_epochs": 2}}},
                "suffix": "prefs",
                "seed": 42,
                "trainingType": "GlobalStandard",
                "integrations": [],
            }
        )
    )
    result = CliRunner().invoke(_app(backend), ["submit", str(job), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["ok"] is True and out["service_status"] == "pending"
    assert "`integrations` is not passed on" in result.stderr
    (create,) = fake.requests_to("POST", r"^/fine_tuning/jobs$")
    assert create.body["seed"] == 42 and create.body["suffix"] == "prefs"
    assert create.body["trainingType"] == "GlobalStandard"
    hp = create.body["method"]["dpo"]["hyperparameters"]
    assert hp["beta"] == 0.2 and hp["n_epochs"] == 2 and hp["batch_size"] == "auto"


def test_spec_from_json_defaults_and_refusals(tmp_path: Path) -> None:
    (tmp_path / "train.jsonl").write_text(CHAT * 12, encoding="utf-8")
    job = tmp_path / "job.json"
    job.write_text(
        json.dumps({"model": GPT41, "training_file": "train.jsonl", "hyperparameters": {"n_epochs": 3}})
    )
    spec, warnings = spec_from_json(job, name="My Job")
    assert spec.name == "my-job" and spec.method is Method.SUPERVISED and warnings == []
    assert spec.hyperparameters.n_epochs == 3 and spec.training.value == str(tmp_path / "train.jsonl")
    for body, problem in (
        ({"training_file": "train.jsonl"}, "`model` is missing"),
        ({"model": GPT41, "training_file": "nope.jsonl"}, "no such file"),
        (
            {"model": GPT41, "training_file": "train.jsonl", "method": {"type": "reinforcement"}},
            "supervised or dpo",
        ),
        ({"model": GPT41, "training_file": "train.jsonl", "seed": -1}, "`seed`"),
        ({"model": GPT41, "training_file": "train.jsonl", "hyperparameters": {"n_epochs": 0}}, "n_epochs"),
    ):
        job.write_text(json.dumps(body))
        with pytest.raises(InvalidInput, match=problem):
            spec_from_json(job)


def test_unreadable_json_exits_2(world: tuple[FoundryBackend, FakeFoundry], tmp_path: Path) -> None:
    backend, fake = world
    job = tmp_path / "job.json"
    job.write_text("{not json")
    result = CliRunner().invoke(_app(backend), ["submit", str(job)])
    assert result.exit_code == EXIT_UNREADABLE and "not a JSON file" in result.stderr
    assert not fake.calls


def test_a_file_uploaded_before_is_checked_and_referenced_not_uploaded_again(
    world: tuple[FoundryBackend, FakeFoundry], tmp_path: Path
) -> None:
    backend, fake = world
    file_id = fake.add_file("support.jsonl", (CHAT * 12).encode())
    job = tmp_path / "job.json"
    job.write_text(json.dumps({"model": GPT41, "training_file": file_id}))
    result = CliRunner().invoke(_app(backend), ["submit", str(job), "--json"])
    assert result.exit_code == 0, result.output
    (created,) = fake.jobs.values()
    assert created["training_file"] == file_id
    assert fake.requests_to("POST", r"^/files$") == []
