"""``commands.lifecycle``: what it exports, and ``Lifecycle`` wiring every use case on one set of ports."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import commands.lifecycle as lifecycle
from commands.lifecycle import Lifecycle
from commands.lifecycle.endpoints import DEPLOY_GRACE, MAX_PROMPT
from commands.lifecycle.progress import completed_epochs, final_metrics
from tests.fakes.backend import FakeBackend
from tests.support.doubles import Approvers, Clock
from tests.support.memory_store import MemoryStore


def _life(tmp_path: Path, **kw: object) -> tuple[Lifecycle, FakeBackend, MemoryStore, Clock, Approvers]:
    backend, store, clock, approvers = FakeBackend(), MemoryStore(), Clock(), Approvers()
    life = Lifecycle(
        backend=backend,
        store=store,
        clock=clock,
        approvers=approvers,
        work_dir=tmp_path,
        **kw,  # type: ignore[arg-type]
    )
    return life, backend, store, clock, approvers


def test_the_package_exports_its_use_cases_and_values() -> None:
    assert set(lifecycle.__all__) == {
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
    }
    assert all(hasattr(lifecycle, name) for name in lifecycle.__all__)
    assert (lifecycle.DEPLOY_GRACE, lifecycle.MAX_PROMPT) == (DEPLOY_GRACE, MAX_PROMPT)
    assert (lifecycle.completed_epochs, lifecycle.final_metrics) == (completed_epochs, final_metrics)


def test_every_use_case_runs_on_the_same_ports(tmp_path: Path) -> None:
    costs, budgets = object(), object()
    heard: list[int] = []
    life, backend, store, clock, approvers = _life(
        tmp_path,
        idle_hours=6,
        ttl_hours=48,
        on_change=lambda: heard.append(1),
        owner="host-1:42:ab",
        costs=costs,
        budgets=budgets,
    )
    d = life.deps
    assert (d.backend, d.store, d.clock, d.approvers, d.work_dir) == (
        backend,
        store,
        clock,
        approvers,
        tmp_path,
    )
    assert (d.owner, d.costs, d.budgets) == ("host-1:42:ab", costs, budgets)
    d.on_change()
    assert heard == [1]
    assert life.costs is costs
    cases = (life.jobs, life.pauses, life.endpoints, life.deploys, life.holds, life.queries, life.reruns)
    for case in cases:
        assert (case.backend, case.store, case.clock, case.approvers, case.work_dir) == (
            backend,
            store,
            clock,
            approvers,
            tmp_path,
        )
        assert (case.owner, case.costs, case.budgets) == ("host-1:42:ab", costs, budgets)
    assert (life.endpoints.idle_hours, life.endpoints.ttl_hours) == (6, 48)


def test_the_use_cases_call_each_other_through_the_same_instances(tmp_path: Path) -> None:
    life = _life(tmp_path)[0]
    assert life.pauses.jobs is life.jobs
    assert life.deploys.endpoints is life.endpoints
    assert life.holds.jobs is life.jobs and life.holds.deploys is life.deploys
    assert life.reruns.jobs is life.jobs


def test_the_defaults_idle_a_day_no_ttl_no_owner_no_costs_and_a_silent_hook(tmp_path: Path) -> None:
    life = _life(tmp_path)[0]
    assert (life.endpoints.idle_hours, life.endpoints.ttl_hours) == (24, None)
    assert (life.deps.owner, life.deps.costs, life.deps.budgets, life.costs) == ("", None, None, None)
    hook: Callable[[], object] = life.deps.on_change
    assert hook() is None  # a hook that does nothing
