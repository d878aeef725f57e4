"""``ftbot submit job.yaml``: CLI parity with ``az ml job create --file job.yaml`` as Microsoft's
"Fine-tune models using serverless API deployments in Azure AI Foundry" gives it; ``ftbot submit job.json``
(foundry) takes the body of a v1 ``fine_tuning/jobs`` create instead (``bot/cli/submit_json.py``).

The YAML is that page's (``type: finetuning``, ``model`` path, ``training_data``, ``validation_data``,
``hyperparameters``, ``outputs.registered_model.name``). It is read by azure-ai-ml's own ``load_job``, so
whatever the SDK accepts or refuses here is what Azure's CLI accepts or refuses; it is then turned into
ftbot's ``JobSpec`` and launched through the same use case as ``/finetune submit`` (``bot/cli/launch.py``):
the data is checked locally first, the job gets its row in the store (so ``ftbot serve``'s scheduler
follows it and ``/finetune status`` finds it) and, with ``--channel``, its card. The job's name is its
idempotency key: a name already in the store is reported, not submitted again.

Exit codes: 0 submitted (or already there), 1 refused (by ftbot's checks or the service), 2 unreadable
file or bad usage.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pydantic import ValidationError

from commands.errors import FtbotError, InvalidInput
from commands.lifecycle import DatasetRejected
from commands.lifecycle.holds import HOLD_HOURS
from commands.models import DatasetRef, JobSpec, JobState, Task, normalized_model_name
from commands.records import Actor, JobRecord

if TYPE_CHECKING:
    from bot.runtime.services import Services
    from bot.runtime.settings import Settings
    from commands.ports import FineTuningBackend

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_UNREADABLE = 2

#: CLI YAML ``task`` values (FineTuningTaskType, any first-letter case) ftbot can run
_TASKS = {"chatcompletion": Task.CHAT_COMPLETION, "textcompletion": Task.TEXT_COMPLETION}
_JOB_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_ASSET_REF = re.compile(r"^[\w.-]+(:[\w.-]+|@[\w.-]+)$")

BackendFactory = Callable[[], "FineTuningBackend"]
SettingsFactory = Callable[[], "Settings"]
_SHOWN_ERRORS = 20


class JobFailed(FtbotError):
    """The service refused a recorded job: its row says FAILED, with the service's reason."""

    code = "job_failed"


def _default_settings() -> Settings:
    from bot.cli.settings import load_settings_or_exit

    return load_settings_or_exit()


def _field(obj: Any, key: str) -> Any:
    if obj is None:
        return None
    if isinstance(obj, Mapping):
        return obj.get(key)
    return getattr(obj, key, None)


def _dataset(value: Any, base_dir: Path) -> DatasetRef | None:
    path = _field(value, "path") if not isinstance(value, str) else value
    if not path:
        return None
    path = str(path)
    if path.lower().startswith(("https://", "http://")):
        name = path.split("?", 1)[0].rsplit("/", 1)[-1] or None
        return DatasetRef(kind="url", value=path, name=name)
    if path.startswith(("azureml:", "/subscriptions/")):
        return DatasetRef(kind="asset", value=path, name=path.rsplit("/", 1)[-1])
    if _ASSET_REF.match(path) and not (base_dir / path).exists():
        # load_job strips the ``azureml:`` prefix of ``azureml:name:version`` / ``azureml:name@label``
        return DatasetRef(kind="asset", value=f"azureml:{path}", name=path)
    local = Path(path.removeprefix("file:"))
    if not local.is_absolute():
        local = (
            base_dir / local
        ).resolve()  # relative to the YAML file, as `az ml job create --file` reads it
    return DatasetRef(kind="file", value=str(local), name=local.name)


