"""``ftbot validate FILE``: the dataset check on the command line.

Exit codes: 0 valid (warnings allowed), 1 invalid, 2 unreadable file or bad usage.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn, TransferSpeedColumn
from rich.table import Table

from commands.dataset import (
    DEFAULT_CONTEXT_LENGTH,
    Issue,
    ValidationReport,
    encoding_for_model,
    is_openai_model,
    split_dataset,
    validate_dataset,
)
from commands.dataset.tokens import ENCODINGS
from commands.errors import InvalidInput
from commands.models import Method, Task

EXIT_VALID = 0
EXIT_INVALID = 1
EXIT_UNREADABLE = 2
PROGRESS_MIN_BYTES = 8 * 1024 * 1024
SHOWN_PER_TABLE = 20


def _stdout_is_tty() -> bool:
    return sys.stdout.isatty()


def _fail_usage(console: Console, message: str) -> typer.Exit:
    console.print(f"[red]error:[/red] {message}")
    return typer.Exit(EXIT_UNREADABLE)


def validate(
    file: Annotated[Path, typer.Argument(help="JSONL dataset, one example per line.")],
    task: Annotated[Task, typer.Option(help="chat_completion or text_completion.")] = Task.CHAT_COMPLETION,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")] = False,
    split: Annotated[
        float | None, typer.Option(help="Also split off this fraction (0 < F < 1) as validation data.")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Where --split writes its two files (default: beside FILE).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the --split shuffle.")] = 0,
    context_length: Annotated[
        int, typer.Option(min=1, help="The base model's context length in tokens.")
    ] = DEFAULT_CONTEXT_LENGTH,
    model: Annotated[
        str | None,
        typer.Option(help="Base model name: picks the encoding and says whether counts are exact."),
    ] = None,
    encoding: Annotated[str | None, typer.Option(help="Token encoding: o200k_base or cl100k_base.")] = None,
    validation: Annotated[
        Path | None, typer.Option(help="A validation file: checked too, and for overlap with FILE.")
    ] = None,
    method: Annotated[
        Method, typer.Option(help="supervised (chat examples) or dpo (preference pairs).")
    ] = Method.SUPERVISED,
) -> None:
    """Check a fine-tuning dataset before a cent is spent: every error with its line, warnings, token
    statistics and the billed-token estimate."""
    err = Console(stderr=True)
    if split is not None and not 0 < split < 1:
        raise _fail_usage(err, f"--split must be between 0 and 1 (exclusive), e.g. 0.1; got {split}.")
    if out is not None and split is None:
        raise _fail_usage(err, "--out only makes sense with --split.")
    enc = encoding or (encoding_for_model(model) if model else "o200k_base")
    if enc not in ENCODINGS:
        raise _fail_usage(err, f"unknown --encoding {enc!r}; use one of {', '.join(sorted(ENCODINGS))}.")
    check = partial(
        validate_dataset,
        file,
        task=task,
        context_length=context_length,
        encoding=enc,
        validation=validation,
        exact_tokenizer=is_openai_model(model) if model else False,
        method=method,
    )
    try:
        report = _with_progress(check, file, err) if _shows_progress(file, as_json) else check()
    except InvalidInput as e:  # UnreadableDataset included
        _print_unreadable(err, e, as_json)
        raise typer.Exit(EXIT_UNREADABLE) from e

    split_paths: tuple[Path, Path] | None = None
    split_error: str | None = None
    if split is not None and report.ok:
        try:
            split_paths = split_dataset(file, split, seed, out or file.parent)
        except InvalidInput as e:
            split_error = e.message
    if as_json:
        _print_json(report, split, split_paths, split_error)
    else:
        _print_report(Console(), file, report)
        if split_paths:
            Console().print(f"Split into [bold]{split_paths[0]}[/bold] and [bold]{split_paths[1]}[/bold].")
        elif split is not None:
            err.print(f"[red]Not split:[/red] {split_error or 'fix the errors first.'}")
    if not report.ok or split_error:
        raise typer.Exit(EXIT_INVALID)


def _shows_progress(file: Path, as_json: bool) -> bool:
    size = file.stat().st_size if file.is_file() else 0
    return not as_json and _stdout_is_tty() and size >= PROGRESS_MIN_BYTES


def _with_progress(check: Callable[..., ValidationReport], file: Path, err: Console) -> ValidationReport:
    """The check with a progress bar on stderr (a big file, on a terminal)."""
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    ) as bar:
        tid = bar.add_task(f"Checking {file.name}", total=file.stat().st_size)
        return check(progress=lambda done: bar.update(tid, completed=done))


def _print_unreadable(err: Console, e: InvalidInput, as_json: bool) -> None:
    if as_json:
        issue = {"line": None, "code": e.code, "message": e.message}
        typer.echo(json.dumps({"ok": False, "examples": 0, "errors": [issue], "warnings": [], "stats": {}}))
    else:
        err.print(f"[red]error:[/red] {e.message}")


def _print_json(
    report: ValidationReport,
    split: float | None,
    split_paths: tuple[Path, Path] | None,
    split_error: str | None,
) -> None:
    obj = report.to_json_dict()
    if split is not None:
        obj["split"] = (
            {"training": str(split_paths[0]), "validation": str(split_paths[1])}
            if split_paths
            else {"error": split_error or "not split: the data has errors"}
        )
    typer.echo(json.dumps(obj, ensure_ascii=False))


def _issues_table(title: str, issues: list[Issue], counts: dict[str, int], style: str) -> Table:
    total = sum(counts.values())
    table = Table(title=f"{title} ({total:,})", title_justify="left", title_style=style)
    table.add_column("line", justify="right")
    table.add_column("code", style=style)
    table.add_column("message")
    for issue in issues[:SHOWN_PER_TABLE]:
        table.add_row("" if issue.line is None else str(issue.line), issue.code, issue.message)
    if total > min(len(issues), SHOWN_PER_TABLE):
        by_code = ", ".join(f"{code} {n:,}" for code, n in sorted(counts.items(), key=lambda kv: -kv[1]))
        table.caption = f"showing {min(len(issues), SHOWN_PER_TABLE)} of {total:,}; by code: {by_code}"
    return table


def _print_report(console: Console, file: Path, report: ValidationReport, label: str = "") -> None:
    s = report.stats
    verdict = "[green]✓ valid[/green]" if report.ok else "[red]✗ invalid[/red]"
    console.print(f"{label}[bold]{file.name}[/bold]: {verdict}, {report.examples:,} examples")
    summary = Table(show_header=False, box=None, padding=(0, 2))
    summary.add_column(style="dim")
    summary.add_column()
    summary.add_row("format", s.format or "-")
    if s.needed_text_format:
        summary.add_row("backend needs", s.needed_text_format)
    summary.add_row("size", f"{s.bytes:,} bytes" + (" (UTF-8 with BOM)" if s.has_bom else ""))
    if s.messages_per_example:
        m = s.messages_per_example
        summary.add_row("messages / example", f"min {m.min}, mean {m.mean}, max {m.max}")
    approx = " (approximate)" if s.approximate_tokens else ""
    if s.tokens_per_example:
        t = s.tokens_per_example
        summary.add_row("tokens / example", f"min {t.min:,}, p50 {t.p50:,}, p95 {t.p95:,}, max {t.max:,}")
        summary.add_row(
            "tokens",
            f"{t.total:,}, counted with {s.encoding}"
            + (
                "; approximate unless the base model uses this tokenizer (OpenAI models)"
                if s.approximate_tokens
                else ""
            ),
        )
    if s.examples_over_context is not None:
        over = f"{s.examples_over_context:,} examples over {s.context_length:,} tokens"
        summary.add_row("over context", over)
    summary.add_row("duplicates", f"{s.duplicates:,}")
    summary.add_row("default epochs", str(s.default_epochs))
    if s.billed_tokens_estimate is not None and s.valid_examples:
        summary.add_row(
            "billed tokens", f"≈ {s.billed_tokens_estimate:,} ({s.default_epochs} epochs){approx}"
        )
    console.print(summary)
    if report.errors or report.error_counts:
        console.print(_issues_table("Errors", report.errors, report.error_counts, "red"))
    if report.warnings or report.warning_counts:
        console.print(_issues_table("Warnings", report.warnings, report.warning_counts, "yellow"))
    if report.validation is not None:
        console.print()
        _print_report(console, Path("validation file"), report.validation, label="Validation: ")


def register(app: typer.Typer) -> None:
    """Add the ``validate`` command to the main CLI."""
    app.command("validate")(validate)
