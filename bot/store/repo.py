"""The SQL store: ``commands.ports.SchedulerStore`` (the core ``Store`` and what the scheduler and the
Slack delivery need) on SQLAlchemy. One repository per concern, composed into one transaction object.
Repositories never commit: ``SqlStore.transaction`` (``Database.session_scope``) does."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session

from bot.store.approvals import ApprovalRepository
from bot.store.cards import CardRepository
from bot.store.db import Database
from bot.store.endpoints import EndpointRepository
from bot.store.evaluations import EvaluationRepository
from bot.store.incidents import IncidentRepository
from bot.store.jobs import JobRepository
from bot.store.launches import LaunchRepository
from bot.store.leases import LeaseRepository
from bot.store.outbox import AuditRepository, OutboxRepository
from bot.store.view_states import ViewStateRepository


class SqlTx:
    """One transaction's repositories, their methods under the names ``SchedulerTx`` gives them."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.jobs = jobs = JobRepository(session)
        self.endpoints = endpoints = EndpointRepository(session)
        self.approvals = approvals = ApprovalRepository(session)
        self.audit_log = audit_log = AuditRepository(session)
        self.outbox = outbox = OutboxRepository(session)
        self.launches = launches = LaunchRepository(session)
        self.leases = leases = LeaseRepository(session)
        self.cards = cards = CardRepository(session)
        self.view_states = view_states = ViewStateRepository(session)
        self.incidents = IncidentRepository(session)
        self.evaluations = evaluations = EvaluationRepository(session)
        self.add_evaluation = evaluations.add_evaluation
        self.get_evaluation = evaluations.get_evaluation
        self.running_evaluation = evaluations.running_evaluation
        self.latest_evaluation = evaluations.latest_evaluation
        self.evaluation_line = evaluations.evaluation_line
        self.evaluation_figures = evaluations.evaluation_figures
        self.save_evaluation = evaluations.save_evaluation
        self.claim_stale_evaluations = evaluations.claim_stale_evaluations

        self.add_job = jobs.add_job
        self.get_job = jobs.get_job
        self.find_jobs = jobs.find_jobs
        self.held_jobs = jobs.held_jobs
        self.update_job = jobs.update_job
        self.request_cancel = jobs.request_cancel
        self.cancel_requested = jobs.cancel_requested
        self.progress = jobs.progress
        self.set_progress = jobs.set_progress

        self.claim_endpoint = endpoints.claim_endpoint
        self.get_endpoint = endpoints.get_endpoint
        self.endpoints_for_job = endpoints.endpoints_for_job
        self.live_endpoints = endpoints.live_endpoints
        self.endpoints_to_poll = endpoints.endpoints_to_poll
        self.transition_endpoint = endpoints.transition_endpoint
        self.touch_endpoint = endpoints.touch_endpoint

        self.open_approval = approvals.open_approval
        self.get_approval = approvals.get_approval
        self.pending_approval = approvals.pending_approval
        self.decide_approval = approvals.decide_approval

        self.audit = audit_log.audit
        self.audit_entries = audit_log.audit_entries
        self.post = outbox.post
        self.outbox_due = outbox.outbox_due
        self.mark_sending = outbox.mark_sending
        self.mark_sent = outbox.mark_sent
        self.mark_failed = outbox.mark_failed
        self.unsent_count = outbox.unsent_count

        self.begin_launch = launches.begin_launch
        self.get_launch = launches.get_launch
        self.finish_launch = launches.finish_launch
        self.checking_launches = launches.checking_launches
        self.answer_launch = launches.answer_launch

        self.claim_due_jobs = leases.claim_due_jobs
        self.live_job_count = leases.live_job_count
        self.release_leases = leases.release_leases
        self.acquire_lease = leases.acquire_lease
        self.release_lease = leases.release_lease
        self.lease_owners = leases.lease_owners
        self.expire_leases = leases.expire_leases

        self.status_message = cards.status_message
        self.save_status_message = cards.save_status_message
        self.cards_to_deliver = cards.cards_to_deliver
        self.mark_card_posting = cards.mark_card_posting
        self.mark_card_delivered = cards.mark_card_delivered
        self.undelivered_cards = cards.undelivered_cards

        self.put_view_state = view_states.put_view_state
        self.get_view_state = view_states.get_view_state
        self.purge_view_states = view_states.purge_view_states


class SqlStore:
    """``commands.ports.SchedulerStore`` on a ``Database``."""

    def __init__(self, database: Database) -> None:
        self.database = database

    @contextmanager
    def transaction(self) -> Iterator[SqlTx]:
        with self.database.session_scope() as session:
            yield SqlTx(session)
