"""A submission's data as the job references it, and what the check says of data it could not read here:
a dataset the service keeps (``ServiceData``) too large to download is referenced as it is, and the review
says plainly that it was not checked locally and why."""

from __future__ import annotations

from commands.dataset.report import DatasetStats, ValidationReport
from commands.dataset.service_refs import require_backend
from commands.errors import InvalidInput
from commands.lifecycle.values import Data, ServiceData, SubmitRequest
from commands.models import DatasetRef


def dataset_ref(data: Data) -> DatasetRef:
    """How the job names ``data``: the service's own id (never uploaded again), or the local file."""
    if isinstance(data, ServiceData):
        return DatasetRef(kind="asset", value=data.ref, name=data.name)
    return DatasetRef(kind="file", value=str(data.path), name=data.name)


def not_checked(request: SubmitRequest) -> tuple[str, ...]:
    """One sentence per dataset of ``request`` that has no local copy to check, saying why."""
    notes = []
    for data in (request.training, request.validation):
        if isinstance(data, ServiceData) and data.path is None:
            notes.append(f"{data.name} was not validated locally: {data.not_checked or 'not downloaded'}.")
    return tuple(notes)


def cost_unknown(request: SubmitRequest) -> str | None:
    """Why the training cost of ``request`` cannot be estimated (its training data was not read here, so
    there is no token count to price), as a sentence; None when the data was read."""
    data = request.training
    if data.path is not None:
        return None
    why = data.not_checked if isinstance(data, ServiceData) and data.not_checked else "not downloaded"
    return f"The cost of this job could not be estimated: its data was not read here ({why})."


def check_sources(request: SubmitRequest, backend: str) -> None:
    """``InvalidInput`` when a service dataset of ``request`` is one ``backend`` cannot read, or an
    automatic split is asked of training data that is not here to split."""
    for data, field in ((request.training, "training"), (request.validation, "validation")):
        if isinstance(data, ServiceData):
            require_backend(data.ref, backend, field=field)
    if request.split and request.training.path is None:
        raise InvalidInput(
            "An automatic split needs the training data on this machine, and {data} was not downloaded. "
            "Give validation data, or none.",
            field="split",
            data=request.training.name,
        )


def unchecked_report(context_length: int) -> ValidationReport:
    """The report of training data that was not read here: no errors, no examples, no token counts."""
    stats = DatasetStats(
        examples=0,
        valid_examples=0,
        format=None,
        bytes=0,
        has_bom=False,
        messages_per_example=None,
        tokens_per_example=None,
        encoding="",
        approximate_tokens=True,
        context_length=context_length,
        examples_over_context=None,
        duplicates=0,
        default_epochs=1,
        billed_tokens_estimate=None,
        error_counts={},
        warning_counts={},
    )
    return ValidationReport(
        ok=True, examples=0, errors=[], error_counts={}, warnings=[], warning_counts={}, stats=stats
    )