def spec_from_yaml(path: Path, *, name: str | None = None) -> tuple[JobSpec, list[str]]:
    """An Azure ML CLI fine-tuning YAML → ``JobSpec`` (plus warnings to show); ``load_job`` validates it."""
    from azure.ai.ml import load_job
    from azure.ai.ml.exceptions import ValidationException
    from marshmallow.exceptions import ValidationError as SchemaError

    from bot.backends.azure.hyperparameters import HYPERPARAMETER_MAP, from_service_hyperparameters

    try:
        job = load_job(source=str(path))
    except (ValidationException, SchemaError, ValueError) as e:
        first = str(e).strip().split("\n\n If you are trying", 1)[0]
        raise InvalidInput(f"{path.name} is not a job YAML azure-ai-ml accepts: {first}") from e
    warnings: list[str] = []
    if str(_field(job, "type") or "").lower() != "finetuning":
        raise InvalidInput(f"{path.name}: `type` must be `finetuning`, got `{_field(job, 'type')}`.")
    task_text = str(_field(job, "task") or "")
    task = _TASKS.get(task_text.lower())
    if task is None:
        raise InvalidInput(
            f"{path.name}: task `{task_text}` is not supported; use chatCompletion or textCompletion.",
            field="task",
        )
    model_path = _field(_field(job, "model"), "path")
    if not model_path:
        raise InvalidInput(
            f"{path.name}: `model.path` is missing (azureml://registries/…/models/…).", field="model"
        )
    base_dir = path.resolve().parent
    training = _dataset(_field(job, "training_data"), base_dir)
    if training is None:
        raise InvalidInput(f"{path.name}: `training_data` is missing.", field="training_data")
    validation = _dataset(_field(job, "validation_data"), base_dir)
    output = _field(_field(_field(job, "outputs") or {}, "registered_model"), "name")
    if not output:
        raise InvalidInput(
            f"{path.name}: `outputs.registered_model.name` is missing: it names the fine-tuned model.",
            field="outputs",
        )
    raw_hp = {str(k): str(v) for k, v in (_field(job, "hyperparameters") or {}).items()}
    known = {n for pair in HYPERPARAMETER_MAP.items() for n in (pair[0], pair[1][0])}
    ignored = sorted(set(raw_hp) - known)
    if ignored:
        warnings.append(f"hyperparameters ftbot does not pass on: {', '.join(ignored)}")
    job_name = name or _field(job, "name")
    if job_name:
        job_name = str(job_name)
        if not _JOB_NAME.match(job_name):
            job_name = normalized_model_name(job_name)
    else:
        job_name = f"ftbot-{normalized_model_name(str(output))[:40]}-{uuid.uuid4().hex[:8]}"
    tags = {str(k): str(v) for k, v in (_field(job, "tags") or {}).items()}
    tags["ftbot.source"] = "cli"
    try:
        spec = JobSpec(
            name=job_name,
            base_model=str(model_path),
            task=task,
            training=training,
            validation=validation,
            hyperparameters=from_service_hyperparameters(raw_hp),
            output_model_name=str(output),
            tags=tags,
        )
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors())
        raise InvalidInput(f"{path.name}: {problems}") from e
    return spec, warnings


def _model_name(ref: str) -> str:
    """A registry asset id as its model's name (``azureml://registries/R/models/N/versions/V`` → N)."""
    if ref.startswith("azureml://") and "/models/" in ref:
        return ref.split("/models/", 1)[1].split("/", 1)[0]
    return ref


def _summary(job: JobRecord) -> dict[str, Any]:
    return {
        "job": job.id,
        "state": job.state.value,
        "service_status": job.service_status,
        "base_model": _model_name(job.spec.base_model),
        "studio_url": job.studio_url,
    }


def _refused(e: FtbotError, as_json: bool, **extra: Any) -> typer.Exit:
    """Print a refusal (a rejected dataset with its line-numbered errors, as Slack lists them)."""
    report = e.report if isinstance(e, DatasetRejected) else None
    issues = [{"line": i.line, "code": i.code, "message": i.message} for i in report.errors] if report else []
    if as_json:
        out = {"ok": False, "code": e.code, "message": e.message, **extra}
        typer.echo(json.dumps(out | ({"errors": issues} if report else {}), ensure_ascii=False))
    else:
        typer.echo(f"ftbot: {e.message}", err=True)
        for issue in issues[:_SHOWN_ERRORS]:
            where = f"line {issue['line']}: " if issue["line"] else ""
            typer.echo(f"  {where}{issue['code']}: {issue['message']}", err=True)
        if len(issues) > _SHOWN_ERRORS:
            typer.echo(f"  … and {len(issues) - _SHOWN_ERRORS} more (`ftbot validate` lists them)", err=True)
    return typer.Exit(EXIT_REFUSED)


_HELD = (
    "Nothing has been submitted: it is over its channel's monthly budget (FTBOT_BUDGETS), or its cost "
    "could not be estimated there, so it waits for an approver's Approve in the job's thread in Slack; "
    f"Reject, or {HOLD_HOURS} hours without a decision, cancels it."
)


