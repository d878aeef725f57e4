"""What the lifecycle use cases take and give back: submissions, checked submissions, deploy outcomes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from commands.costs.budgets import Overspend
from commands.dataset import ValidationReport
from commands.models import BaseModelInfo, Checkpoint, DeployTarget, Hyperparameters, Method, Task, Tier
from commands.records import ApprovalRecord, DatasetSummary, EndpointRecord, JobRecord


@dataclass(frozen=True)
class LocalData:
    """A dataset on local disk (already downloaded by the bot), with the name users know it by."""

    path: Path
    name: str


@dataclass(frozen=True)
class ServiceData:
    """A dataset the backend's service already keeps (``ServiceDatasets``): the job references ``ref``
    (``azureml:NAME:VERSION``, ``file-…``) and nothing is uploaded. ``path``: a local copy to check it
    with, when it was small enough to download; otherwise ``not_checked`` says why there is none."""

    ref: str
    name: str
    path: Path | None = None
    not_checked: str | None = None


#: a submission's data: on this machine, or kept by the service
Data = LocalData | ServiceData


@dataclass(frozen=True)
class SubmitRequest:
    model: str
    training: Data
    validation: Data | None = None
    split: float | None = None
    hyperparameters: Hyperparameters = field(default_factory=Hyperparameters)
    suffix: str | None = None
    task: Task = Task.CHAT_COMPLETION
    method: Method = Method.SUPERVISED
    training_type: str | None = None  # a training tier (TieredBackend); None: the backend's default
    #: a job file's own choices (``ftbot submit``): the job's name (its id), its output model's name and
    #: tags for the service; None or empty: ftbot chooses, as for Slack
    name: str | None = None
    output_model_name: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    rerun_of: str | None = None  # the finished job this one reruns (its thread hears of it)


@dataclass(frozen=True)
class Checked:
    """A validated submission, ready to start: what the review step shows."""

    request: SubmitRequest
    model: BaseModelInfo
    report: ValidationReport
    summary: DatasetSummary
    #: why data was not checked here (a service dataset over the download limit): shown on the review
    not_checked: tuple[str, ...] = ()


@dataclass(frozen=True)
class Launched:
    """A submission that passed its check and was handed to the backend (``job`` may already say FAILED
    when the backend refused it)."""

    checked: Checked
    job: JobRecord


@dataclass(frozen=True)
class DeployOutcome:
    endpoint: EndpointRecord | None = None
    approval: ApprovalRecord | None = None
    approval_is_new: bool = False


@dataclass(frozen=True)
class DeployChoices:
    """What the Deploy dialog offers for one job: its checkpoints (oldest first) and, to approvers, the
    deployment SKUs (the default first). Empty lists: nothing to choose."""

    job_id: str
    model: str
    checkpoints: tuple[Checkpoint, ...] = ()
    skus: tuple[Tier, ...] = ()
    approver: bool = False
    targets: tuple[DeployTarget, ...] = ()  # ``home`` first; empty unless there are two or more
    #: with the default SKU, a first day of hosting would take the channel past its monthly budget
    over_budget: Overspend | None = None
