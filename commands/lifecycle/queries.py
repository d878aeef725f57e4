"""Reads for the Slack surfaces: a job's card, job lists, live endpoints."""

from __future__ import annotations

from commands.errors import FtbotError
from commands.lifecycle.base import UseCase, log
from commands.lifecycle.options import has_deploy_options, pausable, training_tiers
from commands.models import ServiceDataset, Tier
from commands.ports import EvaluationLine, ServiceDatasets
from commands.records import EndpointRecord, JobCard, JobRecord


class Queries(UseCase):
    """What cards, lists and App Home show, each read in one transaction."""

    def card(self, job_id: str) -> JobCard:
        with self.store.transaction() as tx:
            job = tx.get_job(job_id)
            endpoints = tx.endpoints_for_job(job_id)
            pending = tx.pending_approval(job_id)
            evaluation = tx.evaluation_line(job_id) if isinstance(tx, EvaluationLine) else None
            origin = tx.status_message(job.rerun_of) if job.rerun_of else None
        current = next((e for e in endpoints if e.live), endpoints[-1] if endpoints else None)
        return JobCard(
            job=job,
            endpoint=current,
            pending_approval=pending,
            pausable=pausable(self.backend),
            deploy_dialog=has_deploy_options(self.backend),
            evaluation=evaluation,
            rerun_origin=origin,
        )

    def training_tiers(self) -> list[Tier]:
        """The backend's training tiers, the default first (the wizard's choice); empty if it has none."""
        return training_tiers(self.backend)

    def service_datasets(self) -> list[ServiceDataset]:
        """The datasets the backend's service keeps (the wizard's "A dataset uploaded before" offers them
        beside ftbot's own uploads); empty when it keeps none, or cannot list them now (the wizard opens
        all the same, with the reason in the log)."""
        if not isinstance(self.backend, ServiceDatasets):
            return []
        try:
            return self.backend.list_datasets()
        except FtbotError as e:
            log.warning("the backend's datasets could not be listed (%s): %s", e.code, e.message)
            return []

    def jobs(
        self, *, channel_id: str | None = None, user_id: str | None = None, limit: int = 20
    ) -> list[JobRecord]:
        with self.store.transaction() as tx:
            return tx.find_jobs(channel_id=channel_id, user_id=user_id, limit=limit)

    def live_endpoints(self) -> list[EndpointRecord]:
        with self.store.transaction() as tx:
            return tx.live_endpoints()

    def endpoint(self, name: str) -> EndpointRecord:
        with self.store.transaction() as tx:
            return tx.get_endpoint(name)

    def channel_of_endpoint(self, name: str) -> str:
        with self.store.transaction() as tx:
            return tx.get_job(tx.get_endpoint(name).job_id).channel_id
