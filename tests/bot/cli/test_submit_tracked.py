"""``ftbot submit`` goes through the same launch as ``/finetune submit``: the job is checked first, gets its
row in the store a running ``ftbot serve`` uses (its scheduler, ticked here in process, follows it and
posts the card in ``--channel``), and ``/finetune status`` (a signed slash command) finds it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from bot.cli.launch import CLI_USER_PREFIX, cli_user
from bot.cli.submit import EXIT_REFUSED, EXIT_UNREADABLE, register
from bot.runtime.settings import Settings
from bot.ui.ids import Block as B
from commands.models import JobState
from commands.records import JobRecord
from tests.bot.listeners.test_costs import PRICES
from tests.fakes.foundry import GPT41
from tests.support.data import chat_lines
from tests.support.world import CHANNEL, World, block, open_world


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with open_world(tmp_path) as w:
        yield w


def _cli(world: World, *args: str, settings: Settings | None = None) -> tuple[int, str, str]:
    app = typer.Typer()
    app.command("noop")(lambda: None)  # typer needs two commands to keep `submit` as a subcommand
    register(
        app,
        backend_factory=(lambda: world.backend) if settings is None else None,
        settings_factory=lambda: settings or world.services.settings,
    )
    result = CliRunner().invoke(app, ["submit", *args])
    return result.exit_code, result.stdout, result.stderr


def _job_file(tmp_path: Path, data: str, **body: object) -> Path:
    (tmp_path / "train.jsonl").write_text(data, encoding="utf-8")
    path = tmp_path / "job.json"
    path.write_text(json.dumps({"model": "ftbot-tiny", "training_file": "train.jsonl", **body}))
    return path


def _row(world: World, job_id: str) -> JobRecord:
    with world.services.store.transaction() as tx:
        return tx.get_job(job_id)


def test_submit_with_channel_records_the_job_and_the_scheduler_posts_its_card(
    world: World, tmp_path: Path
) -> None:
    job_file = _job_file(tmp_path, chat_lines(30), suffix="cli")
    code, out, err = _cli(world, str(job_file), "--channel", CHANNEL, "--name", "cli-job-1")
    assert code == 0, err
    assert out.startswith("Submitted cli-job-1: queued")
    assert f"its card goes to channel {CHANNEL}" in out and "/finetune status cli-job-1" in out

    row = _row(world, "cli-job-1")
    assert row.user_id == cli_user() and row.user_id.startswith(CLI_USER_PREFIX)
    assert row.channel_id == CHANNEL and row.summary is not None and row.summary.examples == 30
    assert world.backend.calls["submit_job"] == 1 and row.spec.tags["ftbot.source"] == "cli"

    world.until(lambda: _row(world, "cli-job-1").state is JobState.SUCCEEDED)  # the scheduler follows it
    world.settle()
    card = world.card()
    fields = json.dumps(block(card.blocks, B.CARD_FIELDS))
    assert cli_user() in fields and "<@cli" not in fields  # the CLI user is text, never a mention
    assert any("succeeded" in m.text for m in world.thread())

    world.slash("status cli-job-1")
    world.wait_response("cli-job-1")

    code, out, _ = _cli(world, str(job_file), "--name", "cli-job-1", "--json")  # the name is the key
    assert code == 0 and json.loads(out)["state"] == "succeeded"
    assert world.backend.calls["submit_job"] == 1


def test_without_channel_the_job_is_tracked_but_has_no_card(world: World, tmp_path: Path) -> None:
    code, out, err = _cli(world, str(_job_file(tmp_path, chat_lines(30))))
    assert code == 0, err
    job_id = out.split()[1].rstrip(":")
    assert "no card in Slack (no --channel given)" in out
    assert _row(world, job_id).channel_id == ""

    world.until(lambda: _row(world, job_id).state is JobState.SUCCEEDED)
    world.settle()  # nothing owed to Slack: no card, no thread posts left waiting
    assert world.fake.channel_messages(CHANNEL) == [] and not world.fake.messages
    world.slash(f"status {job_id}")
    world.wait_response(job_id)


def test_a_bad_dataset_is_refused_with_slacks_line_numbered_errors_and_nothing_is_submitted(
    world: World, tmp_path: Path
) -> None:
    bad = chat_lines(11) + '{"messages": "oops"}\n'  # the same file as the world's bad.jsonl
    code, _, err = _cli(world, str(_job_file(tmp_path, bad)), "--channel", CHANNEL)
    assert code == EXIT_REFUSED
    assert "train.jsonl has 1 error(s), so nothing was submitted." in err

    world.slash(f"submit --model ftbot-tiny --data {world.files.url('bad.jsonl')}")
    slack = world.wait_response("nothing was submitted")
    slack_line = slack.split("nothing was submitted. ", 1)[1].strip()
    assert slack_line.startswith("line 12: ") and slack_line in err  # the same error, same line

    code, out, _ = _cli(world, str(_job_file(tmp_path, bad)), "--json")
    refused = json.loads(out)
    assert code == EXIT_REFUSED and refused["code"] == "dataset_invalid"
    assert [e["line"] for e in refused["errors"]] == [12]
    assert world.backend.calls["submit_job"] == 0
    with world.services.store.transaction() as tx:
        assert tx.find_jobs(limit=5) == []


def test_bad_channel_and_data_assets_exit_2_before_anything_is_recorded(world: World, tmp_path: Path) -> None:
    job_file = _job_file(tmp_path, chat_lines(30))
    code, _, err = _cli(world, str(job_file), "--channel", "#ml-team")
    assert code == EXIT_UNREADABLE and "--channel takes a Slack channel id" in err
    yaml = tmp_path / "job.yaml"
    yaml.write_text(
        "type: finetuning\ntask: chatCompletion\nmodel_provider: custom\n"
        "model:\n  path: azureml://registries/azureml/models/Phi-4-mini-instruct/versions/3\n"
        "training_data: azureml:slack-train:3\noutputs:\n  registered_model:\n    name: phi-ft\n"
    )
    code, _, err = _cli(world, str(yaml))  # a data asset on a backend that has none: refused, in words
    assert code == EXIT_REFUSED and "only the azure backend reads" in err and "local backend" in err
    yaml.write_text(yaml.read_text().replace("azureml:slack-train:3", "azureml:slack-train@latest"))
    code, _, err = _cli(world, str(yaml))  # an asset id in a form ftbot does not read
    assert code == EXIT_UNREADABLE and "azureml:slack-train@latest" in err
    assert "local JSONL path, an https URL" in err and "azureml:NAME:VERSION" in err
    with world.services.store.transaction() as tx:
        assert tx.find_jobs(limit=5) == []


def test_foundry_json_through_the_backend_settings_name(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No injected backend: the settings' own (FTBOT_BACKEND_FACTORY: the foundry wire fake)."""
    monkeypatch.setenv("FTBOT_BACKEND_FACTORY", "tests.fakes.foundry:backend_for_settings")
    settings = world.services.settings.model_copy(update={"backend": "foundry"})
    (tmp_path / "train.jsonl").write_text(chat_lines(12), encoding="utf-8")
    job = tmp_path / "job.json"
    job.write_text(json.dumps({"model": GPT41, "training_file": "train.jsonl", "seed": 7, "suffix": "s"}))
    code, out, err = _cli(world, str(job), "--channel", CHANNEL, "--json", settings=settings)
    assert code == 0, err
    answer = json.loads(out)
    assert answer["ok"] is True and answer["base_model"] == GPT41
    row = _row(world, answer["job"])
    assert row.state is not JobState.PENDING and row.spec.training.kind != "file"  # uploaded, submitted
    assert row.spec.tags["ftbot.seed"] == "7" and row.channel_id == CHANNEL


def test_a_submit_over_its_channels_budget_says_it_is_held(tmp_path: Path) -> None:
    prices = tmp_path / "prices.yaml"
    prices.write_text(PRICES)
    with open_world(tmp_path, FTBOT_PRICES=str(prices), FTBOT_BUDGETS=f"{CHANNEL}=0.01") as world:
        job_file = _job_file(tmp_path, chat_lines(30))
        code, out, err = _cli(world, str(job_file), "--channel", CHANNEL, "--name", "cli-held-1")
        assert code == 0, err
        lines = out.splitlines()
        assert lines[0] == "Held cli-held-1: held (awaiting budget approval)"
        assert lines[1].startswith("Nothing has been submitted: it is over its channel's monthly budget")
        assert lines[1].endswith("Reject, or 24 hours without a decision, cancels it.")
        assert _row(world, "cli-held-1").state is JobState.HELD
        assert world.backend.calls.get("submit_job", 0) == 0  # nothing reached the backend

        code, out, _ = _cli(world, str(job_file), "--name", "cli-held-1", "--json")
        assert code == 0 and json.loads(out)["state"] == "held"
