"""What every backend shares."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from commands.errors import InvalidInput, NotFound, PermissionDenied
from commands.models import DeployTarget

T = TypeVar("T")


def no_skus(kind: str, sku: str | None) -> None:
    """For a backend without deployment SKUs: refuse one, plainly."""
    if sku is not None:
        raise InvalidInput(
            f"The {kind} backend has no deployment SKUs: deploy without choosing one ({{sku}}).",
            field="sku",
            sku=sku,
        )


class TtlCache(Generic[T]):
    """``load()``'s value, kept for ``ttl_s`` (by ``clock``): at most one load per TTL, so Slack's option
    loads are answered from memory; concurrent callers wait for one load."""

    def __init__(self, load: Callable[[], T], ttl_s: float, clock: Callable[[], float]) -> None:
        self._load, self._ttl_s, self._clock = load, ttl_s, clock
        self._lock = threading.Lock()
        self._cached: tuple[float, T] | None = None

    def get(self) -> T:
        cached = self._cached
        if cached is not None and self._clock() - cached[0] < self._ttl_s:
            return cached[1]
        with self._lock:
            cached = self._cached
            if cached is not None and self._clock() - cached[0] < self._ttl_s:
                return cached[1]
            value = self._load()
            self._cached = (self._clock(), value)
            return value

    def refresh(self) -> T:
        """Drop the cached value and load again."""
        with self._lock:
            self._cached = None
        return self.get()


E = TypeVar("E")


class TargetRegistry(Generic[E]):
    """``home`` (the training project or account) and the deploy targets of FTBOT_DEPLOY_TARGETS, each
    with what acts there (``E``: its endpoint operations), in the setting's order."""

    def __init__(self, home: DeployTarget, targets: Sequence[tuple[DeployTarget, E]]) -> None:
        self.home = home
        self._targets = {target.name: (target, ops) for target, ops in targets}

    def list(self) -> list[DeployTarget]:
        return [self.home, *(target for target, _ in self._targets.values())]

    def at(self, name: str) -> E:
        """What acts in target ``name``; ``NotFound`` naming the configured ones."""
        found = self._targets.get(name)
        if found is None:
            names = ", ".join(t.name for t in self.list())
            raise NotFound(f"There is no deploy target called {{target}} (configured: {names}).", target=name)
        return found[1]


def unreachable(target: DeployTarget, place: str, role: str) -> PermissionDenied:
    """The credential cannot reach ``target``'s subscription: named, with the role that fixes it.
    ``place``: what ``target.project`` is (``project``, ``account``)."""
    return PermissionDenied(
        f"The credential cannot reach subscription {{subscription}} (deploy target {{target}}: resource "
        f"group {{group}}, {place} {{project}}). Give it a role there ({role}), or choose another target.",
        subscription=target.subscription_id,
        target=target.name,
        group=target.resource_group,
        project=target.project,
    )


def missing_target(target: DeployTarget, place: str) -> InvalidInput:
    """``target`` names a project or account that is not there (or that the credential cannot see)."""
    return InvalidInput(
        f"Deploy target {{target}} names {place} {{project}} in resource group {{group}} of subscription "
        "{subscription}, which does not exist or which the credential cannot see. Check "
        "FTBOT_DEPLOY_TARGETS.",
        field="target",
        target=target.name,
        project=target.project,
        group=target.resource_group,
        subscription=target.subscription_id,
    )
