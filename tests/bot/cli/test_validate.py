from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from bot.cli import validate as cli_validate
from tests.commands.dataset.helpers import chat, good, jsonl

BOM = b"\xef\xbb\xbf"


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """ftbot"""

    cli_validate.register(app)
    return app


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def write(tmp_path: Path, data: bytes, name: str = "d.jsonl") -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


def test_valid_file_exits_0_with_a_readable_report(
    app: typer.Typer, runner: CliRunner, tmp_path: Path
) -> None:
    objs = good(12)
    objs[3] = chat(3, system=False)  # a warning does not make it invalid
    p = write(tmp_path, BOM + jsonl(objs))
    result = runner.invoke(app, ["validate", str(p)])
    assert result.exit_code == 0, result.output
    assert "valid" in result.output and "12 examples" in result.output
    assert "missing_system_message" in result.output
    assert "approximate" in result.output  # no --model: a non-OpenAI base model is assumed


def test_invalid_file_exits_1_and_lists_errors(app: typer.Typer, runner: CliRunner, tmp_path: Path) -> None:
    p = write(
        tmp_path, jsonl(good(10)) + b"not json\n" + jsonl([{"messages": [{"role": "user", "content": "x"}]}])
    )
    result = runner.invoke(app, ["validate", str(p)])
    assert result.exit_code == 1
    assert "invalid_json" in result.output and "example_missing_assistant_message" in result.output


def test_json_output_shape(app: typer.Typer, runner: CliRunner, tmp_path: Path) -> None:
    p = write(tmp_path, jsonl(good(10)) + b"[1]\n")
    result = runner.invoke(app, ["validate", str(p), "--json", "--model", "gpt-4o-mini"])
    assert result.exit_code == 1
    obj = json.loads(result.stdout)
    assert set(obj) == {"ok", "examples", "errors", "warnings", "stats"}
    assert obj["ok"] is False and obj["examples"] == 11
    assert obj["errors"] == [{"line": 11, "code": "data_type", "message": obj["errors"][0]["message"]}]
    stats = obj["stats"]
    assert stats["approximate_tokens"] is False and stats["encoding"] == "o200k_base"
    assert stats["tokens_per_example"]["total"] > 0 and stats["default_epochs"] == 10
    ok = runner.invoke(app, ["validate", str(write(tmp_path, jsonl(good(10)), "ok.jsonl")), "--json"])
    assert ok.exit_code == 0 and json.loads(ok.stdout)["ok"] is True


def test_text_task(app: typer.Typer, runner: CliRunner, tmp_path: Path) -> None:
    p = write(tmp_path, jsonl([{"text": f"t{i}", "ground_truth": f"g{i}"} for i in range(10)]))
    assert runner.invoke(app, ["validate", str(p), "--task", "text_completion"]).exit_code == 0
    result = runner.invoke(app, ["validate", str(p), "--json"])
    assert result.exit_code == 1
    assert {e["code"] for e in json.loads(result.stdout)["errors"]} == {"format_mismatch"}


