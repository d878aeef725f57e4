"""``ftbot submit``'s way in: a job file's ``JobSpec`` launched through the same use case as ``/finetune
submit`` and the wizard (``Lifecycle.jobs.launch``), so the job is checked locally first, gets its row in
the store (the scheduler of ``ftbot serve`` on that store follows it, ``/finetune status JOB`` finds it) and,
with ``--channel``, its card in that channel.

The submitter is the CLI user, ``cli:<OS user name>``: never a Slack user id, so cards and errors show it as
text, not as a mention.
"""

from __future__ import annotations

import getpass
import re
from pathlib import Path

from bot.runtime.services import Services
from bot.ui.ids import CHANNEL_ID
from commands.dataset.service_refs import FORMS, service_ref_backend
from commands.errors import InvalidInput, NotFound
from commands.lifecycle import Data, Launched, SubmitRequest
from commands.models import DatasetRef, JobSpec
from commands.records import Actor, JobRecord, Surface

#: what marks a job's submitter as a person at a terminal rather than a Slack user
CLI_USER_PREFIX = "cli:"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def cli_user() -> str:
    """``cli:<OS user name>`` (letters, digits, ``._-`` only), or ``cli:unknown``."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a bare container)
        name = ""
    return CLI_USER_PREFIX + (_UNSAFE.sub("-", name).strip("-")[:40] or "unknown")


def cli_actor(channel: str | None) -> Actor:
    """The CLI user, with the channel that gets the job's card (None: no card)."""
    if channel is not None and not CHANNEL_ID.fullmatch(channel):
        raise InvalidInput(
            f"--channel takes a Slack channel id such as C0123ABCD (the channel's details show it), "
            f"not {channel[:80]!r}.",
            field="channel",
        )
    return Actor(user_id=cli_user(), channel_id=channel, surface=Surface.CLI)


def existing_job(services: Services, name: str) -> JobRecord | None:
    """The job already recorded under ``name`` (a job file's name is its idempotency key), or None."""
    try:
        with services.store.transaction() as tx:
            return tx.get_job(name)
    except NotFound:
        return None


def _local(services: Services, ref: DatasetRef, key: str, source: str) -> Data:
    """A job file's dataset brought into FTBOT_DATA_DIR, as Slack brings in an upload or a URL; a dataset
    the service keeps (``azureml:NAME:VERSION``, ``file-…``) as ``/finetune submit --data`` takes it."""
    if ref.kind == "url":
        return services.intake.from_url(ref.value, field=key)
    if ref.kind == "file":
        return services.intake.from_local_file(Path(ref.value))
    if service_ref_backend(ref.value) is not None:
        return services.intake.from_service(services.backend, ref.value, field=key)
    raise _asset_refused(ref, key, source)


def _asset_refused(ref: DatasetRef, key: str, source: str) -> InvalidInput:
    return InvalidInput(
        f"{source}: `{key}` is {ref.value}; ftbot takes a local JSONL path, an https URL, a project data "
        f"asset as {FORMS['azure']} (azure) or a file uploaded with purpose fine-tune as {FORMS['foundry']} "
        "(foundry).",
        field=key,
    )


def request_for(services: Services, spec: JobSpec, source: str) -> SubmitRequest:
    """The submission a job file describes, its data on local disk. Keeps the file's job name, output
    model name and tags."""
    validation = _local(services, spec.validation, "validation_data", source) if spec.validation else None
    return SubmitRequest(
        model=spec.base_model,
        training=_local(services, spec.training, "training_data", source),
        validation=validation,
        hyperparameters=spec.hyperparameters,
        suffix=spec.suffix,
        task=spec.task,
        method=spec.method,
        training_type=spec.training_type,
        name=spec.name,
        output_model_name=spec.output_model_name,
        tags=spec.tags,
    )


def check_data_refs(spec: JobSpec, source: str) -> None:
    """Refuse a data reference ftbot cannot read (an asset id in another form than
    ``azureml:NAME:VERSION`` or ``file-…``) before anything is recorded."""
    for key, ref in (("training_data", spec.training), ("validation_data", spec.validation)):
        if ref is not None and ref.kind not in ("file", "url") and service_ref_backend(ref.value) is None:
            raise _asset_refused(ref, key, source)


def launch(services: Services, spec: JobSpec, actor: Actor, source: str) -> Launched:
    """Check, record and start the job through the lifecycle. Raises ``DatasetRejected`` (nothing
    submitted) and the other ``FtbotError``s as Slack would show them."""
    what = f"ftbot submit {Path(source).name}"
    return services.lifecycle.jobs.launch(actor, lambda: request_for(services, spec, source), what=what)
