"""On-call paging (``FTBOT_ONCALL``): when the service, not the user, fails, the job's thread (or, for a
process-level problem, each channel with live jobs) gets one message that mentions the on-call, says
what failed, the service's reason, the ref to search the logs for and the next step, with an
Acknowledge button. One incident per thing that failed (the store's unique ``open_key``): a retry storm,
a second replica or the next tick opens no second one. When it recovers, one line says so.

What pages: a job that failed for a service reason (the training worker died, a service error, quota,
a timeout: anything but a problem with the data); a deploy or tear down that failed and a live endpoint
that stopped answering; the scheduler more than five minutes behind; the backend refusing ftbot's
credentials. What never pages: a dataset error, a cancel, a refused approval, bad input of any kind.
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.scheduling.oncall_ids import OncallIds
from bot.slack.workspaces import OneWorkspace, Workspaces
from bot.store.incidents import FailedEndpoint, FailedJob, Incident
from bot.store.repo import SqlStore
from bot.ui.oncall import Page, page_blocks, page_text, recovered_text, taken_blocks, taken_text
from bot.ui.text import link
from commands.errors import Conflict, NotFound, User
from commands.ports import Clock
from commands.records import Actor, AuditEntry, Surface

log = logging.getLogger("ftbot.oncall")

#: failures that are the user's doing: the data, the job's own settings, a cancel. Everything else that
#: fails a job is the service's (a dead worker, a service error, quota, a timeout).
_USERS_DOING = re.compile(
    r"(?i)(dataset|training data|validation data|training file|validation file|\bline \d+|jsonl|"
    r"not valid json|utf-8|no examples|no assistant message|cancel|invalid|not supported|"
    r"context length|too long|exceeds)"
)
#: how far back a failure still pages (a serve started with FTBOT_ONCALL set does not page last month's)
LOOKBACK = timedelta(hours=6)
SCHEDULER_BEHIND_S = 300.0


def service_failure(reason: str | None) -> bool:
    """Whether a job failure is the service's doing (pages) rather than the user's (never pages)."""
    return not (reason and _USERS_DOING.search(reason))


def new_ref() -> str:
    return secrets.token_hex(4)


class SchedulerHealth:
    """What the scheduler reports after each run of a job (``Scheduler(observer=…)``): when polling last
    worked and how late it last started."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._last_ok = self._started
        self._lag = 0.0

    def observe(self, job_id: str, lag: float, ok: bool) -> None:
        if job_id != "poll_jobs":
            return
        with self._lock:
            self._lag = lag
            if ok:
                self._last_ok = time.monotonic()

    def behind(self) -> str | None:
        """Why the scheduler is more than five minutes behind, or None."""
        with self._lock:
            since_ok, lag = time.monotonic() - self._last_ok, self._lag
        if since_ok > SCHEDULER_BEHIND_S:
            return f"jobs have not been polled successfully for {since_ok / 60:.0f} minutes"
        if lag > SCHEDULER_BEHIND_S:
            return f"the last poll started {lag / 60:.0f} minutes late"
        return None


