"""Slack delivery, off the ack path: job cards (posted once, then edited in place) and the thread outbox.

- A card is rendered from the store at delivery time, so many changes between two ticks cost one
  ``chat.update`` (coalescing); ``delivered_version`` records what Slack has seen, so the final state is
  always delivered, after a restart too. New cards go first, then finished jobs, then the rest.
- Thread posts are delivered in order per job, each once (the outbox row is marked sent).
- ``chat.update`` is paced under Slack's ~50/min per workspace and posts under ~1/s per channel. The
  pacers never sleep: what has no budget left waits for the next tick, so a backlog of card edits never
  holds up thread posts (they have their own budget). The client waits out a 429's Retry-After and
  retries 5xx; a failed post is retried later with backoff, without blocking other jobs.
- One replica delivers at a time (a lease, renewed before every Slack call and given up when lost), so
  no card is edited twice for one change. A deliverer records that it is about to post before it posts;
  one killed between Slack's answer and its own bookkeeping leaves that record, and the next deliverer
  looks for the message in Slack before posting it again (``bot/slack/recovery.py``).
- Each card and post goes out with its job's workspace token (``bot/slack/workspaces.py``); to a workspace
  that uninstalled ftbot nothing is sent: its cards stop updating, its jobs stay tracked.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from datetime import timedelta

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.models.blocks import Block

from bot.evaluation.chart import evaluation_upload
from bot.slack.charts import loss_chart_png, overfit_post
from bot.slack.recovery import card_key, find_posted, metadata, post_key
from bot.slack.workspaces import OneWorkspace, Workspaces
from bot.ui.card import job_card
from bot.ui.thread import thread_post
from commands.lifecycle import Lifecycle
from commands.models import MetricPoint
from commands.ports import ApproverDirectory, Clock, SchedulerStore
from commands.records import CardDelivery, OutgoingPost, PostKind, ThreadPost

log = logging.getLogger("ftbot.delivery")

# errors after which retrying cannot help: give up on that message, keep going
PERMANENT = {
    "channel_not_found",
    "not_in_channel",
    "is_archived",
    "msg_too_long",
    "invalid_blocks",
    "message_not_found",
    "cant_update_message",
    "no_permission",
    "restricted_action",
}
LEASE = timedelta(seconds=60)


class Pacer:
    """A token bucket: at most ``per_minute`` calls a minute, bursts up to ``burst``."""

    def __init__(self, per_minute: float, burst: int = 5) -> None:
        self.rate = per_minute / 60.0
        self.burst = burst
        self.tokens = float(burst)
        self.last = time.monotonic()
        self._lock = threading.Lock()

    def _refill(self, now: float) -> None:
        self.tokens = min(self.burst, self.tokens + max(0.0, now - self.last) * self.rate)
        self.last = max(self.last, now)

    def try_take(self) -> bool:
        """Take a call's worth of budget if there is one; never blocks."""
        with self._lock:
            self._refill(time.monotonic())
            if self.tokens >= 1:
                self.tokens -= 1
                return True
            return False

    def wait(self) -> float:
        """Block until a call is allowed; returns the seconds waited."""
        with self._lock:
            now = time.monotonic()
            self._refill(now)
            if self.tokens >= 1:
                self.tokens -= 1
                return 0.0
            delay = (1 - self.tokens) / self.rate
            self.tokens = 0
            self.last = now + delay
        time.sleep(delay)
        return delay


