"""What a backend offers beyond the common Protocol, checked where a request names it: the training
methods a base model supports, training tiers and deployment SKUs (``TieredBackend``), checkpoints
(``CheckpointedBackend``) and pause/resume (``PausableBackend``)."""

from __future__ import annotations

import logging

from commands.errors import FtbotError, InvalidInput
from commands.lifecycle.targets import deploy_targets
from commands.models import BaseModelInfo, Checkpoint, Hyperparameters, Method, Tier
from commands.ports import CheckpointedBackend, FineTuningBackend, PausableBackend, TieredBackend

log = logging.getLogger("ftbot.lifecycle")


def check_method(model: BaseModelInfo, method: Method, hyperparameters: Hyperparameters) -> None:
    """``InvalidInput`` before anything starts when ``model`` cannot train with ``method``, or a DPO
    setting (beta) comes without DPO."""
    if hyperparameters.beta is not None and method is not Method.DPO:
        raise InvalidInput("beta is a DPO setting: choose the DPO method, or leave beta out.", field="beta")
    if method not in model.methods:
        offered = ", ".join(m.value for m in model.methods) or "none"
        raise InvalidInput(
            f"{{model}} cannot be fine-tuned with {method.value.upper()} on this backend "
            f"(it offers: {offered}). Pick a model that lists it in {{command}}.",
            field="method",
            model=model.name,
            command="/finetune models",
        )


def _named(tiers: list[Tier], name: str, what: str, field: str) -> str:
    for tier in tiers:
        if tier.name.lower() == name.lower():
            return tier.name
    names = ", ".join(t.name for t in tiers)
    raise InvalidInput(f"There is no {what} called {{name}}; choose one of {names}.", field=field, name=name)


def training_tiers(backend: FineTuningBackend) -> list[Tier]:
    """The backend's training tiers, the default first; empty when it has none."""
    return backend.training_tiers() if isinstance(backend, TieredBackend) else []


def deployment_skus(backend: FineTuningBackend) -> list[Tier]:
    """The backend's deployment SKUs, the default first; empty when it has none."""
    return backend.deployment_skus() if isinstance(backend, TieredBackend) else []


def training_tier(backend: FineTuningBackend, name: str | None) -> str | None:
    """The tier ``name`` as the backend spells it; ``None`` stays the backend's default."""
    if name is None:
        return None
    tiers = training_tiers(backend)
    if not tiers:
        raise InvalidInput(
            "The {backend} backend has no training tiers; leave out {flag}.",
            field="training_type",
            backend=backend.kind,
            flag="--training-type",
        )
    return _named(tiers, name, "training tier", "training_type")


def deployment_sku(backend: FineTuningBackend, name: str | None) -> str | None:
    """The SKU ``name`` as the backend spells it; ``None`` stays the backend's default."""
    if name is None:
        return None
    skus = deployment_skus(backend)
    if not skus:
        raise InvalidInput(
            "The {backend} backend has no deployment SKUs; leave out {flag}.",
            field="sku",
            backend=backend.kind,
            flag="--sku",
        )
    return _named(skus, name, "deployment SKU", "sku")


def pausable(backend: FineTuningBackend) -> bool:
    return isinstance(backend, PausableBackend)


def checkpointed(backend: FineTuningBackend) -> bool:
    return isinstance(backend, CheckpointedBackend)


def has_deploy_options(backend: FineTuningBackend) -> bool:
    """Whether Deploy has anything to choose (a checkpoint, a SKU, a target): then it opens the Deploy
    dialog."""
    return checkpointed(backend) or isinstance(backend, TieredBackend) or len(deploy_targets(backend)) > 1


def list_checkpoints(backend: FineTuningBackend, job_id: str) -> list[Checkpoint]:
    """The job's deployable checkpoints, oldest first; empty where the backend keeps none."""
    if not isinstance(backend, CheckpointedBackend):
        return []
    return sorted(backend.list_checkpoints(job_id), key=lambda c: c.number)


def thread_checkpoints(backend: FineTuningBackend, job_id: str) -> list[Checkpoint] | None:
    """A succeeded job's checkpoints, for its thread; None when the backend keeps none or cannot say
    now (the job's success is recorded all the same)."""
    try:
        return list_checkpoints(backend, job_id) or None
    except FtbotError as e:
        log.warning("could not list the checkpoints of %s: %s", job_id, e.message)
        return None


def find_checkpoint(backend: FineTuningBackend, job_id: str, number: int) -> Checkpoint:
    """Checkpoint ``number`` as the job's thread lists it; ``InvalidInput`` naming the ones there are."""
    if not isinstance(backend, CheckpointedBackend):
        raise InvalidInput(
            "The {backend} backend keeps no checkpoints; deploy the final model (leave out {flag}).",
            field="checkpoint",
            backend=backend.kind,
            flag="--checkpoint",
        )
    listed = list_checkpoints(backend, job_id)
    for checkpoint in listed:
        if checkpoint.number == number:
            return checkpoint
    numbers = ", ".join(str(c.number) for c in listed) or "none"
    raise InvalidInput(
        f"{{job}} has no checkpoint {number} (deployable: {numbers}); its thread lists them.",
        field="checkpoint",
        job=job_id,
    )
