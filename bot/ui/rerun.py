"""The Rerun wizard: the `/finetune` wizard pre-filled with a finished job's choices, every field editable.

Its callback is ``Callback.RERUN`` and its ``private_metadata`` the job it reruns; a submission goes on to
the same Review step as the wizard's, and the job started from there remembers what it reruns.
"""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.views import View

from bot.ui.blocks import context
from bot.ui.ids import Block as B
from bot.ui.ids import Callback
from bot.ui.text import clip, code
from bot.ui.wizard import wizard_view
from bot.ui.wizard_input import DataSource, ValidationMode, WizardInput
from commands.models import ServiceDataset, Tier
from commands.records import JobRecord

#: the training source shown when the first job's data is no longer here: nothing is pre-filled
NO_DATA = DataSource(kind="slack_file", value="", name="")


def rerun_input(
    job: JobRecord,
    training: DataSource | None,
    validation: DataSource | None,
    split: float | None,
) -> WizardInput:
    """What the wizard shows for a rerun of ``job``: its choices, with its data as datasets uploaded
    before (``None``: no longer here)."""
    hp = job.spec.hyperparameters
    mode: ValidationMode = "none"
    if validation is not None:
        mode = "existing"
    elif split is not None:
        mode = "split"
    elif job.spec.validation is not None:
        mode = "file"  # a validation file that is no longer here: the user gives it again
    return WizardInput(
        model=job.spec.base_model,
        training=training or NO_DATA,
        validation_mode=mode,
        validation=validation,
        split_fraction=split,
        hyperparameters=hp,
        custom_parameters=not hp.is_default,
        suffix=job.spec.suffix,
        method=job.spec.method,
        training_type=job.spec.training_type,
    )


def rerun_view(
    *,
    job: JobRecord,
    initial: WizardInput,
    backend_kind: str,
    datasets: Sequence[tuple[str, str]],
    tiers: Sequence[Tier] = (),
    service_datasets: Sequence[ServiceDataset] = (),
) -> View:
    """The wizard for a rerun of ``job``, pre-filled with ``initial``; ``datasets`` (or
    ``service_datasets``, for data the service keeps) hold the first job's."""
    view = wizard_view(
        backend_kind=backend_kind,
        channel_id="",
        datasets=datasets,
        initial=initial,
        tiers=tiers,
        service_datasets=service_datasets,
    )
    view.callback_id = Callback.RERUN
    view.private_metadata = job.id
    note = (
        f":repeat: Rerun of {code(clip(job.id, 100))}: pre-filled with its base model, data, validation, "
        "method, task parameters and suffix. Change what you like; data left as it is is reused without "
        "downloading it again."
    )
    if initial.training is NO_DATA:
        note += "\n:warning: Its training data is no longer on this machine: give it again below."
    if initial.validation_mode == "file":
        note += "\n:warning: Its validation data is no longer on this machine: give it again below."
    view.blocks.insert(0, context(B.RERUN_INTRO, note))
    return view