class Delivery:
    def __init__(
        self,
        *,
        store: SchedulerStore,
        lifecycle: Lifecycle,
        web: WebClient,
        approvers: ApproverDirectory,
        clock: Clock,
        owner: str,
        updates_per_minute: float = 45,
        posts_per_channel_minute: float = 60,
        batch: int = 100,
        workspaces: Workspaces | None = None,
    ) -> None:
        self.store = store
        self.lifecycle = lifecycle
        self.web = web
        self.workspaces: Workspaces = workspaces or OneWorkspace(web)
        self.approvers = approvers
        self.clock = clock
        self.owner = owner
        self.pacer = Pacer(updates_per_minute)
        self._posts_per_channel_minute = posts_per_channel_minute
        self._channel_pacers: dict[str, Pacer] = defaultdict(
            lambda: Pacer(self._posts_per_channel_minute, burst=10)
        )
        self.batch = batch
        self.stats = {"chat.update": 0, "chat.postMessage": 0, "files": 0, "failures": 0, "deferred": 0}

    def tick(self) -> None:
        if not self._hold_lease():
            return
        self.deliver_cards()
        self.deliver_outbox()

    def _hold_lease(self) -> bool:
        """Take or renew the delivery lease; called before every Slack call, so a replica that lost
        it (paused past its expiry) stops before sending anything another replica may also send."""
        with self.store.transaction() as tx:
            return tx.acquire_lease("delivery", self.owner, self.clock.now(), LEASE)

    def _channel_budget(self, channel: str) -> bool:
        if self._channel_pacers[channel].try_take():
            return True
        self.stats["deferred"] += 1
        return False

    # --- cards ---

    def deliver_cards(self) -> int:
        with self.store.transaction() as tx:
            due = tx.cards_to_deliver(self.batch)
        done = 0
        for item in due:
            if item.ts is not None and not self.pacer.try_take():
                self.stats["deferred"] += 1
                break  # no chat.update budget left: the rest waits for the next tick (still ordered)
            if item.ts is None and not self._channel_budget(item.channel_id):
                continue
            if not self._hold_lease():
                return done
            web = self.workspaces.client(item.team_id, item.enterprise_id)
            if web is None:  # ftbot was uninstalled there: the card stops updating
                log.info("card of %s not delivered: its workspace uninstalled ftbot", item.job_id)
                with self.store.transaction() as tx:
                    tx.mark_card_delivered(item.job_id, item.version)
                continue
            try:
                card = self.lifecycle.queries.card(item.job_id)
                now, costs = self.clock.now(), self.lifecycle.costs
                money = costs.job_costs(card.job, card.endpoint, now) if costs is not None else None
                text, blocks = job_card(card, now, money)
                if item.ts is None:
                    self._post_card(web, item, card.job.version, text, blocks)
                else:
                    web.chat_update(channel=item.channel_id, ts=item.ts, text=text, blocks=blocks)
                    self.stats["chat.update"] += 1
                    with self.store.transaction() as tx:
                        tx.mark_card_delivered(item.job_id, card.job.version)
                done += 1
            except (SlackApiError, SlackRequestError, OSError) as e:
                self.stats["failures"] += 1
                error = _slack_error(e)
                if error in PERMANENT:
                    log.warning(
                        "card of %s cannot be delivered (%s); giving up on this version", item.job_id, error
                    )
                    with self.store.transaction() as tx:
                        tx.mark_card_delivered(item.job_id, item.version)
                else:
                    log.warning("card of %s not delivered (%s); will retry", item.job_id, error)
        return done

    def _post_card(
        self, web: WebClient, item: CardDelivery, version: int, text: str, blocks: list[Block]
    ) -> None:
        key = card_key(item.job_id)
        if item.posting_since is not None:  # an earlier post may have reached Slack
            ts = find_posted(web, item.channel_id, key)
            if ts is not None:  # it did: keep it, and edit it to the current version on the next tick
                log.info("card of %s was posted before a restart; keeping it", item.job_id)
                with self.store.transaction() as tx:
                    tx.save_status_message(item.job_id, item.channel_id, ts, self.clock.now())
                return
        with self.store.transaction() as tx:
            tx.mark_card_posting(item.job_id, self.clock.now())
        resp = web.chat_postMessage(channel=item.channel_id, text=text, blocks=blocks, metadata=metadata(key))
        self.stats["chat.postMessage"] += 1
        with self.store.transaction() as tx:
            tx.save_status_message(item.job_id, item.channel_id, str(resp["ts"]), self.clock.now())
            tx.mark_card_delivered(item.job_id, version)

    # --- thread posts ---

    def deliver_outbox(self) -> int:
        now = self.clock.now()
        with self.store.transaction() as tx:
            due = tx.outbox_due(now, self.batch)
        blocked: set[str] = set()  # keep each job's posts in order: stop a job at its first failure
        sent = 0
        for item in due:
            if item.job_id in blocked or item.thread_ts is None or item.channel_id is None:
                blocked.add(item.job_id)  # its card is not posted yet: the thread does not exist
                continue
            if not self._channel_budget(item.channel_id):
                blocked.add(item.job_id)  # this channel's budget is spent: the next tick goes on
                continue
            if not self._hold_lease():
                return sent
            if self.workspaces.client(item.team_id, item.enterprise_id) is None:
                # ftbot was uninstalled there: the post is dropped, the job stays tracked
                log.info(
                    "thread post %s of %s dropped: its workspace uninstalled ftbot", item.id, item.job_id
                )
                with self.store.transaction() as tx:
                    tx.mark_sent(item.id, self.clock.now())
                continue
            try:
                self._send(item)
            except (SlackApiError, SlackRequestError, OSError) as e:
                self.stats["failures"] += 1
                error = _slack_error(e)
                with self.store.transaction() as tx:
                    if error in PERMANENT:
                        log.warning("thread post %s of %s dropped (%s)", item.id, item.job_id, error)
                        tx.mark_sent(item.id, self.clock.now())
                    else:
                        delay = min(300, 2 ** min(item.attempts, 8))
                        tx.mark_failed(item.id, error, self.clock.now() + timedelta(seconds=delay))
                        blocked.add(item.job_id)
                continue
            sent += 1
        return sent

    def _send(self, item: OutgoingPost) -> None:
        assert item.channel_id is not None and item.thread_ts is not None
        web = self.workspaces.client(item.team_id, item.enterprise_id)
        if web is None:  # uninstalled since the check: as if refused
            raise SlackRequestError("the workspace uninstalled ftbot")
        with self.store.transaction() as tx:
            job = tx.get_job(item.job_id)
        text, blocks = thread_post(item.post, job, self.approvers.approvers())
        key, chart = post_key(item.id), f"{job.id}-loss.png"
        is_chart = item.post.kind is PostKind.LOSS_CHART
        upload = evaluation_upload(item.post, job)  # an evaluation's bar chart: (file name, title, PNG)
        chart = upload[0] if upload is not None else chart
        points = item.post.data.get("metrics", []) if is_chart else []
        metrics = [MetricPoint.model_validate(m) for m in points]  # type: ignore[attr-defined]
        follow_up = overfit_post(job.id, metrics) if is_chart else None
        if item.sending_since is not None and find_posted(
            web,
            item.channel_id,
            key,
            thread_ts=item.thread_ts,
            file_name=chart if is_chart or upload else None,
        ):
            log.info("thread post %s of %s was sent before a restart; not sending it again", item.id, job.id)
            return self._sent(item, job.id, follow_up)
        with self.store.transaction() as tx:
            tx.mark_sending(item.id, self.clock.now())
        if upload is not None:
            web.files_upload_v2(
                channel=item.channel_id,
                thread_ts=item.thread_ts,
                file=upload[2],
                filename=upload[0],
                title=upload[1],
                initial_comment=text,
            )
            self.stats["files"] += 1
        elif is_chart:
            web.files_upload_v2(
                channel=item.channel_id,
                thread_ts=item.thread_ts,
                file=loss_chart_png(metrics, title=f"{job.id} · {job.base_model}"),
                filename=chart,
                title=f"Loss: {job.id}",
                initial_comment=text,
            )
            self.stats["files"] += 1
        else:
            web.chat_postMessage(
                channel=item.channel_id,
                thread_ts=item.thread_ts,
                text=text,
                blocks=blocks,
                metadata=metadata(key),
            )
            self.stats["chat.postMessage"] += 1
        self._sent(item, job.id, follow_up)

    def _sent(self, item: OutgoingPost, job_id: str, follow_up: ThreadPost | None) -> None:
        with self.store.transaction() as tx:
            tx.mark_sent(item.id, self.clock.now())
            if follow_up is not None:
                tx.post(follow_up, key=f"{job_id}:overfit", at=self.clock.now())


def _slack_error(e: Exception) -> str:
    if isinstance(e, SlackApiError):
        return str(e.response.get("error") or f"http_{e.response.status_code}")
    return type(e).__name__
