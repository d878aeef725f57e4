"""What every use case shares: the audit entry, the outbox post, the approver check, the change hook."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from commands.errors import Conflict, PermissionDenied, User
from commands.lifecycle.base import Deps, UseCase
from commands.records import Actor, ApprovalState, PostKind, Surface, ThreadPost
from tests.commands.lifecycle.records import deps, job_record
from tests.support.doubles import APPROVER
from tests.support.memory_store import MemoryStore

MEMBER = Actor(user_id="UMEMBER01", channel_id="CJOBS1", surface=Surface.BUTTON)


def test_audit_records_who_what_where_and_clips_the_detail(tmp_path: Path) -> None:
    use = UseCase(deps(tmp_path))
    with use.store.transaction() as tx:
        use._audit(tx, MEMBER, "cancel", "ftjob-1", "ok", "x" * 600)
        use._audit(tx, MEMBER, "pause", "ftjob-2", "error")
    first, second = use.store.audit_log  # type: ignore[attr-defined]
    assert (first.actor, first.action, first.target, first.surface, first.result, first.channel_id) == (
        "UMEMBER01",
        "cancel",
        "ftjob-1",
        Surface.BUTTON,
        "ok",
        "CJOBS1",
    )
    assert first.detail == "x" * 500
    assert second.detail == "" and second.at > first.at  # each entry stamped by the clock


def test_post_queues_one_message_per_key(tmp_path: Path) -> None:
    store = MemoryStore()
    use = UseCase(deps(tmp_path, store=store))
    with store.transaction() as tx:
        tx.add_job(job_record("job-1"))
        use._post(tx, "job-1", PostKind.DEPLOYED, "deployed:ep", endpoint="ep")
        use._post(tx, "job-1", PostKind.DEPLOYED, "deployed:ep", endpoint="other")  # same key: ignored
        use._post(tx, "job-1", PostKind.INFO, "note", "Plain text")
    queued = store.outbox
    assert [q.key for q in queued] == ["job-1:deployed:ep", "job-1:note"]
    assert queued[0].post == ThreadPost(
        job_id="job-1", kind=PostKind.DEPLOYED, text="", data={"endpoint": "ep"}
    )
    assert queued[1].post == ThreadPost(job_id="job-1", kind=PostKind.INFO, text="Plain text", data={})
    assert queued[0].at is not None and queued[1].at > queued[0].at


@pytest.mark.parametrize(
    ("action", "message"),
    [
        (
            "deploy",
            "Only approvers can deploy (ftjob-1). Ask one of them, or click Deploy to request approval.",
        ),
        ("tear_down", "Only approvers can tear down (ftjob-1)."),
        ("doctor", "Only approvers can doctor (ftjob-1)."),
    ],
)
def test_a_non_approver_is_refused_and_audited(tmp_path: Path, action: str, message: str) -> None:
    use = UseCase(deps(tmp_path))
    with pytest.raises(PermissionDenied) as e:
        use._require_approver(MEMBER, action, "ftjob-1")
    assert str(e.value) == message
    assert e.value.names == {"target": "ftjob-1"}
    [entry] = use.store.audit_log  # type: ignore[attr-defined]
    assert (entry.actor, entry.action, entry.target, entry.result, entry.detail) == (
        "UMEMBER01",
        action,
        "ftjob-1",
        "denied",
        "not an approver",
    )


def test_an_approver_passes_without_an_audit_entry(tmp_path: Path) -> None:
    use = UseCase(deps(tmp_path))
    use._require_approver(Actor(user_id=APPROVER), "deploy", "ftjob-1")
    assert use.store.audit_log == []  # type: ignore[attr-defined]


def test_the_change_hook_is_called_and_its_failure_never_breaks_a_use_case(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[int] = []
    base = deps(tmp_path)
    UseCase(Deps(**{**base.__dict__, "on_change": lambda: calls.append(1)}))._changed()
    assert calls == [1]

    def broken() -> None:
        raise OSError("socket closed")

    with caplog.at_level(logging.DEBUG, logger="ftbot.lifecycle"):
        UseCase(Deps(**{**base.__dict__, "on_change": broken}))._changed()
    assert [r.getMessage() for r in caplog.records] == ["on_change hook failed"]
    assert caplog.records[0].exc_info is not None
    UseCase(base)._changed()  # the default hook does nothing


def test_the_use_case_holds_its_ports(tmp_path: Path) -> None:
    d = Deps(**{**deps(tmp_path).__dict__, "owner": "host-1:42:ab"})
    use = UseCase(d)
    assert (use.backend, use.store, use.clock, use.approvers, use.work_dir, use.owner) == (
        d.backend,
        d.store,
        d.clock,
        d.approvers,
        tmp_path,
        "host-1:42:ab",
    )


def test_a_decision_is_recorded_with_its_audit_line_post_and_consequence(tmp_path: Path) -> None:
    store = MemoryStore()
    use = UseCase(deps(tmp_path, store=store))
    with store.transaction() as tx:
        tx.add_job(job_record("job-1"))
        approval, _ = tx.open_approval("job-1", "submit", "UMEMBER01", use.clock.now())
    seen: list[tuple[str, str]] = []
    approver = Actor(user_id=APPROVER, channel_id="CJOBS1", surface=Surface.BUTTON)

    decided = use._record_decision(
        approver,
        approval.id,
        False,
        lambda tx, d, now: seen.append((d.job_id, d.state.value)),
        detail="over-budget submit",
        action="submit",
    )

    assert (decided.state, decided.decided_by) == (ApprovalState.REJECTED, APPROVER)
    assert seen == [("job-1", "rejected")]  # the consequence runs once, with the decided request
    [entry] = store.audit_log
    assert (entry.action, entry.target, entry.result, entry.detail) == (
        "reject",
        "job-1",
        "ok",
        "over-budget submit",
    )
    [queued] = store.outbox
    assert queued.key == f"job-1:approval:{approval.id}:decided"
    assert queued.post.kind is PostKind.APPROVAL_DECIDED
    assert queued.post.data == {
        "approval_id": approval.id,
        "decided_by": APPROVER,
        "approved": False,
        "requested_by": "UMEMBER01",
        "action": "submit",
    }


def test_a_second_decision_is_a_conflict_naming_who_decided_first(tmp_path: Path) -> None:
    store = MemoryStore()
    use = UseCase(deps(tmp_path, store=store))
    with store.transaction() as tx:
        tx.add_job(job_record("job-1"))
        approval, _ = tx.open_approval("job-1", "deploy", "UMEMBER01", use.clock.now())
    approver = Actor(user_id=APPROVER)
    use._record_decision(approver, approval.id, True, lambda *_: None)
    again: list[object] = []

    with pytest.raises(Conflict) as e:
        use._record_decision(approver, approval.id, False, lambda *a: again.append(a))

    assert str(e.value) == f"This request was already approved by {APPROVER}."
    assert isinstance(e.value.names["by"], User)  # rendered as a mention on Slack
    assert again == []  # nothing changes on a lost race
    assert [(a.action, a.result, a.detail) for a in store.audit_log] == [
        ("approve", "ok", ""),
        ("reject", "duplicate", ""),
    ]
    assert len(store.outbox) == 1  # one decided post, from the first decision


# --- added: what a decision passes on, who decided first, the ports a use case keeps ----------------


def _with_approval(tmp_path: Path, calls: list[int] | None = None) -> tuple[UseCase, MemoryStore, int]:
    """A use case on a fresh store holding job-1 and its pending deploy approval; ``calls`` hears of each
    ``on_change``."""
    store = MemoryStore()
    heard = calls if calls is not None else []
    use = UseCase(Deps(**{**deps(tmp_path, store=store).__dict__, "on_change": lambda: heard.append(1)}))
    with store.transaction() as tx:
        tx.add_job(job_record("job-1"))
        approval, _ = tx.open_approval("job-1", "deploy", "UMEMBER01", use.clock.now())
    return use, store, approval.id


def test_an_approval_passes_the_decision_time_to_its_consequence_and_wakes_delivery(tmp_path: Path) -> None:
    calls: list[int] = []
    use, store, approval_id = _with_approval(tmp_path, calls)
    seen: list[object] = []

    decided = use._record_decision(
        Actor(user_id=APPROVER), approval_id, True, lambda tx, d, now: seen.append(now), sku="small"
    )

    assert (decided.state, decided.decided_by) == (ApprovalState.APPROVED, APPROVER)
    assert seen == [decided.decided_at] and decided.decided_at is not None
    assert calls == [1]
    [entry] = store.audit_log
    assert (entry.actor, entry.action, entry.target, entry.result, entry.detail) == (
        APPROVER,
        "approve",
        "job-1",
        "ok",
        "",
    )
    [queued] = store.outbox
    assert queued.post == ThreadPost(
        job_id="job-1",
        kind=PostKind.APPROVAL_DECIDED,
        text="",
        data={
            "approval_id": approval_id,
            "decided_by": APPROVER,
            "approved": True,
            "requested_by": "UMEMBER01",
            "sku": "small",
        },
    )


def test_a_late_decision_is_audited_with_its_detail_and_still_wakes_delivery(tmp_path: Path) -> None:
    calls: list[int] = []
    use, store, approval_id = _with_approval(tmp_path, calls)
    use._record_decision(Actor(user_id="UFIRST001"), approval_id, False, lambda *_: None)

    with pytest.raises(Conflict) as e:
        use._record_decision(Actor(user_id=APPROVER), approval_id, True, lambda *_: None, detail="late one")

    assert str(e.value) == "This request was already rejected by UFIRST001."
    assert e.value.names == {"by": "UFIRST001"}
    assert calls == [1, 1]  # each decision, won or lost, hints delivery
    late = store.audit_log[-1]
    assert (late.actor, late.action, late.target, late.result, late.detail) == (
        APPROVER,
        "approve",
        "job-1",
        "duplicate",
        "late one",
    )


def test_a_request_closed_by_nobody_in_particular_is_a_conflict_with_someone(tmp_path: Path) -> None:
    use, store, approval_id = _with_approval(tmp_path)
    closed = store.tables.approvals[approval_id].model_copy(update={"state": ApprovalState.REJECTED})
    store.tables.approvals[approval_id] = closed  # e.g. the job was cancelled: no one decided it

    with pytest.raises(Conflict) as e:
        use._record_decision(Actor(user_id=APPROVER), approval_id, True, lambda *_: None)

    assert str(e.value) == "This request was already rejected by someone."
    assert e.value.names == {}
    assert [(a.action, a.result) for a in store.audit_log] == [("approve", "duplicate")]
    assert store.outbox == []


def test_the_use_case_holds_its_cost_and_budget_ports_and_change_hook(tmp_path: Path) -> None:
    costs, budgets = object(), object()
    hook = lambda: None  # noqa: E731
    d = Deps(**{**deps(tmp_path).__dict__, "costs": costs, "budgets": budgets, "on_change": hook})
    use = UseCase(d)
    assert (use.costs, use.budgets, use._on_change) == (costs, budgets, hook)
    plain = UseCase(deps(tmp_path))
    assert (plain.costs, plain.budgets, plain.owner) == (None, None, "")


def test_an_audit_detail_of_exactly_the_limit_is_kept_whole(tmp_path: Path) -> None:
    use = UseCase(deps(tmp_path))
    with use.store.transaction() as tx:
        use._audit(tx, MEMBER, "cancel", "ftjob-1", "ok", "y" * 499 + "z")
        use._audit(tx, MEMBER, "cancel", "ftjob-1", "ok", "y" * 500 + "z")
    whole, clipped = use.store.audit_log  # type: ignore[attr-defined]
    assert whole.detail == "y" * 499 + "z"
    assert clipped.detail == "y" * 500


def test_a_failing_change_hook_is_logged_with_its_traceback(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> None:
        raise OSError("socket closed")

    with caplog.at_level(logging.DEBUG, logger="ftbot.lifecycle"):
        UseCase(Deps(**{**deps(tmp_path).__dict__, "on_change": broken}))._changed()
    [record] = caplog.records
    assert (record.levelno, record.getMessage()) == (logging.DEBUG, "on_change hook failed")
    assert record.exc_info and record.exc_info[0] is OSError
    assert "OSError: socket closed" in caplog.text