def _tracking(job: JobRecord) -> str:
    where = (
        f"its card goes to channel {job.channel_id}"
        if job.channel_id
        else "no card in Slack (no --channel given)"
    )
    return (
        f"Tracked as {job.id}: the scheduler of `ftbot serve` on this store follows it, {where}; "
        f"`/finetune status {job.id}` shows it."
    )


def _services(settings_factory: SettingsFactory, backend_factory: BackendFactory | None) -> Services:
    """The composition ``ftbot serve`` uses, on the settings' store (migrated to head, as serve does)."""
    from bot.runtime.services import Services

    services = Services.from_settings(settings_factory())
    if backend_factory is not None:
        services._backend = backend_factory()
    try:
        services.database.migrate()
    except Exception as e:  # any driver's error: the store cannot be used
        log.debug("migration failed", exc_info=True)
        typer.echo(
            f"ftbot: FTBOT_DATABASE_URL: cannot open or migrate the store ({type(e).__name__})", err=True
        )
        raise typer.Exit(EXIT_UNREADABLE) from None
    return services


def _read(file: Path, name: str | None, channel: str | None) -> tuple[JobSpec, Actor]:
    """The job file as a spec (its warnings printed) and the CLI user as the actor; exit 2 if unusable."""
    if not file.is_file():
        typer.echo(f"ftbot: {file}: no such file", err=True)
        raise typer.Exit(EXIT_UNREADABLE)
    from bot.cli.launch import check_data_refs, cli_actor

    try:
        if file.suffix.lower() == ".json":
            from bot.cli.submit_json import spec_from_json

            spec, warnings = spec_from_json(file, name=name)
        else:
            spec, warnings = spec_from_yaml(file, name=name)
        check_data_refs(spec, file.name)
        actor = cli_actor(channel)
    except InvalidInput as e:
        typer.echo(f"ftbot: {e.message}", err=True)
        raise typer.Exit(EXIT_UNREADABLE) from None
    for line in warnings:
        typer.echo(f"ftbot: warning: {line}", err=True)
    return spec, actor


def register(
    app: typer.Typer,
    backend_factory: BackendFactory | None = None,
    settings_factory: SettingsFactory | None = None,
) -> None:
    """Add ``submit`` to ``app``. The settings (default: the environment) name the store and, unless
    ``backend_factory`` builds one, the backend: tests inject both."""

    @app.command("submit")
    def submit(
        file: Annotated[
            Path,
            typer.Argument(
                help="An Azure ML CLI job YAML (type: finetuning), or for foundry the JSON body of a v1 "
                "fine_tuning/jobs create with local file paths."
            ),
        ],
        name: Annotated[str | None, typer.Option(help="Job name (default: `name` in the YAML).")] = None,
        channel: Annotated[
            str | None,
            typer.Option(help="Slack channel id (C…) for the job's card; without it the job has no card."),
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    ) -> None:
        """Submit a fine-tuning job from a job file, like `az ml job create --file`, and track it as
        `/finetune submit` does: checked first, recorded, followed by `ftbot serve`'s scheduler."""
        from bot.cli.launch import existing_job, launch

        spec, actor = _read(file, name, channel)
        services = _services(settings_factory or _default_settings, backend_factory)
        job = existing_job(services, spec.name)
        if job is None:
            try:
                job = launch(services, spec, actor, str(file)).job
            except FtbotError as e:
                log.debug("submit refused", exc_info=True)
                raise _refused(e, as_json) from None
            if job.state is JobState.FAILED:  # the service refused it: recorded, with its reason
                raise _refused(JobFailed(job.error or "The service refused the job."), as_json, job=job.id)
            verb = {JobState.PENDING: "Recorded", JobState.HELD: "Held"}.get(job.state, "Submitted")
        else:
            verb = "Already submitted"
        if as_json:
            typer.echo(json.dumps({"ok": True, **_summary(job)}))
            return
        typer.echo(f"{verb} {job.id}: {job.state.value} ({job.service_status})")
        if job.state is JobState.PENDING:
            typer.echo("The service did not answer; the scheduler of `ftbot serve` submits it when it does.")
        if job.state is JobState.HELD:
            typer.echo(_HELD)
        if job.studio_url:
            typer.echo(f"Studio: {job.studio_url}")
        typer.echo(_tracking(job))
