"""``ftbot submit job.yaml``: the article's CLI YAML, read by azure-ai-ml's ``load_job``, submitted through
``AzureBackend.submit_job`` on the fake Azure ML service."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from bot.cli.submit import EXIT_REFUSED, EXIT_UNREADABLE, register, spec_from_yaml
from commands.errors import InvalidInput
from commands.models import Task
from tests.bot.backends.fake_azure import META, AzureWorld, error_body, make_world

TRAIN = '{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}\n'

ARTICLE_YAML = """\
type: finetuning
name: llama-ft-cli-1
experiment_name: llama-finetuning-experiment
display_name: llama-display
task: chatCompletion
model_provider: custom
model:
  type: mlflow_model
  path: azureml://registries/azureml-meta/models/{model}/versions/4
training_data: ./train.jsonl
validation_data:
  type: uri_file
  path: ./validation.jsonl
hyperparameters:
  num_train_epochs: "2"
  per_device_train_batch_size: "1"
  learning_rate: "0.00002"
{extra_hp}tags:
  foo_tag: bar
outputs:
  registered_model:
    name: llama-finetune-registered
    type: mlflow_model
"""


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> AzureWorld:
    monkeypatch.setenv("FTBOT_DATA_DIR", str(tmp_path / "data"))  # the store and datasets `submit` keeps
    monkeypatch.delenv("FTBOT_DATABASE_URL", raising=False)
    return make_world(monkeypatch)


def _yaml(tmp_path: Path, text: str | None = None, extra_hp: str = "") -> Path:
    (tmp_path / "train.jsonl").write_text(TRAIN * 12, encoding="utf-8")  # checked first: >= 10
    (tmp_path / "validation.jsonl").write_text(TRAIN, encoding="utf-8")
    path = tmp_path / "job.yaml"
    path.write_text(text if text is not None else ARTICLE_YAML.format(model=META, extra_hp=extra_hp))
    return path


def _app(world: AzureWorld) -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """test app"""

    register(app, backend_factory=lambda: world.backend)
    return app


def test_the_article_yaml_is_submitted_through_the_backend(world: AzureWorld, tmp_path: Path) -> None:
    path = _yaml(tmp_path)
    result = CliRunner().invoke(_app(world), ["submit", str(path)])
    assert result.exit_code == 0, result.output
    assert "Submitted llama-ft-cli-1: queued (NotStarted)" in result.output

    put = world.fake.calls("PUT", r"/jobs/llama-ft-cli-1$")
    assert len(put) == 1 and put[0].api_version == "2024-10-01-preview"
    props = put[0].body["properties"]
    details = props["fineTuningDetails"]
    assert details["taskType"] == "chatCompletion"
    assert (
        details["model"]["uri"] == f"azureml://registries/azureml-meta/models/{META}/versions/4"
    )  # pin kept
    assert "/data/llama-ft-cli-1-training/versions/" in details["trainingData"]["uri"]  # as Slack names it
    assert "/data/llama-ft-cli-1-validation/versions/" in details["validationData"]["uri"]
    assert details["hyperParameters"] == {
        "per_device_train_batch_size": "1",
        "learning_rate": "0.00002",
        "num_train_epochs": "2",
    }
    assert props["outputs"]["registered_model"]["assetName"] == "llama-finetune-registered"
    assert props["tags"]["foo_tag"] == "bar" and props["tags"]["ftbot.source"] == "cli"
    assert world.fake.calls("PUT", r"/marketplaceSubscriptions/")  # same path as Slack: subscription first
    uploads = [r.body for r in world.fake.calls("PUT") if r.host.endswith("blob.core.windows.net") and r.body]
    assert all(body.startswith(b"\xef\xbb\xbf") for body in uploads) and len(uploads) == 2

    again = CliRunner().invoke(_app(world), ["submit", str(path), "--json"])
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout) | {"studio_url": None} == {
        "ok": True,
        "job": "llama-ft-cli-1",
        "state": "queued",
        "service_status": "NotStarted",
        "base_model": META,
        "studio_url": None,
    }
    assert len(world.fake.calls("PUT", r"/jobs/")) == 1  # idempotent on the job name


def test_service_refusal_exits_1_with_the_message(world: AzureWorld, tmp_path: Path) -> None:
    world.fake.inject(
        "PUT", r"/jobs/", 400, error_body("UserError", "Serverless FineTuning not supported in westus.")
    )
    result = CliRunner().invoke(_app(world), ["submit", str(_yaml(tmp_path)), "--json"])
    assert result.exit_code == EXIT_REFUSED
    out = json.loads(result.stdout)
    assert out["ok"] is False and out["code"] == "job_failed" and out["job"] == "llama-ft-cli-1"
    assert "Serverless FineTuning not supported in westus." in out["message"]


def test_unusable_files_exit_2(world: AzureWorld, tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(_app(world), ["submit", str(tmp_path / "nope.yaml")]).exit_code == EXIT_UNREADABLE
    no_output = ARTICLE_YAML.format(model=META, extra_hp="").split("outputs:")[0]
    result = runner.invoke(_app(world), ["submit", str(_yaml(tmp_path, no_output))])
    assert result.exit_code == EXIT_UNREADABLE and "outputs.registered_model.name" in result.output
    command = "type: command\ncommand: echo hi\nenvironment: azureml:x:1\ncompute: cpu\n"
    result = runner.invoke(_app(world), ["submit", str(_yaml(tmp_path, command))])
    assert result.exit_code == EXIT_UNREADABLE and "finetuning" in result.output
    assert world.fake.calls("PUT") == []


def test_spec_from_yaml_maps_fields_and_warns_about_dropped_hyperparameters(tmp_path: Path) -> None:
    text = ARTICLE_YAML.format(model=META, extra_hp="").replace(
        'learning_rate: "0.00002"\n', 'learning_rate: "0.00003"\n  lora_r: "8"\n'
    )
    path = _yaml(tmp_path, text.replace("task: chatCompletion", "task: textCompletion"))
    spec, warnings = spec_from_yaml(path, name="My Job 7")
    assert spec.name == "my-job-7" and spec.task is Task.TEXT_COMPLETION
    assert spec.base_model == f"azureml://registries/azureml-meta/models/{META}/versions/4"
    assert spec.training.kind == "file" and spec.training.value == str(tmp_path / "train.jsonl")
    assert spec.validation is not None and spec.validation.value == str(tmp_path / "validation.jsonl")
    assert spec.hyperparameters.n_epochs == 2 and spec.hyperparameters.batch_size == 1
    assert spec.hyperparameters.learning_rate_multiplier == pytest.approx(1.5)
    assert warnings == ["hyperparameters ftbot does not pass on: lora_r"]
    with pytest.raises(InvalidInput, match="not supported"):
        spec_from_yaml(_yaml(tmp_path, text.replace("task: chatCompletion", "task: imageClassification")))
    with pytest.raises(InvalidInput, match=r"(?s)azure-ai-ml accepts.*task"):  # load_job's own schema check
        spec_from_yaml(_yaml(tmp_path, text.replace("task: chatCompletion", "task: ChatCompletion")))


def test_urls_and_assets_in_yaml_are_passed_as_refs(tmp_path: Path) -> None:
    text = (
        ARTICLE_YAML.format(model=META, extra_hp="")
        .replace(
            "training_data: ./train.jsonl",
            "training_data: https://acct.blob.core.windows.net/d/t.jsonl?sig=S",
        )
        .replace("path: ./validation.jsonl", "path: azureml:slack-valid:3")
    )
    spec, _ = spec_from_yaml(_yaml(tmp_path, text))
    assert spec.training.kind == "url" and spec.training.name == "t.jsonl"
    assert spec.validation is not None and spec.validation.kind == "asset"
    assert spec.validation.value == "azureml:slack-valid:3"


def test_a_project_data_asset_in_the_yaml_is_checked_and_referenced_not_uploaded(
    world: AzureWorld, tmp_path: Path
) -> None:
    ref = world.fake.add_data_asset("support-chats", "2", (TRAIN * 12).encode())
    text = ARTICLE_YAML.format(model=META, extra_hp="").replace(
        "training_data: ./train.jsonl", f"training_data: {ref}"
    )
    result = CliRunner().invoke(_app(world), ["submit", str(_yaml(tmp_path, text))])
    assert result.exit_code == 0, result.output

    (put,) = world.fake.calls("PUT", r"/jobs/llama-ft-cli-1$")
    details = put.body["properties"]["fineTuningDetails"]
    assert details["trainingData"]["uri"].endswith("/data/support-chats/versions/2")
    assert [c.path.rsplit("/data/", 1)[1] for c in world.fake.calls("PUT", r"/data/")] == [
        details["validationData"]["uri"].rsplit("/data/", 1)[1]  # only the local validation file is uploaded
    ]


def test_an_unknown_data_asset_in_the_yaml_is_refused_and_nothing_submitted(
    world: AzureWorld, tmp_path: Path
) -> None:
    text = ARTICLE_YAML.format(model=META, extra_hp="").replace(
        "training_data: ./train.jsonl", "training_data: azureml:no-such-data:1"
    )
    result = CliRunner().invoke(_app(world), ["submit", str(_yaml(tmp_path, text))])
    assert result.exit_code == EXIT_REFUSED
    assert "no-such-data:1 was not found" in result.output
    assert world.fake.calls("PUT", r"/jobs/") == []
