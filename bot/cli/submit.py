"""``ftbot submit job.yaml``: CLI parity with ``az ml job create --file job.yaml`` as Microsoft's
"Fine-tune models using serverless API deployments in Azure AI Foundry" gives it.

The YAML is that page's (``type: finetuning``, ``model`` path, ``training_data``, ``validation_data``,
``hyperparameters``, ``outputs.registered_model.name``). It is read by azure-ai-ml's own ``load_job``, so
whatever the SDK accepts or refuses here is what Azure's CLI accepts or refuses; it is then turned into
ftbot's ``JobSpec`` and submitted through the same ``FineTuningBackend.submit_job`` the Slack layer uses
(marketplace subscription, the validation-data workaround, idempotency on the job name, error mapping).

Exit codes: 0 submitted (or already there), 1 refused (by ftbot or the service), 2 unreadable file or
bad usage.
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
from commands.models import DatasetRef, Job, JobSpec, Task, normalized_model_name

if TYPE_CHECKING:
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


def _default_backend() -> FineTuningBackend:
    from bot.backends import build_backend
    from bot.cli.settings import load_settings_or_exit

    return build_backend(load_settings_or_exit())


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


def _summary(job: Job) -> dict[str, Any]:
    return {
        "job": job.id,
        "state": job.state.value,
        "service_status": job.service_status,
        "base_model": job.base_model,
        "studio_url": job.studio_url,
    }


def register(app: typer.Typer, backend_factory: BackendFactory | None = None) -> None:
    """Add ``submit`` to ``app``. ``backend_factory`` builds the backend when the command runs (default: the
    one FTBOT_BACKEND names, from the environment), so tests can inject one."""
    factory = backend_factory or _default_backend

    @app.command("submit")
    def submit(
        file: Annotated[Path, typer.Argument(help="An Azure ML CLI job YAML (type: finetuning).")],
        name: Annotated[str | None, typer.Option(help="Job name (default: `name` in the YAML).")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    ) -> None:
        """Submit a fine-tuning job from a CLI YAML file, like `az ml job create --file`."""
        if not file.is_file():
            typer.echo(f"ftbot: {file}: no such file", err=True)
            raise typer.Exit(EXIT_UNREADABLE)
        try:
            spec, warnings = spec_from_yaml(file, name=name)
        except InvalidInput as e:
            typer.echo(f"ftbot: {e.message}", err=True)
            raise typer.Exit(EXIT_UNREADABLE) from None
        for line in warnings:
            typer.echo(f"ftbot: warning: {line}", err=True)
        try:
            job = factory().submit_job(spec)
        except FtbotError as e:
            log.debug("submit refused", exc_info=True)
            if as_json:
                typer.echo(json.dumps({"ok": False, "code": e.code, "message": e.message}))
            else:
                typer.echo(f"ftbot: {e.message}", err=True)
            raise typer.Exit(EXIT_REFUSED) from None
        if as_json:
            typer.echo(json.dumps({"ok": True, **_summary(job)}))
            return
        typer.echo(f"Submitted {job.id}: {job.state.value} ({job.service_status})")
        if job.studio_url:
            typer.echo(f"Studio: {job.studio_url}")
