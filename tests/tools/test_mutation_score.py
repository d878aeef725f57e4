"""``./dev mutate``'s module selection: names to mutmut patterns, and the modules a change touched (CI)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tools import mutation_score


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout.strip()


def test_modules_changed_since_a_commit(tmp_path: Path) -> None:
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "config", "user.email", "t@example.com")
    _git(tmp_path, "config", "user.name", "t")
    for name in ("commands/a.py", "commands/b/c.py", "commands/gone.py", "commands/data.json", "bot/x.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x = 1\n")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "base")
    base = _git(tmp_path, "rev-parse", "HEAD")
    assert mutation_score.changed_modules(base, tmp_path) == []

    for name in ("commands/b/c.py", "commands/data.json", "bot/x.py", "commands/new.py"):
        (tmp_path / name).write_text("x = 2\n")
    (tmp_path / "commands/gone.py").unlink()
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "change")
    (tmp_path / "commands/a.py").write_text("x = 3\n")  # not committed yet: counted too
    assert mutation_score.changed_modules(base, tmp_path) == [
        "commands/a.py",
        "commands/b/c.py",
        "commands/new.py",
    ]


def test_nothing_changed_runs_nothing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(mutation_score, "changed_modules", lambda ref: [])
    assert mutation_score.main(["--changed-since", "abc123"]) == 0
    assert capsys.readouterr().out == "mutate: no module of commands/ changed since abc123\n"


@pytest.mark.parametrize(
    ("arg", "pattern"),
    [
        ("commands/grammar.py", "commands.grammar.x*"),
        ("commands.grammar", "commands.grammar.x*"),
        ("commands/lifecycle", "commands.lifecycle.*"),
        ("commands/lifecycle/__init__.py", "commands.lifecycle.x*"),
    ],
)
def test_names_become_mutmut_patterns(arg: str, pattern: str) -> None:
    assert mutation_score.patterns_for([arg]) == [pattern]
    assert mutation_score.patterns_for([]) == ["commands.*"]


def test_a_path_outside_the_core_is_refused() -> None:
    with pytest.raises(SystemExit, match=r"bot/app\.py is not a module or package of commands/"):
        mutation_score.module_of("bot/app.py")