class Incidents:
    """Acknowledge: record who took an incident (audited) and say so in its messages."""

    def __init__(self, store: SqlStore, clock: Clock, oncall: OncallIds) -> None:
        self.store, self.clock, self.oncall = store, clock, oncall

    def acknowledge(self, actor: Actor, ref: str) -> tuple[Incident, datetime]:
        now = self.clock.now()
        with self.store.transaction() as tx:
            incident = tx.incidents.get_incident(ref)
            if incident is None:
                raise NotFound("There is no incident {ref}.", ref=ref)
            earlier = tx.incidents.acknowledge_incident(ref, actor.user_id, now)
            tx.audit(
                AuditEntry(
                    at=now,
                    actor=actor.user_id,
                    action="oncall_acknowledge",
                    target=ref,
                    surface=Surface.BUTTON,
                    result="duplicate" if earlier else "ok",
                    detail=incident.what[:200],
                    channel_id=actor.channel_id,
                )
            )
        if earlier:
            raise Conflict("Incident {ref} was already acknowledged by {by}.", ref=ref, by=User(earlier))
        return incident, now

    def page(self, incident: Incident, team_id: str) -> Page:
        """``incident`` as paged in ``team_id``'s workspace (a process-level one has no team of its own)."""
        who = self.oncall.for_team(incident.team_id or team_id) or ""
        return Page(who, incident.ref, incident.what, incident.reason, incident.next_step)

    def taken(
        self, incident: Incident, user_id: str, at: datetime, team_id: str = ""
    ) -> tuple[str, list[dict[str, object]]]:
        page = self.page(incident, team_id)
        return taken_text(page, user_id), [b.to_dict() for b in taken_blocks(page, user_id, at)]

    def mark_taken(self, workspaces: Workspaces, incident: Incident, user_id: str, at: datetime) -> None:
        """Edit each of the incident's messages to say who took it, with the token and the on-call of the
        workspace it was posted in (a process-level page reaches every workspace with live jobs). A
        message that cannot be edited keeps its button; the acknowledgement stands."""
        for channel, ts in incident.posts:
            team, web = speaker(self.store, workspaces, channel)
            if web is None:
                log.warning("could not edit the page of %s in %s: not installed there", incident.ref, channel)
                continue
            text, blocks = self.taken(incident, user_id, at, team)
            try:
                web.chat_update(channel=channel, ts=ts, text=text, blocks=blocks)
            except SlackApiError as e:
                log.warning("could not edit the page of %s: %s", incident.ref, e.response.get("error"))


def speaker(store: SqlStore, workspaces: Workspaces, channel: str) -> tuple[str, WebClient | None]:
    """The workspace the channel belongs to (its jobs'), and the client that speaks there (None where
    ftbot is not installed)."""
    with store.transaction() as tx:
        team, enterprise = tx.incidents.channel_workspace(channel)
    return team, workspaces.client(team, enterprise)


