"""The shared test-suite of the store ports: every ``Store`` passes ``StoreContract``, every
``SchedulerStore`` passes ``SchedulerStoreContract`` too.

A store's test module subclasses them and provides a ``store`` fixture returning an empty, migrated store.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import pytest

from commands.errors import Conflict, InvalidInput, NotFound
from commands.models import DatasetRef, DeployOptions, EndpointState, JobSpec, JobState
from commands.ports import SchedulerStore, Store
from commands.records import (
    VIEW_STATE_MAX_BYTES,
    ApprovalState,
    AuditEntry,
    DatasetSummary,
    EndpointRecord,
    JobRecord,
    LaunchRecord,
    LaunchState,
    PostKind,
    Surface,
    ThreadPost,
    ViewStateRecord,
)

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
T = TypeVar("T")


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def job(
    job_id: str = "ftbot-job-1", *, minute: float = 0, channel: str = "CJOBS1", user: str = "UMEMBER01"
) -> JobRecord:
    spec = JobSpec(
        name=job_id,
        base_model="ftbot-tiny",
        training=DatasetRef(kind="file", value="/data/train.jsonl", name="train.jsonl"),
        output_model_name=f"{job_id}-out",
    )
    return JobRecord(
        id=job_id,
        team_id="T1",
        channel_id=channel,
        user_id=user,
        spec=spec,
        summary=DatasetSummary(training_name="train.jsonl", examples=30),
        state=JobState.PENDING,
        created_at=at(minute),
        updated_at=at(minute),
    )


def endpoint(
    name: str, job_id: str = "ftbot-job-1", *, model: str = "ftbot-job-1-out", minute: float = 0
) -> EndpointRecord:
    return EndpointRecord(
        name=name,
        job_id=job_id,
        model=model,
        state=EndpointState.CREATING,
        requested_by="UAPPROVER1",
        created_at=at(minute),
        updated_at=at(minute),
    )


def launch(launch_id: str, *, owner: str = "replica-a", minute: float = 0) -> LaunchRecord:
    return LaunchRecord(
        id=launch_id,
        team_id="T1",
        enterprise_id="E1",
        channel_id="CJOBS1",
        user_id="UMEMBER01",
        owner=owner,
        surface=Surface.MODAL,
        what="ftbot-tiny on train.jsonl",
        created_at=at(minute),
        updated_at=at(minute),
    )


def view_state(
    key: str = "vs-1",
    *,
    team: str = "T1",
    payload: str = '{"step": "data"}',
    minute: float = 0,
    ttl: float = 60,
) -> ViewStateRecord:
    return ViewStateRecord(
        key=key,
        team_id=team,
        enterprise_id="E1",
        user_id="UMEMBER01",
        payload=payload,
        created_at=at(minute),
        expires_at=at(minute + ttl),
    )


def post(job_id: str = "ftbot-job-1", text: str = "hello") -> ThreadPost:
    return ThreadPost(job_id=job_id, kind=PostKind.INFO, text=text)


def at_once(n: int, fn: Callable[[int], T]) -> list[T]:
    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(fn, range(n)))


class StoreContract:
    """``commands.ports.Store``. Subclass in a ``Test*`` class and provide a ``store`` fixture."""

    # --- jobs ---

    def test_a_job_reads_back_as_added_and_its_id_is_unique(self, store: Store) -> None:
        with store.transaction() as tx:
            tx.add_job(job())
        with store.transaction() as tx:
            assert tx.get_job("ftbot-job-1") == job()
        with pytest.raises(Conflict) as e, store.transaction() as tx:
            tx.add_job(job())
        assert e.value.existing == "ftbot-job-1"
        with pytest.raises(NotFound), store.transaction() as tx:
            tx.get_job("ftbot-no-such-job")

    def test_find_jobs_is_newest_first_filtered_and_limited(self, store: Store) -> None:
        with store.transaction() as tx:
            tx.add_job(job("ftbot-a", minute=1))
            tx.add_job(job("ftbot-b", minute=2, channel="COTHER1"))
            tx.add_job(job("ftbot-c", minute=3, user="UOTHER001"))
        with store.transaction() as tx:
            assert [j.id for j in tx.find_jobs()] == ["ftbot-c", "ftbot-b", "ftbot-a"]
            assert [j.id for j in tx.find_jobs(channel_id="CJOBS1")] == ["ftbot-c", "ftbot-a"]
            assert [j.id for j in tx.find_jobs(user_id="UMEMBER01")] == ["ftbot-b", "ftbot-a"]
            assert [j.id for j in tx.find_jobs(limit=1)] == ["ftbot-c"]

    def test_update_job_bumps_the_card_version_once_per_change(self, store: Store) -> None:
        with store.transaction() as tx:
            tx.add_job(job())
        with store.transaction() as tx:
            moved = tx.update_job("ftbot-job-1", state=JobState.QUEUED, service_status="Queued")
            assert moved.state is JobState.QUEUED and moved.service_status == "Queued" and moved.version == 2
            same = tx.update_job("ftbot-job-1", state=JobState.QUEUED, updated_at=at(1))
            assert same.version == 2 and same.updated_at == at(1)  # the same state again: no new card
            assert tx.update_job("ftbot-job-1", error="slow").version == 3
            assert tx.update_job("ftbot-job-1", bump=False, output_model="m-1").version == 3
            spec = moved.spec.model_copy(update={"training": DatasetRef(kind="asset", value="azureml:t:1")})
            assert tx.update_job("ftbot-job-1", bump=False, spec=spec).spec == spec
        with store.transaction() as tx:
            final = tx.get_job("ftbot-job-1")
            assert (final.version, final.error, final.output_model) == (3, "slow", "m-1")
            assert final.spec.training.kind == "asset"
            with pytest.raises(ValueError):
                tx.update_job("ftbot-job-1", user_id="USOMEONE")
            with pytest.raises(NotFound):
                tx.update_job("ftbot-no-such-job", error="x")

    def test_the_first_cancel_request_wins(self, store: Store) -> None:
        with store.transaction() as tx:
            tx.add_job(job())
            assert not tx.cancel_requested("ftbot-job-1")
        with store.transaction() as tx:
            assert tx.request_cancel("ftbot-job-1", "UMEMBER01", at(1)) is None
        with store.transaction() as tx:
            assert tx.request_cancel("ftbot-job-1", "UAPPROVER1", at(2)) == "UMEMBER01"
            assert tx.cancel_requested("ftbot-job-1")
            with pytest.raises(NotFound):
                tx.request_cancel("ftbot-no-such-job", "UMEMBER01", at(2))

    def test_concurrent_cancel_requests_have_one_winner(self, store: Store) -> None:
        with store.transaction() as tx:
            tx.add_job(job())

        def ask(i: int) -> str | None:
            with store.transaction() as tx:
                return tx.request_cancel("ftbot-job-1", f"U{i:08d}", at(1))

        assert at_once(8, ask).count(None) == 1

    def test_progress_starts_at_zero_and_reads_back(self, store: Store) -> None:
        with store.transaction() as tx:
            tx.add_job(job())
            assert tx.progress("ftbot-job-1") == (0, 0)
        with store.transaction() as tx:
            tx.set_progress("ftbot-job-1", 4, 2)
        with store.transaction() as tx:
            assert tx.progress("ftbot-job-1") == (4, 2)

    def test_a_failed_transaction_leaves_nothing_behind(self, store: Store) -> None:
        with pytest.raises(RuntimeError), store.transaction() as tx:
            tx.add_job(job())
            tx.post(post(), key="k1", at=at(0))
            raise RuntimeError("the process died")
        with store.transaction() as tx:
            assert tx.find_jobs() == []
            tx.add_job(job())
            assert tx.post(post(), key="k1", at=at(0))

    # --- endpoints ---

    def test_one_live_endpoint_per_model(self, store: Store) -> None:
        with store.transaction() as tx:
            tx.add_job(job())
            claimed = tx.claim_endpoint(endpoint("ep-1"))
            assert claimed.state is EndpointState.CREATING
        with pytest.raises(Conflict) as e, store.transaction() as tx:
            tx.claim_endpoint(endpoint("ep-2", minute=1))
        assert e.value.existing == "ep-1"
        with store.transaction() as tx:
            gone = tx.transition_endpoint(
                "ep-1", (EndpointState.CREATING,), EndpointState.FAILED, error="quota"
            )
            assert gone is not None and gone.state is EndpointState.FAILED and gone.error == "quota"
        with store.transaction() as tx:  # a failed or deleted endpoint frees the model
            tx.claim_endpoint(endpoint("ep-2", minute=1))
        with pytest.raises(Conflict), store.transaction() as tx:  # the name stays taken
            tx.claim_endpoint(endpoint("ep-1", model="other-model", minute=2))
        with store.transaction() as tx:
            assert [e.name for e in tx.endpoints_for_job("ftbot-job-1")] == ["ep-1", "ep-2"]
            assert [e.name for e in tx.live_endpoints()] == ["ep-2"]

    def test_concurrent_claims_of_one_model_have_one_winner(self, store: Store) -> None:
        with store.transaction() as tx:
            tx.add_job(job())

        def claim(i: int) -> str:
            try:
                with store.transaction() as tx:
                    tx.claim_endpoint(endpoint(f"ep-{i}"))
                return "ok"
            except Conflict:
                return "conflict"

        assert at_once(8, claim).count("ok") == 1
        with store.transaction() as tx:
            assert len(tx.live_endpoints()) == 1

    def test_endpoints_move_only_from_the_state_the_caller_saw(self, store: Store) -> None:
        with store.transaction() as tx:
            tx.add_job(job())
            tx.claim_endpoint(endpoint("ep-1"))
        with store.transaction() as tx:
            assert tx.transition_endpoint("ep-1", (EndpointState.READY,), EndpointState.DELETING) is None
            ready = tx.transition_endpoint(
                "ep-1",
                (EndpointState.CREATING,),
                EndpointState.READY,
                scoring_uri="https://x/score",
                ready_at=at(5),
            )
            assert ready is not None and ready.scoring_uri == "https://x/score" and ready.ready_at == at(5)
            assert tx.transition_endpoint("ep-1", (EndpointState.CREATING,), EndpointState.READY) is None
            assert (
                tx.transition_endpoint("ep-no-such", (EndpointState.READY,), EndpointState.DELETING) is None
            )
            with pytest.raises(ValueError):
                tx.transition_endpoint("ep-1", (EndpointState.READY,), EndpointState.DELETING, model="m")
        with store.transaction() as tx:
            touched = tx.touch_endpoint("ep-1", last_used_at=at(6), idle_reminder_at=None)
            assert touched.last_used_at == at(6) and touched.state is EndpointState.READY
            assert tx.get_endpoint("ep-1") == touched
            with pytest.raises(ValueError):
                tx.touch_endpoint("ep-1", state="deleted")
            with pytest.raises(NotFound):
                tx.get_endpoint("ep-no-such")

    # --- approvals ---

    def test_one_pending_approval_per_job_decided_once(self, store: Store) -> None:
        with store.transaction() as tx:
            tx.add_job(job())
            assert tx.pending_approval("ftbot-job-1") is None
            first, created = tx.open_approval("ftbot-job-1", "deploy", "UMEMBER01", at(1))
            assert created and first.state is ApprovalState.PENDING and first.requested_by == "UMEMBER01"
        with store.transaction() as tx:
            again, created = tx.open_approval("ftbot-job-1", "deploy", "UOTHER001", at(2))
            assert not created and again == first
            assert tx.pending_approval("ftbot-job-1") == first
        with store.transaction() as tx:
            decided = tx.decide_approval(first.id, True, "UAPPROVER1", at(3))
            assert decided is not None and decided.state is ApprovalState.APPROVED
            assert (decided.decided_by, decided.decided_at) == ("UAPPROVER1", at(3))
            assert tx.decide_approval(first.id, False, "UAPPROVER2", at(4)) is None
            assert tx.get_approval(first.id) == decided
            assert tx.pending_approval("ftbot-job-1") is None
        with store.transaction() as tx:  # decided: a new request may be opened
            second, created = tx.open_approval("ftbot-job-1", "deploy", "UMEMBER01", at(5))
            assert created and second.id != first.id
            with pytest.raises(NotFound):
                tx.get_approval(second.id + 100)

    def test_an_approval_keeps_its_deploy_request_whole(self, store: Store) -> None:
        asked = DeployOptions(checkpoint=2, sku="GlobalStandard")
        with store.transaction() as tx:
            tx.add_job(job())
            plain, _ = tx.open_approval("ftbot-job-1", "deploy", "UMEMBER01", at(1))
            assert plain.options == DeployOptions()  # no options: the defaults
            tx.decide_approval(plain.id, False, "UAPPROVER1", at(2))
            first, created = tx.open_approval("ftbot-job-1", "deploy", "UMEMBER01", at(3), options=asked)
            assert created and first.options == asked
        with store.transaction() as tx:  # a request already pending keeps its own options
            again, created = tx.open_approval(
                "ftbot-job-1", "deploy", "UOTHER001", at(4), options=DeployOptions(checkpoint=1)
            )
            assert not created and again.options == asked
            assert tx.get_approval(first.id).options == asked
            decided = tx.decide_approval(first.id, True, "UAPPROVER1", at(5))
            assert decided is not None and decided.options == asked

    def test_an_endpoint_keeps_the_options_it_was_deployed_with(self, store: Store) -> None:
        asked = DeployOptions(checkpoint=3, sku="Developer")
        with store.transaction() as tx:
            tx.add_job(job())
            claimed = tx.claim_endpoint(endpoint("ep-1").model_copy(update={"options": asked}))
            assert claimed.options == asked
        with store.transaction() as tx:
            assert tx.get_endpoint("ep-1").options == asked
            moved = tx.transition_endpoint("ep-1", (EndpointState.CREATING,), EndpointState.READY)
            assert moved is not None and moved.options == asked
            tx.claim_endpoint(endpoint("ep-2", model="other-model"))
            assert tx.get_endpoint("ep-2").options == DeployOptions()

    def test_concurrent_requests_open_one_approval(self, store: Store) -> None:
        with store.transaction() as tx:
            tx.add_job(job())

        def request(i: int) -> tuple[int, bool]:
            with store.transaction() as tx:
                approval, created = tx.open_approval("ftbot-job-1", "deploy", f"U{i:08d}", at(1))
                return approval.id, created

        results = at_once(8, request)
        assert [created for _, created in results].count(True) == 1
        assert len({approval_id for approval_id, _ in results}) == 1

    # --- audit and outbox ---

    def test_the_audit_log_reads_back_in_order(self, store: Store) -> None:
        entries = [
            AuditEntry(
                at=at(1),
                actor="UMEMBER01",
                action="launch",
                target="ftbot-job-1",
                surface=Surface.MODAL,
                result="ok",
                channel_id="CJOBS1",
            ),
            AuditEntry(
                at=at(2),
                actor="UOTHER001",
                action="cancel",
                target="ftbot-job-1",
                surface=Surface.BUTTON,
                result="denied",
                detail="not the submitter or an approver",
            ),
        ]
        with store.transaction() as tx:
            for entry in entries:
                tx.audit(entry)
        with store.transaction() as tx:
            assert tx.audit_entries() == entries
            assert tx.audit_entries(limit=1) == entries[:1]

    def test_a_thread_post_is_queued_once_per_key(self, store: Store) -> None:
        with store.transaction() as tx:
            tx.add_job(job())
            assert tx.post(post(), key="ftbot-job-1:state:queued", at=at(1))
            assert not tx.post(post(text="again"), key="ftbot-job-1:state:queued", at=at(2))
        with store.transaction() as tx:
            assert not tx.post(post(), key="ftbot-job-1:state:queued", at=at(3))
            assert tx.post(post(), key="ftbot-job-1:state:running", at=at(3))

    def test_a_job_without_a_channel_queues_no_thread_posts(self, store: Store) -> None:
        """``ftbot submit`` without ``--channel``: no card, so no thread to post in."""
        with store.transaction() as tx:
            tx.add_job(job("ftbot-job-2", channel=""))
            assert not tx.post(post("ftbot-job-2"), key="ftbot-job-2:state:queued", at=at(1))
            tx.add_job(job())
            assert tx.post(post(), key="ftbot-job-1:state:queued", at=at(1))

    def test_concurrent_posts_of_one_key_queue_one_message(self, store: Store) -> None:
        with store.transaction() as tx:
            tx.add_job(job())

        def queue(i: int) -> bool:
            with store.transaction() as tx:
                return tx.post(post(text=str(i)), key="ftbot-job-1:once", at=at(1))

        assert at_once(8, queue).count(True) == 1

    # --- launches ---

    def test_a_launch_is_recorded_and_finished_with_its_job(self, store: Store) -> None:
        with store.transaction() as tx:
            tx.begin_launch(launch("L1"))
            assert tx.get_launch("L1") == launch("L1")
        with pytest.raises(Conflict), store.transaction() as tx:
            tx.begin_launch(launch("L1"))
        with store.transaction() as tx:
            tx.add_job(job())
            tx.finish_launch("L1", "ftbot-job-1", at=at(1))
        with store.transaction() as tx:
            done = tx.get_launch("L1")
            assert (done.state, done.job_id, done.updated_at) == (LaunchState.SUBMITTED, "ftbot-job-1", at(1))
            assert (done.team_id, done.enterprise_id) == ("T1", "E1")
            assert not tx.answer_launch("L1", at=at(2))  # its card answers the user
            with pytest.raises(NotFound):
                tx.get_launch("L-no-such")

    def test_checking_launches_are_the_unfinished_ones_oldest_first(self, store: Store) -> None:
        with store.transaction() as tx:
            tx.begin_launch(launch("old", owner="replica-a", minute=0))
            tx.begin_launch(launch("dead", owner="replica-b", minute=10))
            tx.begin_launch(launch("fresh", owner="replica-a", minute=10))
            tx.begin_launch(launch("done", owner="replica-b", minute=1))
            tx.begin_launch(launch("told", owner="replica-b", minute=2))
            tx.add_job(job())
            tx.finish_launch("done", "ftbot-job-1", at=at(3))
            assert tx.answer_launch("told", at=at(3))
        with store.transaction() as tx:
            assert [s.id for s in tx.checking_launches()] == ["old", "dead", "fresh"]

    def test_a_launch_is_answered_once(self, store: Store) -> None:
        with store.transaction() as tx:
            tx.begin_launch(launch("L1"))

        def answer(i: int) -> bool:
            with store.transaction() as tx:
                return tx.answer_launch("L1", at=at(1))

        assert at_once(8, answer).count(True) == 1
        with store.transaction() as tx:
            assert tx.get_launch("L1").state is LaunchState.ANSWERED
            assert tx.checking_launches() == []
            assert not tx.answer_launch("L-no-such", at=at(1))

    def test_an_answered_launch_rolls_its_late_job_back(self, store: Store) -> None:
        with store.transaction() as tx:
            tx.begin_launch(launch("L1"))
            assert tx.answer_launch("L1", at=at(1))
        with pytest.raises(Conflict), store.transaction() as tx:
            tx.add_job(job())
            tx.finish_launch("L1", "ftbot-job-1", at=at(2))
        with store.transaction() as tx:
            assert tx.find_jobs() == []
            assert tx.get_launch("L1").job_id is None

    # --- view state ---

    def test_a_view_state_reads_back_as_put_until_it_expires(self, store: Store) -> None:
        with store.transaction() as tx:
            tx.put_view_state(view_state())
        with store.transaction() as tx:
            assert tx.get_view_state("vs-1", team_id="T1", now=at(1)) == view_state()
            assert tx.get_view_state("vs-1", team_id="T1", now=at(59.9)) == view_state()
            assert tx.get_view_state("vs-1", team_id="T1", now=at(60)) is None
            assert tx.get_view_state("vs-no-such", team_id="T1", now=at(1)) is None

    def test_putting_a_view_state_again_replaces_it(self, store: Store) -> None:
        with store.transaction() as tx:
            tx.put_view_state(view_state(payload="first"))
        with store.transaction() as tx:
            tx.put_view_state(view_state(payload="second", minute=5))
        with store.transaction() as tx:
            assert tx.get_view_state("vs-1", team_id="T1", now=at(62)) == view_state(
                payload="second", minute=5
            )
            tx.put_view_state(view_state(payload="third", minute=6))  # and inside one transaction
            assert tx.get_view_state("vs-1", team_id="T1", now=at(7)) == view_state(payload="third", minute=6)

    def test_a_view_state_is_read_by_its_own_workspace_only(self, store: Store) -> None:
        with store.transaction() as tx:
            tx.put_view_state(view_state())
        with store.transaction() as tx:
            assert tx.get_view_state("vs-1", team_id="T2", now=at(1)) is None
            assert tx.get_view_state("vs-1", team_id="", now=at(1)) is None
        with pytest.raises(Conflict), store.transaction() as tx:
            tx.put_view_state(view_state(team="T2", payload="taken over"))
        with store.transaction() as tx:
            assert tx.get_view_state("vs-1", team_id="T1", now=at(1)) == view_state()

    def test_a_view_state_keeps_64_kb_and_refuses_more(self, store: Store) -> None:
        most = "é" * (VIEW_STATE_MAX_BYTES // 2)  # two UTF-8 bytes each
        with store.transaction() as tx:
            tx.put_view_state(view_state("big", payload=most))
        with store.transaction() as tx:
            state = tx.get_view_state("big", team_id="T1", now=at(1))
            assert state is not None and state.payload == most
        for payload in (most + "x", "a\x00b", "lone \ud800 surrogate"):
            with pytest.raises(InvalidInput), store.transaction() as tx:
                tx.put_view_state(view_state("bad", payload=payload))
        with store.transaction() as tx:
            assert tx.get_view_state("bad", team_id="T1", now=at(1)) is None
            assert tx.get_view_state("big", team_id="T1", now=at(1)) == state

    def test_purging_deletes_the_expired_view_states_only(self, store: Store) -> None:
        with store.transaction() as tx:
            tx.put_view_state(view_state("old", ttl=10))
            tx.put_view_state(view_state("edge", ttl=20))
            tx.put_view_state(view_state("fresh", ttl=60))
        with store.transaction() as tx:
            assert tx.purge_view_states(at(20)) == 2
        with store.transaction() as tx:
            assert tx.purge_view_states(at(20)) == 0
            assert tx.get_view_state("fresh", team_id="T1", now=at(20)) == view_state("fresh", ttl=60)
            tx.put_view_state(view_state("old", ttl=100))  # a purged key can be used again
            assert tx.get_view_state("old", team_id="T1", now=at(20)) is not None


class SchedulerStoreContract:
    """What ``commands.ports.SchedulerStore`` adds: leases, job claims, card and outbox delivery."""

    def test_a_named_lease_has_one_holder_until_it_expires_or_is_released(
        self, store: SchedulerStore
    ) -> None:
        ttl = timedelta(minutes=1)
        with store.transaction() as tx:
            assert tx.acquire_lease("delivery", "replica-a", at(0), ttl)
            assert tx.acquire_lease("delivery", "replica-a", at(0.5), ttl)  # renewed
            assert not tx.acquire_lease("delivery", "replica-b", at(1), ttl)
            assert tx.lease_owners(at(1)) == {"replica-a"}
            assert tx.acquire_lease("delivery", "replica-b", at(2), ttl)  # expired at 1.5
        with store.transaction() as tx:
            tx.release_lease("delivery", "replica-a")  # not the holder: nothing happens
            assert not tx.acquire_lease("delivery", "replica-a", at(2.5), ttl)
            tx.release_lease("delivery", "replica-b")
            assert tx.acquire_lease("delivery", "replica-a", at(2.5), ttl)
            tx.expire_leases(["replica-a"])
            assert tx.lease_owners(at(2.5)) == set()

    def test_due_live_jobs_are_claimed_by_one_replica_at_a_time(self, store: SchedulerStore) -> None:
        lease = timedelta(minutes=1)
        with store.transaction() as tx:
            for name in ("ftbot-a", "ftbot-b", "ftbot-done", "ftbot-paused"):
                tx.add_job(job(name))
            tx.update_job("ftbot-a", state=JobState.RUNNING)
            tx.update_job("ftbot-b", state=JobState.QUEUED)
            tx.update_job("ftbot-done", state=JobState.SUCCEEDED)
            tx.update_job("ftbot-paused", state=JobState.PAUSED)  # still followed: it may resume
            assert tx.live_job_count() == 3
        with store.transaction() as tx:
            assert sorted(tx.claim_due_jobs("replica-a", at(1), lease, at(1.1), 10)) == [
                "ftbot-a",
                "ftbot-b",
                "ftbot-paused",
            ]
            assert tx.claim_due_jobs("replica-b", at(1.2), lease, at(1.3), 10) == []  # leased to a
            assert tx.lease_owners(at(1.2)) == {"replica-a"}
        with store.transaction() as tx:  # a dead replica's leases expire
            assert len(tx.claim_due_jobs("replica-b", at(2.5), lease, at(2.6), 1)) == 1
            tx.release_leases("replica-b")  # a clean stop: the others take over once they are due
            assert len(tx.claim_due_jobs("replica-c", at(3), lease, at(3.1), 10)) == 3

    def test_a_pending_job_is_left_to_its_starter_for_a_grace(self, store: SchedulerStore) -> None:
        grace = timedelta(minutes=1)
        with store.transaction() as tx:
            tx.add_job(job())  # PENDING, updated at 0
        with store.transaction() as tx:
            assert tx.claim_due_jobs("replica-a", at(0.5), grace, at(0.6), 10, pending_grace=grace) == []
            assert tx.claim_due_jobs("replica-a", at(2), grace, at(2.1), 10, pending_grace=grace) == [
                "ftbot-job-1"
            ]

    def test_cards_are_delivered_new_first_and_once_per_version(self, store: SchedulerStore) -> None:
        with store.transaction() as tx:
            tx.add_job(job("ftbot-a", minute=0))
            tx.add_job(job("ftbot-b", minute=1))
            tx.save_status_message("ftbot-a", "CJOBS1", "111.1", at(2))
            tx.mark_card_delivered("ftbot-a", 1)
            tx.update_job("ftbot-a", state=JobState.RUNNING, updated_at=at(3))
            assert tx.undelivered_cards() == 2
        with store.transaction() as tx:
            due = tx.cards_to_deliver(10)
            assert [(c.job_id, c.version, c.ts) for c in due] == [
                ("ftbot-b", 1, None),
                ("ftbot-a", 2, "111.1"),
            ]
            assert (
                tx.status_message("ftbot-a") == ("CJOBS1", "111.1") and tx.status_message("ftbot-b") is None
            )
            tx.mark_card_delivered("ftbot-a", 2)
            tx.mark_card_delivered("ftbot-a", 1)  # an older version never goes back
        with store.transaction() as tx:
            assert [c.job_id for c in tx.cards_to_deliver(10)] == ["ftbot-b"]
            assert tx.undelivered_cards() == 1

    def test_outbox_messages_are_delivered_in_order_and_retried_later(self, store: SchedulerStore) -> None:
        with store.transaction() as tx:
            tx.add_job(job())
            tx.post(post(text="one"), key="k1", at=at(0))
            tx.post(post(text="two"), key="k2", at=at(0))
            tx.save_status_message("ftbot-job-1", "CJOBS1", "111.1", at(0))
        with store.transaction() as tx:
            due = tx.outbox_due(at(1), 10)
            assert [(o.post.text, o.channel_id, o.thread_ts, o.attempts) for o in due] == [
                ("one", "CJOBS1", "111.1", 0),
                ("two", "CJOBS1", "111.1", 0),
            ]
            tx.mark_sent(due[0].id, at(1))
            tx.mark_failed(due[1].id, "ratelimited", at(5))
            assert tx.unsent_count() == 1
        with store.transaction() as tx:
            assert tx.outbox_due(at(2), 10) == []
            (retry,) = tx.outbox_due(at(5), 10)
            assert (retry.post.text, retry.attempts) == ("two", 1)

    def test_endpoints_on_their_way_up_or_down_are_polled(self, store: SchedulerStore) -> None:
        with store.transaction() as tx:
            tx.add_job(job())
            tx.claim_endpoint(endpoint("ep-1"))
            tx.claim_endpoint(endpoint("ep-2", model="other-model"))
            tx.transition_endpoint("ep-2", (EndpointState.CREATING,), EndpointState.READY)
        with store.transaction() as tx:
            assert tx.endpoints_to_poll() == ["ep-1"]
