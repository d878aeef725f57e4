"""Twenty concurrent clicks over signed HTTP, by approvers, on one job: one endpoint, one tear-down, one
cancel, one decision. The store settles them (a unique model slot, conditional state transitions, one
cancel request), not a lock in this process."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import func, select

from bot.demo.payloads import block_action, payload_body, slash_body
from bot.store.tables import AuditRow, EndpointRow, OutboxRow
from bot.ui.ids import Action
from commands.models import EndpointState, JobState
from tests.fakes.backend import FakeBackend
from tests.reliability.conftest import APPROVERS, CHANNEL, MEMBER
from tests.support.world import World, submit

N = 20


def _together(world: World, bodies: list[str]) -> list[int]:
    """Send all requests at once (20 connections) and return their HTTP statuses."""
    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        return [r.status for r in pool.map(world.bot.post, bodies)]


def _clicks(world: World, action: Action, value: str, users: Callable[[int], str]) -> list[str]:
    return [
        payload_body(block_action(action, value, user=users(i), channel=CHANNEL,
                                  response_url=world.fake.response_url(f"c{i}")))
        for i in range(N)
    ]  # fmt: skip


def _count(world: World, model: Any, *where: Any) -> int:
    with world.services.database.session_scope() as s:
        return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def _settle(world: World, replies: int) -> list[str]:
    """Wait until every click has had its ephemeral answer; tick the scheduler meanwhile."""
    world.until(lambda: len(world.fake.responses) >= replies, ticks=200)
    world.tick(3)
    return world.response_texts()


def _succeeded(world: World) -> str:
    job_id = submit(world)
    world.until(lambda: world.services.lifecycle.queries.card(job_id).job.state is JobState.SUCCEEDED)
    world.fake.responses.clear()
    return job_id


def approver(i: int) -> str:
    return APPROVERS[i % len(APPROVERS)]


def test_twenty_concurrent_deploy_clicks_create_one_endpoint(world: World) -> None:
    job_id = _succeeded(world)
    assert _together(world, _clicks(world, Action.DEPLOY, job_id, approver)) == [200] * N
    texts = _settle(world, N)
    assert sum("Deploying" in t for t in texts) == 1, texts
    assert sum("already deployed" in t for t in texts) == N - 1, texts
    assert isinstance(world.backend, FakeBackend) and world.backend.calls["deploy_model"] == 1
    assert _count(world, EndpointRow) == 1
    assert _count(world, OutboxRow, OutboxRow.kind == "deploying") == 1
    assert _count(world, AuditRow, AuditRow.action == "deploy") == 1


def test_twenty_concurrent_deploy_text_commands_create_one_endpoint(world: World) -> None:
    job_id = _succeeded(world)
    bodies = [slash_body(f"deploy {job_id}", user=approver(i), channel=CHANNEL,
                         response_url=world.fake.response_url(f"d{i}")) for i in range(N)]  # fmt: skip
    assert _together(world, bodies) == [200] * N
    texts = _settle(world, N)
    assert sum("Deploying" in t for t in texts) == 1, texts
    assert isinstance(world.backend, FakeBackend) and world.backend.calls["deploy_model"] == 1
    assert _count(world, EndpointRow) == 1


def test_twenty_concurrent_tear_down_clicks_tear_down_once(world: World) -> None:
    job_id = _succeeded(world)
    world.click(Action.DEPLOY, job_id, user=APPROVERS[0])
    world.until(lambda: (e := world.services.lifecycle.queries.card(job_id).endpoint) is not None
                and e.state is EndpointState.READY)  # fmt: skip
    name = world.services.lifecycle.queries.card(job_id).endpoint.name  # type: ignore[union-attr]
    world.fake.responses.clear()
    assert _together(world, _clicks(world, Action.TEAR_DOWN, name, approver)) == [200] * N
    texts = _settle(world, N)
    assert sum("is torn down" in t for t in texts) == 1, texts
    assert sum("already" in t for t in texts) == N - 1, texts
    assert isinstance(world.backend, FakeBackend) and world.backend.calls["delete_endpoint"] == 1
    assert _count(world, OutboxRow, OutboxRow.kind == "torn_down") == 1
    assert world.services.lifecycle.queries.endpoint(name).state is EndpointState.DELETED


def test_twenty_concurrent_cancel_clicks_cancel_once(world: World) -> None:
    assert isinstance(world.backend, FakeBackend)
    world.backend.epochs = 50
    job_id = submit(world)
    world.tick(2)
    world.fake.responses.clear()
    users = lambda i: MEMBER if i % 2 else approver(i)  # noqa: E731 - the submitter and approvers
    assert _together(world, _clicks(world, Action.CANCEL, job_id, users)) == [200] * N
    texts = _settle(world, N)
    assert sum("Cancel of" in t for t in texts) == 1, texts
    assert sum("already" in t for t in texts) == N - 1, texts
    assert world.backend.calls["cancel_job"] == 1
    assert world.services.lifecycle.queries.card(job_id).job.state is JobState.CANCELLED
    assert _count(world, OutboxRow, OutboxRow.kind == "cancelled") == 1


def test_twenty_concurrent_approve_clicks_deploy_once(world: World) -> None:
    job_id = _succeeded(world)
    world.click(Action.DEPLOY, job_id, user=MEMBER)
    world.wait_response("approval request")
    approval = world.services.lifecycle.queries.card(job_id).pending_approval
    assert approval is not None
    world.fake.responses.clear()
    assert _together(world, _clicks(world, Action.APPROVE, str(approval.id), approver)) == [200] * N
    texts = _settle(world, N)
    assert sum("approved: deploying" in t for t in texts) == 1, texts
    assert sum("already approved" in t for t in texts) == N - 1, texts
    assert isinstance(world.backend, FakeBackend) and world.backend.calls["deploy_model"] == 1
    assert _count(world, EndpointRow) == 1
    assert _count(world, OutboxRow, OutboxRow.kind == "approval_decided") == 1
