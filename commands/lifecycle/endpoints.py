"""Endpoints: their state on the backend (deploying, ready, failed, deleted), test chat, tear down, and the
hygiene sweep (dead endpoints, idle reminders, the TTL)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from commands.costs.ledger import hourly
from commands.errors import Conflict, EndpointGone, FtbotError, InvalidInput, NotFound, Unavailable
from commands.lifecycle.base import Deps, UseCase
from commands.lifecycle.targets import describe_target, endpoint_ops
from commands.models import ChatMessage, ChatReply, ChatRequest, EndpointState
from commands.ports import EndpointOps
from commands.records import Actor, EndpointRecord, PostKind, Surface

log = logging.getLogger("ftbot.lifecycle")

MAX_PROMPT = 8000
# A CREATING endpoint the backend does not know yet is redeployed by polling only after this long
# (a crash between the claim and the backend call); before that, the click's own call is in flight.
DEPLOY_GRACE = timedelta(seconds=10)


class Endpoints(UseCase):
    """Every endpoint move after the claim, whoever asks: a deploy click, the poller, a tear down."""

    def __init__(self, deps: Deps, *, idle_hours: float = 24, ttl_hours: float | None = None) -> None:
        super().__init__(deps)
        self.idle_hours = idle_hours
        self.ttl_hours = ttl_hours

    # --- state on the backend ----------------------------------------------------------------------

    def deploy_on_backend(self, endpoint: EndpointRecord) -> EndpointRecord:
        try:
            sku = endpoint.options.sku
            where = self._at(endpoint)  # the training project, or the deploy target the request named
            if sku is None:  # the backend's default
                result = where.deploy_model(endpoint.model, endpoint.name)
            else:
                result = where.deploy_model(endpoint.model, endpoint.name, sku=sku)
        except Conflict as e:
            if e.existing == endpoint.name:  # our own earlier attempt: adopt it
                return self.poll(endpoint.name)
            return self._endpoint_failed(endpoint, e.message)
        except Unavailable:
            log.warning("backend unavailable while deploying %s; the scheduler will retry", endpoint.name)
            return endpoint
        except FtbotError as e:
            return self._endpoint_failed(endpoint, e.message)
        return self._endpoint_state(
            endpoint,
            result.state,
            scoring_uri=result.scoring_uri,
            error=result.error,
            expires_at=result.expires_at,
        )

    def _at(self, endpoint: EndpointRecord) -> EndpointOps:
        """The backend's endpoint operations where ``endpoint`` lives (its ``DeployOptions.target``)."""
        return endpoint_ops(self.backend, endpoint.options.target)

    def _endpoint_failed(self, endpoint: EndpointRecord, reason: str) -> EndpointRecord:
        return self._endpoint_state(endpoint, EndpointState.FAILED, error=reason)

    def _endpoint_state(
        self,
        endpoint: EndpointRecord,
        state: EndpointState,
        *,
        scoring_uri: str | None = None,
        error: str | None = None,
        stopped: bool = False,
        expires_at: datetime | None = None,
    ) -> EndpointRecord:
        if state is endpoint.state:
            return endpoint
        now = self.clock.now()
        changes: dict[str, object] = {"updated_at": now}
        if state is EndpointState.READY:
            changes.update(ready_at=now, scoring_uri=scoring_uri, last_used_at=None)
        if error:
            changes["error"] = error
        with self.store.transaction() as tx:
            moved = tx.transition_endpoint(endpoint.name, (endpoint.state,), state, **changes)
            if moved is None:  # someone else moved it first
                return tx.get_endpoint(endpoint.name)
            if state is EndpointState.READY:
                self._post(
                    tx,
                    moved.job_id,
                    PostKind.DEPLOYED,
                    f"deploy:{moved.name}:ready",
                    endpoint=moved.name,
                    where=describe_target(self.backend, moved.options.target) if moved.options.target else "",
                )
                job = tx.get_job(moved.job_id)
            elif state is EndpointState.FAILED:
                self._post(
                    tx,
                    moved.job_id,
                    PostKind.DEPLOY_FAILED,
                    f"deploy:{moved.name}:failed",
                    endpoint=moved.name,
                    reason=error or "",
                    stopped=stopped,
                )
            tx.update_job(moved.job_id)
        if state is EndpointState.READY and self.costs is not None:
            self.costs.hosting_started(moved, job, expires_at)
        self._changed()
        if state is EndpointState.FAILED:
            self._remove_leftover(moved)
        return moved

    def _remove_leftover(self, endpoint: EndpointRecord) -> None:
        """A failed endpoint serves nothing, but on the backend it still holds the model's one deployment:
        remove it, so Deploy works again. Best effort: the store already says FAILED."""
        try:
            self._at(endpoint).delete_endpoint(endpoint.name)
        except FtbotError as e:
            log.warning(
                "could not remove the failed endpoint %s from the backend: %s", endpoint.name, e.message
            )

    def check_ready(self) -> int:
        """Ask the backend about every READY endpoint; one that died (its process, its deployment) is marked
        FAILED and the thread told. Returns how many were found dead."""
        with self.store.transaction() as tx:
            ready = [e for e in tx.live_endpoints() if e.state is EndpointState.READY]
        dead = 0
        for ep in ready:
            try:
                remote = self._at(ep).get_endpoint(ep.name)
            except NotFound:
                reason = "The endpoint no longer exists on the backend."
            except FtbotError:
                continue  # cannot tell now; the next sweep asks again
            else:
                if remote.state is not EndpointState.FAILED:
                    continue
                reason = remote.error or "The endpoint stopped."
            self._endpoint_state(ep, EndpointState.FAILED, error=reason, stopped=True)
            dead += 1
        return dead

    def poll(self, name: str) -> EndpointRecord:
        """Move a CREATING endpoint to READY/FAILED, finish a DELETING one. Idempotent."""
        with self.store.transaction() as tx:
            endpoint = tx.get_endpoint(name)
        if endpoint.state is EndpointState.DELETING:
            return self._delete_on_backend(endpoint, None)
        if endpoint.state is not EndpointState.CREATING:
            return endpoint
        try:
            remote = self._at(endpoint).get_endpoint(name)
        except NotFound:
            if self.clock.now() - endpoint.created_at < DEPLOY_GRACE:
                return endpoint  # the click's own deploy call may still be on its way
            return self.deploy_on_backend(endpoint)  # the deploy call never reached the backend
        return self._endpoint_state(
            endpoint,
            remote.state,
            scoring_uri=remote.scoring_uri,
            error=remote.error,
            expires_at=remote.expires_at,
        )

    # --- tear down -------------------------------------------------------------------------------

    def teardown(self, actor: Actor, name: str) -> EndpointRecord:
        with self.store.transaction() as tx:
            endpoint = tx.get_endpoint(name)
        self._require_approver(actor, "tear_down", name)
        with self.store.transaction() as tx:
            moving = tx.transition_endpoint(
                name,
                (EndpointState.CREATING, EndpointState.READY, EndpointState.FAILED),
                EndpointState.DELETING,
                updated_at=self.clock.now(),
                deleted_by=actor.user_id,
            )
            self._audit(tx, actor, "tear_down", name, "ok" if moving else "duplicate")
        if moving is None:
            state = (
                endpoint.state.value if endpoint.state is not EndpointState.DELETING else "being torn down"
            )
            raise Conflict(f"{{endpoint}} is already {state}.", endpoint=name)
        return self._delete_on_backend(moving, actor)

    def _delete_on_backend(self, endpoint: EndpointRecord, actor: Actor | None) -> EndpointRecord:
        self._at(endpoint).delete_endpoint(endpoint.name)  # idempotent; errors leave it DELETING to retry
        now = self.clock.now()
        with self.store.transaction() as tx:
            done = tx.transition_endpoint(
                endpoint.name,
                (EndpointState.DELETING,),
                EndpointState.DELETED,
                deleted_at=now,
                updated_at=now,
            )
            if done is None:
                return tx.get_endpoint(endpoint.name)
            self._post(
                tx,
                done.job_id,
                PostKind.TORN_DOWN,
                f"deploy:{done.name}:deleted",
                endpoint=done.name,
                by=actor.user_id if actor else "",
                model=done.model,
            )
            tx.update_job(done.job_id)
        self._changed()
        return done

    # --- chat ------------------------------------------------------------------------------------

    def chat(
        self,
        actor: Actor,
        name: str,
        prompt: str,
        *,
        system: str | None = None,
        temperature: float = 0.7,
        max_tokens: int = 256,
    ) -> ChatReply:
        prompt = prompt.strip()
        if not prompt:
            raise InvalidInput("Say something to the model: the prompt is empty.", field="prompt")
        if len(prompt) > MAX_PROMPT:
            raise InvalidInput(
                f"The prompt is too long ({len(prompt)} characters; at most {MAX_PROMPT}).", field="prompt"
            )
        with self.store.transaction() as tx:
            endpoint = _ready_for_chat(tx.get_endpoint(name))
        messages = ([ChatMessage(role="system", content=system)] if system else []) + [
            ChatMessage(role="user", content=prompt)
        ]
        try:
            request = ChatRequest(messages=tuple(messages), temperature=temperature, max_tokens=max_tokens)
        except ValueError as e:
            raise InvalidInput("Temperature must be 0–2 and max tokens 1–4096.", field="temperature") from e
        reply = self._at(endpoint).chat(name, request)
        now = self.clock.now()
        cost = None  # pragma: no mutate (as "", it reads the same: the post says str("") = "")
        if self.costs is not None:
            with self.store.transaction() as tx:
                job = tx.get_job(endpoint.job_id)
            cost = self.costs.reply(job, endpoint, actor.user_id, reply.usage, now)
        with self.store.transaction() as tx:
            tx.touch_endpoint(name, last_used_at=now, idle_reminder_at=None)
            self._audit(tx, actor, "chat", name, "ok", f"tokens={reply.usage.total_tokens}")
            self._post(
                tx,
                endpoint.job_id,
                PostKind.CHAT,
                f"chat:{name}:{now.timestamp():.6f}:{actor.user_id}",
                endpoint=name,
                by=actor.user_id,
                prompt=prompt,
                system=system or "",
                reply=reply.content,
                usage=reply.usage.model_dump(),
                content_filter=reply.content_filter or {},
                finish_reason=reply.finish_reason or "",
                cost=str(cost) if cost is not None else "",
            )
        self._changed()
        return reply

    def chat_channel(self, name: str) -> str:
        """The channel whose job thread a Test chat of ``name`` is posted in, checked before the modal is
        closed: ``EndpointGone`` when it was torn down meanwhile, ``Conflict`` when it is not ready."""
        with self.store.transaction() as tx:
            endpoint = _ready_for_chat(tx.get_endpoint(name))
            return tx.get_job(endpoint.job_id).channel_id

    # --- endpoint hygiene ------------------------------------------------------------------------

    def sweep(self) -> int:
        """Find READY endpoints that died, remind threads about idle ones (billed hourly) and apply the TTL.
        Returns actions taken."""
        actions = self.check_ready()
        now = self.clock.now()
        with self.store.transaction() as tx:
            live = [e for e in tx.live_endpoints() if e.state is EndpointState.READY]
        for ep in live:
            ready_at = ep.ready_at or ep.created_at
            if self.ttl_hours is not None and now - ready_at >= timedelta(hours=self.ttl_hours):
                with self.store.transaction() as tx:
                    self._post(
                        tx,
                        ep.job_id,
                        PostKind.TTL_TEARDOWN,
                        f"deploy:{ep.name}:ttl",
                        endpoint=ep.name,
                        ttl_hours=self.ttl_hours,
                    )
                scheduler = Actor(user_id="scheduler", surface=Surface.SCHEDULER)
                with self.store.transaction() as tx:
                    moving = tx.transition_endpoint(
                        ep.name,
                        (EndpointState.READY,),
                        EndpointState.DELETING,
                        updated_at=now,
                        deleted_by=scheduler.user_id,
                    )
                    self._audit(tx, scheduler, "tear_down", ep.name, "ok" if moving else "duplicate", "TTL")
                if moving is not None:
                    self._delete_on_backend(moving, None)
                    actions += 1
                continue
            last = ep.last_used_at or ready_at
            idle = now - last
            if idle >= timedelta(hours=self.idle_hours) and (
                ep.idle_reminder_at is None or ep.idle_reminder_at < last
            ):
                over = self._budget_spent_note(ep, now)  # the budget is spent: it still bills
                with self.store.transaction() as tx:
                    tx.touch_endpoint(ep.name, idle_reminder_at=now)
                    self._post(
                        tx,
                        ep.job_id,
                        PostKind.IDLE_REMINDER,
                        f"deploy:{ep.name}:idle:{last.timestamp():.0f}",
                        endpoint=ep.name,
                        idle_hours=round(idle.total_seconds() / 3600, 1),
                        budget_note=over,
                    )
                actions += 1
        if actions:
            self._changed()
        return actions

    def _budget_spent_note(self, ep: EndpointRecord, now: datetime) -> str:
        """For the idle reminder (FTBOT_BUDGETS): the channel's budget is spent, and what this endpoint
        still bills an hour; empty within the budget or without one."""
        if self.budgets is None or self.costs is None:
            return ""
        with self.store.transaction() as tx:
            job = tx.get_job(ep.job_id)
        rate = self.costs.hosting_rate(job.base_model, ep.options.sku)
        per_hour = hourly(rate)
        return self.budgets.hosting_note(job.team_id, job.channel_id, per_hour, now)


def _ready_for_chat(endpoint: EndpointRecord) -> EndpointRecord:
    if endpoint.state in (EndpointState.DELETING, EndpointState.DELETED):
        at = endpoint.deleted_at or endpoint.updated_at
        raise EndpointGone(endpoint.name, at=at.strftime("%H:%M UTC"), by=endpoint.deleted_by)
    if endpoint.state is not EndpointState.READY:
        raise Conflict(f"{{endpoint}} is {endpoint.state.value}, not ready for chat.", endpoint=endpoint.name)
    return endpoint
