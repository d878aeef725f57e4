"""Deploy targets (FTBOT_DEPLOY_TARGETS): where an endpoint lives. ``home`` is the training project and
every backend has it; a ``TargetedBackend`` has more. A deploy request names its target in
``DeployOptions.target`` (None: home), and the endpoint keeps it, so polling, test chat, idle reminders
and tear down act where the endpoint is."""

from __future__ import annotations

from commands.errors import InvalidInput
from commands.models import HOME_TARGET, DeployOptions, DeployTarget
from commands.ports import EndpointOps, FineTuningBackend, TargetedBackend


def deploy_targets(backend: FineTuningBackend) -> list[DeployTarget]:
    """The backend's targets, ``home`` first; empty where it deploys only to its own project."""
    return backend.deploy_targets() if isinstance(backend, TargetedBackend) else []


def is_home(target: str | None) -> bool:
    return target is None or target == HOME_TARGET


def deploy_target(backend: FineTuningBackend, name: str | None) -> str | None:
    """The target ``name`` as configured; ``None`` (and ``home``) stays the training project.
    ``InvalidInput`` naming the targets there are."""
    if is_home(name):
        return None
    if not isinstance(backend, TargetedBackend):
        raise InvalidInput(
            "The {backend} backend deploys only to its training project ({home}): it has no deploy targets "
            "(FTBOT_DEPLOY_TARGETS is for azure and foundry); leave out {flag}.",
            field="target",
            backend=backend.kind,
            home=HOME_TARGET,
            flag="--target",
        )
    targets = deploy_targets(backend)
    if len(targets) < 2:
        raise InvalidInput(
            "The {backend} backend deploys only to its training project ({home}); leave out {flag}, or "
            "name other targets in FTBOT_DEPLOY_TARGETS.",
            field="target",
            backend=backend.kind,
            home=HOME_TARGET,
            flag="--target",
        )
    for target in targets:
        if target.name.lower() == str(name).lower():
            return None if target.name == HOME_TARGET else target.name
    names = ", ".join(t.name for t in targets)
    raise InvalidInput(
        f"There is no deploy target called {{name}}; choose one of {names}.", field="target", name=str(name)
    )


def check_target(backend: FineTuningBackend, options: DeployOptions, model: str) -> None:
    """The article's rules for a deploy to another project, before any deploy call (see
    ``TargetedBackend.check_target``). Nothing to check for the training project."""
    if is_home(options.target):
        return
    if not isinstance(backend, TargetedBackend):  # deploy_target refused it already
        raise InvalidInput(
            "The {backend} backend has no deploy targets.", field="target", backend=backend.kind
        )
    backend.check_target(str(options.target), model, sku=options.sku)


def endpoint_ops(backend: FineTuningBackend, target: str | None) -> EndpointOps:
    """Where an endpoint with ``target`` is deployed, read, chatted with and torn down."""
    if is_home(target):
        return backend
    if not isinstance(backend, TargetedBackend):
        raise InvalidInput(
            "The endpoint was deployed to {target}, but the {backend} backend has no deploy targets now "
            "(FTBOT_DEPLOY_TARGETS).",
            field="target",
            target=str(target),
            backend=backend.kind,
        )
    return backend.endpoints_at(str(target))


def describe_target(backend: FineTuningBackend, name: str | None) -> str:
    """``prod (SUB/RG/PROJECT)`` for the thread and the audit log; the name alone when it is not
    configured (any more)."""
    wanted = name or HOME_TARGET
    for target in deploy_targets(backend):
        if target.name == wanted:
            return f"{target.name} ({target.path})"
    return wanted