def test_unreadable_exits_2(app: typer.Typer, runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", str(tmp_path / "missing.jsonl")])
    assert result.exit_code == 2 and "No such file" in result.output
    result = runner.invoke(app, ["validate", str(tmp_path / "missing.jsonl"), "--json"])
    assert result.exit_code == 2
    obj = json.loads(result.stdout)
    assert obj["ok"] is False and obj["errors"][0]["code"] == "unreadable"
    assert runner.invoke(app, ["validate", str(tmp_path)]).exit_code == 2


def test_empty_file_is_invalid_not_unreadable(app: typer.Typer, runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", str(write(tmp_path, b"")), "--json"])
    assert result.exit_code == 1
    assert json.loads(result.stdout)["errors"][0]["code"] == "empty_file"


@pytest.mark.parametrize(
    "args",
    [
        ["--task", "bogus"],
        ["--split", "1.5"],
        ["--split", "0"],
        ["--out", "x"],
        ["--context-length", "0"],
        ["--encoding", "p50k_base"],
        ["--nope"],
    ],
)
def test_usage_errors_exit_2(app: typer.Typer, runner: CliRunner, tmp_path: Path, args: list[str]) -> None:
    p = write(tmp_path, jsonl(good(10)))
    assert runner.invoke(app, ["validate", str(p), *args]).exit_code == 2


def test_split(app: typer.Typer, runner: CliRunner, tmp_path: Path) -> None:
    p = write(tmp_path, jsonl(good(30)))
    out = tmp_path / "out"
    result = runner.invoke(app, ["validate", str(p), "--split", "0.2", "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    obj = json.loads(result.stdout)
    train, valid = Path(obj["split"]["training"]), Path(obj["split"]["validation"])
    assert train.parent == out and len(train.read_bytes().splitlines()) == 24
    assert len(valid.read_bytes().splitlines()) == 6
    # too small to split: invalid (1), with the reason
    small = write(tmp_path, jsonl(good(10)), "small.jsonl")
    result = runner.invoke(app, ["validate", str(small), "--split", "0.5", "--json"])
    assert result.exit_code == 1
    assert "too few to split" in json.loads(result.stdout)["split"]["error"]
    # invalid data is not split
    bad = write(tmp_path, jsonl(good(20)) + b"x\n", "bad.jsonl")
    result = runner.invoke(app, ["validate", str(bad), "--split", "0.1", "--out", str(tmp_path / "o2")])
    assert result.exit_code == 1 and not (tmp_path / "o2").exists()


def test_validation_file_option(app: typer.Typer, runner: CliRunner, tmp_path: Path) -> None:
    objs = good(10)
    p = write(tmp_path, jsonl(objs))
    v = write(tmp_path, jsonl(objs[:2]), "v.jsonl")
    result = runner.invoke(app, ["validate", str(p), "--validation", str(v), "--json"])
    assert result.exit_code == 0
    obj = json.loads(result.stdout)
    assert {w["code"] for w in obj["warnings"]} == {"train_validation_overlap"}
    assert obj["validation"]["examples"] == 2


def test_in_a_subprocess(tmp_path: Path) -> None:
    p = write(tmp_path, jsonl(good(10)) + b"{\n")
    code = (
        "import typer, sys\n"
        "from bot.cli import validate as cli_validate\n"
        "app = typer.Typer()\n"
        "app.callback()(lambda: None)\n"
        "cli_validate.register(app)\n"
        "app()\n"
    )
    root = Path(__file__).resolve().parents[3]
    proc = subprocess.run(
        [sys.executable, "-c", code, "validate", str(p), "--json"], capture_output=True, cwd=root, timeout=120
    )
    assert proc.returncode == 1, proc.stderr
    obj = json.loads(proc.stdout)
    assert obj["errors"][0]["line"] == 11 and obj["errors"][0]["code"] == "invalid_json"


def test_progress_bar_on_a_terminal(
    app: typer.Typer, runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli_validate, "_stdout_is_tty", lambda: True)
    monkeypatch.setattr(cli_validate, "PROGRESS_MIN_BYTES", 0)
    p = write(tmp_path, jsonl(good(10)))
    result = runner.invoke(app, ["validate", str(p)])
    assert result.exit_code == 0 and "valid" in result.output


def test_method_dpo_checks_preference_data_with_line_numbered_codes(
    app: typer.Typer, runner: CliRunner, tmp_path: Path
) -> None:
    from tests.support.data import preference_lines

    p = tmp_path / "prefs.jsonl"
    p.write_text(preference_lines(11) + '{"input": {"messages": []}, "preferred_output": []}\n')
    result = runner.invoke(app, ["validate", "--method", "dpo", "--json", str(p)])
    assert result.exit_code == 1, result.output
    out = json.loads(result.output)
    assert out["stats"]["format"] == "preference" and out["stats"]["tokens_per_example"]["total"] > 0
    assert {(e["line"], e["code"]) for e in out["errors"]} >= {
        (12, "missing_input"),
        (12, "invalid_preference_output"),
    }
    p.write_text(preference_lines(11))
    assert runner.invoke(app, ["validate", "--method", "dpo", str(p)]).exit_code == 0
    assert runner.invoke(app, ["validate", str(p)]).exit_code == 1  # supervised: not chat data
