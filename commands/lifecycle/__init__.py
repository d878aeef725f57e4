"""The fine-tuning lifecycle as use cases, Slack-free: listeners and the scheduler call them from worker
threads.

``Lifecycle`` wires one of each on the same ports: ``jobs`` (check, launch, poll, cancel), ``pauses``
(pause, resume), ``deploys``
(deploy with approvals), ``endpoints`` (endpoint state, test chat, tear down, hygiene) and ``queries``
(cards, lists). Every state change and the thread messages it deserves are written in one transaction
(the outbox), so a crash never loses a message or sends one twice. Double clicks are settled by the
store's constraints (one live endpoint per model, one pending approval per job, one cancel request).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from commands.costs.budgets import BudgetGuard
from commands.costs.recorder import Costs
from commands.lifecycle.base import Deps
from commands.lifecycle.deploys import Deploys
from commands.lifecycle.endpoints import DEPLOY_GRACE, MAX_PROMPT, Endpoints
from commands.lifecycle.holds import Holds
from commands.lifecycle.jobs import DatasetRejected, Jobs
from commands.lifecycle.pauses import Pauses
from commands.lifecycle.progress import completed_epochs, final_metrics
from commands.lifecycle.queries import Queries
from commands.lifecycle.reruns import Reruns
from commands.lifecycle.values import (
    Checked,
    Data,
    DeployChoices,
    DeployOutcome,
    Launched,
    LocalData,
    ServiceData,
    SubmitRequest,
)
from commands.ports import ApproverDirectory, Clock, FineTuningBackend, Store

__all__ = [
    "DEPLOY_GRACE",
    "MAX_PROMPT",
    "Checked",
    "Data",
    "DatasetRejected",
    "DeployChoices",
    "DeployOutcome",
    "Deploys",
    "Endpoints",
    "Holds",
    "Jobs",
    "Launched",
    "Lifecycle",
    "LocalData",
    "Pauses",
    "Queries",
    "Reruns",
    "ServiceData",
    "SubmitRequest",
    "completed_epochs",
    "final_metrics",
]


class Lifecycle:
    """The use cases on one set of ports: ``life.jobs.launch(...)``, ``life.deploys.request_deploy(...)``,
    ``life.endpoints.teardown(...)``, ``life.queries.card(...)``."""

    def __init__(
        self,
        *,
        backend: FineTuningBackend,
        store: Store,
        clock: Clock,
        approvers: ApproverDirectory,
        work_dir: Path,
        idle_hours: float = 24,
        ttl_hours: float | None = None,
        on_change: Callable[[], None] | None = None,
        owner: str = "",
        costs: Costs | None = None,
        budgets: BudgetGuard | None = None,
    ) -> None:
        deps = Deps(
            backend=backend,
            store=store,
            clock=clock,
            approvers=approvers,
            work_dir=work_dir,
            on_change=on_change or (lambda: None),
            owner=owner,
            costs=costs,
            budgets=budgets,
        )
        self.deps = deps  # the ports, for use cases built beside these (test chat, evaluation)
        self.costs = costs
        self.jobs = Jobs(deps)
        self.pauses = Pauses(deps, self.jobs)
        self.endpoints = Endpoints(deps, idle_hours=idle_hours, ttl_hours=ttl_hours)
        self.deploys = Deploys(deps, self.endpoints)
        self.holds = Holds(deps, self.jobs, self.deploys)  # Approve / Reject: held submits and deploys
        self.queries = Queries(deps)
        self.reruns = Reruns(deps, self.jobs)