class Oncall:
    """The scheduled sweep that opens, posts and resolves incidents."""

    def __init__(
        self,
        *,
        oncall: OncallIds,
        store: SqlStore,
        web: WebClient,
        clock: Clock,
        health: SchedulerHealth,
        credential_problem: Callable[[], str | None],
        workspaces: Workspaces | None = None,
    ) -> None:
        self.oncall, self.store, self.web, self.clock = oncall, store, web, clock
        self.workspaces: Workspaces = workspaces or OneWorkspace(web)
        self.health = health
        self.credential_problem = credential_problem

    def sweep(self) -> int:
        """Open incidents for what failed, post them, resolve what recovered. Returns how many opened."""
        since = self.clock.now() - LOOKBACK
        with self.store.transaction() as tx:
            jobs = tx.incidents.failed_jobs_since(since)
            endpoints = tx.incidents.failed_endpoints_since(since)
        opened = sum(self._open_job(job) for job in jobs if service_failure(job.error))
        opened += sum(self._open_endpoint(ep) for ep in endpoints)
        opened += self._process("process:scheduler", "The ftbot scheduler is behind", self.health.behind())
        opened += self._process(
            "process:credential", "The backend refused ftbot's credentials", self.credential_problem()
        )
        self._resolve_endpoints()
        return opened

    # --- opening -----------------------------------------------------------------------------------

    def _open_job(self, job: FailedJob) -> int:
        step = "check the backend's health, then ask the user to submit the job again."
        if job.studio_url:
            step = f"{link(job.studio_url, 'open the job in the studio')}, then " + step
        return self._open(
            f"job:{job.id}", "job_failed", f"Training job {job.id} failed", job.error or "no reason given",
            step, job_id=job.id, team_id=job.team_id,
        )  # fmt: skip

    def _open_endpoint(self, ep: FailedEndpoint) -> int:
        if ep.tearing_down:
            what, kind = f"Tear down of endpoint {ep.name} failed", "teardown_failed"
        elif ep.was_ready:
            what, kind = f"Endpoint {ep.name} stopped answering", "endpoint_down"
        else:
            what, kind = f"Deploy of endpoint {ep.name} failed", "deploy_failed"
        step = "check the endpoint in the backend; hosting may still be billed until it is torn down."
        return self._open(
            f"endpoint:{ep.name}", kind, what, ep.error or "no reason given", step,
            job_id=ep.job_id, team_id=ep.team_id,
        )  # fmt: skip

    def _open(
        self, key: str, kind: str, what: str, reason: str, step: str, *, job_id: str, team_id: str
    ) -> int:
        if self.oncall.for_team(team_id) is None:
            return 0  # this workspace has no on-call (FTBOT_ONCALL names others only)
        with self.store.transaction() as tx:
            thread = tx.incidents.thread_of(job_id)
        if thread is None:
            return 0  # the card is not posted yet: page in its thread at the next sweep
        incident = Incident(
            ref=new_ref(), team_id=team_id, key=key, kind=kind, what=what, reason=reason, next_step=step,
            job_id=job_id, posts=(), created_at=self.clock.now(),
        )  # fmt: skip
        with self.store.transaction() as tx:
            if not tx.incidents.open_incident(incident):
                return 0
        self._post(incident, [thread])
        return 1

    def _process(self, key: str, what: str, problem: str | None) -> int:
        """A process-level problem: once to each channel with live jobs; one line there on recovery."""
        with self.store.transaction() as tx:
            current = next((i for i in tx.incidents.open_incidents() if i.key == key), None)
            channels = tx.incidents.live_job_channels()
        if problem is None:
            if current is not None:
                self._recover(current)
            return 0
        if current is not None or not channels:
            return 0
        step = "follow RUNBOOK.md for this alert; the jobs keep their state and resume when it recovers."
        incident = Incident(
            ref=new_ref(), team_id="", key=key, kind=key.split(":", 1)[1], what=what, reason=problem,
            next_step=step, job_id=None, posts=(), created_at=self.clock.now(),
        )  # fmt: skip
        with self.store.transaction() as tx:
            if not tx.incidents.open_incident(incident):
                return 0
        self._post(incident, [(c, "") for c in channels])
        return 1

    # --- posting -----------------------------------------------------------------------------------

    def _post(self, incident: Incident, places: list[tuple[str, str]]) -> None:
        log.error(
            "paging the on-call: %s (ref %s): %s",
            incident.what,
            incident.ref,
            incident.reason,
            extra={"ref": incident.ref, **({"job_id": incident.job_id} if incident.job_id else {})},
        )
        for channel, thread_ts in places:
            team, web = speaker(self.store, self.workspaces, channel)
            who = self.oncall.for_team(incident.team_id or team)
            if who is None:
                log.info(
                    "no on-call for the workspace of %s (ref %s): not paged there", channel, incident.ref
                )
                continue
            if web is None:
                log.warning("could not page in %s (ref %s): not installed there", channel, incident.ref)
                continue
            page = Page(who, incident.ref, incident.what, incident.reason, incident.next_step)
            blocks = [b.to_dict() for b in page_blocks(page)]
            try:
                answer = web.chat_postMessage(
                    channel=channel, thread_ts=thread_ts or None, text=page_text(page), blocks=blocks
                )
            except SlackApiError as e:
                log.warning(
                    "could not page in %s (ref %s): %s", channel, incident.ref, e.response.get("error")
                )
                continue
            with self.store.transaction() as tx:
                tx.incidents.add_incident_post(incident.ref, channel, str(answer.get("ts") or thread_ts))

    def _resolve_endpoints(self) -> None:
        with self.store.transaction() as tx:
            recovered = [
                i
                for i in tx.incidents.open_incidents()
                if i.key.startswith("endpoint:")
                and tx.incidents.endpoint_state(i.key.split(":", 1)[1]) == "ready"
            ]
        for incident in recovered:
            self._recover(incident)

    def _recover(self, incident: Incident) -> None:
        with self.store.transaction() as tx:
            tx.incidents.resolve_incident(incident.ref, self.clock.now())
            thread = tx.incidents.thread_of(incident.job_id) if incident.job_id else None
        log.info("recovered: %s (ref %s)", incident.what, incident.ref, extra={"ref": incident.ref})
        places = [thread] if thread else [(c, "") for c, _ in incident.posts]
        for channel, thread_ts in places:
            _, web = speaker(self.store, self.workspaces, channel)
            if web is None:
                continue  # ftbot was uninstalled there
            try:
                web.chat_postMessage(
                    channel=channel,
                    thread_ts=thread_ts or None,
                    text=recovered_text(incident.what, incident.ref),
                )
            except SlackApiError as e:
                log.warning("could not post the recovery of %s: %s", incident.ref, e.response.get("error"))
