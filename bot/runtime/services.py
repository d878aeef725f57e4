"""The objects a running ftbot is built from, made once in ``bot/cli.py`` (or a test) and handed to
``create_app`` and the scheduler. No work happens at import time."""

from __future__ import annotations

import dataclasses
import os
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property, partial
from typing import TYPE_CHECKING

from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.oauth.token_rotation import TokenRotator

from bot.datasets.fetcher import Downloader
from bot.datasets.intake import Intake
from bot.runtime.oauth import InstalledWorkspaces
from bot.runtime.settings import Settings
from bot.scheduling.launches import InterruptedLaunches
from bot.scheduling.poller import Poller
from bot.slack.approvers import SlackApprovers
from bot.slack.delivery import Delivery
from bot.slack.replies import Responder
from bot.slack.workspaces import OneWorkspace, Workspaces
from bot.store.db import Database
from bot.store.installations import SqlInstallationStore
from bot.store.repo import SqlStore
from bot.store.workspace_settings import WorkspaceSettings
from commands.costs.recorder import Costs
from commands.lifecycle import Lifecycle
from commands.ports import ApproverDirectory

if TYPE_CHECKING:
    from bot.evaluation.runner import EvaluationRunner
    from bot.slack.streaming import StreamSlots
    from commands.costs.budgets import BudgetGuard
    from commands.lifecycle.chats import Chats
    from commands.ports import BaseModelChat, FineTuningBackend


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def scheduler_web_client(settings: Settings, token: str | None = None) -> WebClient:
    """The Web API client for work off the ack path: it waits out 429s (Retry-After) and retries 5xx.
    ``token``: a workspace's (OAuth mode); by default SLACK_BOT_TOKEN."""
    if token is None and settings.slack_bot_token is not None:
        token = settings.slack_bot_token.get_secret_value()
    return WebClient(
        token=token,
        base_url=settings.slack_api_url,
        timeout=15,
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=2),
            RateLimitErrorRetryHandler(max_retry_count=3),
            ServerErrorRetryHandler(max_retry_count=2),
        ],
    )


@dataclass
class Services:
    settings: Settings
    database: Database
    clock: SystemClock = field(default_factory=SystemClock)
    _backend: FineTuningBackend | None = None
    wake: Callable[[], None] | None = None
    #: the other live processes of this serve (the scheduler process's web process)
    peers: tuple[str, ...] = ()

    @classmethod
    def from_settings(cls, settings: Settings) -> Services:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        return cls(settings=settings, database=Database(settings.resolved_database_url))

    @property
    def backend(self) -> FineTuningBackend:
        if self._backend is None:
            from bot.backends import build_backend

            self._backend = build_backend(self.settings)
        return self._backend

    @cached_property
    def web(self) -> WebClient:
        return scheduler_web_client(self.settings)

    @cached_property
    def installations(self) -> SqlInstallationStore | None:
        """OAuth mode's installations (None with a single bot token)."""
        if not self.settings.oauth_mode or self.settings.slack_client_id is None:
            return None
        return SqlInstallationStore(self.settings.slack_client_id, self.database.engine)

    @cached_property
    def workspaces(self) -> Workspaces:
        """Each workspace's client for the scheduler: the one bot token's, or the installation's."""
        installations, secret = self.installations, self.settings.slack_client_secret
        if installations is None or secret is None:
            return OneWorkspace(self.web)
        rotator = TokenRotator(
            client_id=installations.client_id,
            client_secret=secret.get_secret_value(),
            client=scheduler_web_client(self.settings),
        )
        return InstalledWorkspaces(installations, rotator, partial(scheduler_web_client, self.settings))

    @cached_property
    def owner(self) -> str:
        """This process's name in leases (host, pid and a random part)."""
        return f"{socket.gethostname()[:30]}-{os.getpid()}-{secrets.token_hex(3)}"

    def alive_owners(self) -> set[str]:
        """The owners in the store that are this serve's live processes."""
        return {self.owner, *self.peers}

    @cached_property
    def responder(self) -> Responder:
        return Responder()

    @cached_property
    def store(self) -> SqlStore:
        return SqlStore(self.database)

    @cached_property
    def workspace_settings(self) -> WorkspaceSettings:
        """Each workspace's approvers and allowed channels; the environment's are the defaults."""
        installations = self.installations

        def installer_of(team_id: str, enterprise_id: str | None) -> str | None:
            if installations is None:
                return None
            found = installations.find_installation(enterprise_id=enterprise_id, team_id=team_id or None)
            if found is None and enterprise_id:  # an org-wide install serves this workspace
                found = installations.find_installation(
                    enterprise_id=enterprise_id, team_id=None, is_enterprise_install=True
                )
            return found.user_id if found is not None else None

        s = self.settings
        return WorkspaceSettings(self.database, s.approvers, s.allowed_channels, installer_of)

    @cached_property
    def approvers(self) -> ApproverDirectory:
        settings = self.workspace_settings
        return SlackApprovers(
            self.settings.approvers,
            self.web,
            workspaces=self.workspaces,
            workspace_ids=lambda team_id: settings.get(team_id).approvers,
        )

    @cached_property
    def downloader(self) -> Downloader:
        return Downloader.from_settings(self.settings)

    @cached_property
    def intake(self) -> Intake:
        return Intake(self.downloader, self.settings.data_dir / "datasets")

    @cached_property
    def lifecycle(self) -> Lifecycle:
        return Lifecycle(
            backend=self.backend,
            store=self.store,
            clock=self.clock,
            approvers=self.approvers,
            work_dir=self.settings.data_dir / "jobs-input",
            idle_hours=self.settings.endpoint_idle_hours,
            ttl_hours=self.settings.endpoint_ttl_hours,
            on_change=self.wake_delivery,
            owner=self.owner,
            costs=self.costs,
            budgets=self.budgets,
        )

    @cached_property
    def budgets(self) -> BudgetGuard | None:
        """Monthly budgets per channel (FTBOT_BUDGETS) against the recorded costs; None when unset."""
        from commands.costs.budgets import BudgetGuard

        return BudgetGuard(self.settings.budgets, self.costs) if self.settings.budgets.enabled else None

    @cached_property
    def costs(self) -> Costs:
        """Prices (FTBOT_PRICES, checked by ``ftbot serve`` before it starts) and the cost facts."""
        from bot.store.costs import SqlCostBook
        from commands.costs.prices import EMPTY, load_prices

        s = self.settings
        foundry = s.backend == "foundry"
        return Costs(
            SqlCostBook(self.database),
            self.clock,
            load_prices(s.prices) if s.prices else EMPTY,
            default_tier=s.foundry_training_type if foundry else None,
            default_sku=s.foundry_deployment_sku if foundry else None,
        )

    @cached_property
    def chats(self) -> Chats:
        """Test chat from the modal: streamed, with the base model alongside where one answers."""
        from commands.lifecycle.chats import Chats

        return Chats(self.lifecycle.deps, base_chat=self._base_chat)

    @cached_property
    def _base_chat(self) -> BaseModelChat | None:
        """Where test chat and evaluation ask the base model (FTBOT_FOUNDRY_BASE_DEPLOYMENTS, …)."""
        from bot.evaluation.base_models import base_chat_for

        return base_chat_for(
            self.backend,
            foundry=self.settings.foundry_base_deployments,
            azure=self.settings.azure_base_endpoints,
        )

    @cached_property
    def stream_slots(self) -> StreamSlots:
        """Test chat streams open at once per workspace (chat.startStream and stopStream are Tier 2)."""
        from bot.slack.streaming import StreamSlots

        return StreamSlots()

    @cached_property
    def evaluations(self) -> EvaluationRunner:
        """Evaluate (fine-tuned against base) off the ack path, one at a time per job."""
        from bot.evaluation.judge import judge_from_settings
        from bot.evaluation.runner import EvaluationRunner
        from commands.evaluation.service import Evaluations

        deps = dataclasses.replace(self.lifecycle.deps, costs=None, budgets=None)  # priced by ``pricer``
        s = self.settings
        judge = judge_from_settings(s.eval_judge_url, s.eval_judge_key, s.eval_judge_model)
        return EvaluationRunner(
            Evaluations(deps, base_chat=self._base_chat, judge=judge, pricer=self.costs.price_inference)
        )

    @cached_property
    def delivery(self) -> Delivery:
        return Delivery(
            store=self.store,
            lifecycle=self.lifecycle,
            web=self.web,
            approvers=self.approvers,
            clock=self.clock,
            owner=self.owner,
            updates_per_minute=self.settings.slack_updates_per_minute,
            workspaces=self.workspaces,
        )

    @cached_property
    def launches(self) -> InterruptedLaunches:
        return InterruptedLaunches(
            store=self.store,
            web=self.web,
            clock=self.clock,
            alive=self.alive_owners,
            workspaces=self.workspaces,
        )

    @cached_property
    def poller(self) -> Poller:
        return Poller(
            store=self.store,
            lifecycle=self.lifecycle,
            clock=self.clock,
            owner=self.owner,
            poll_seconds=self.settings.poll_seconds,
        )

    def wake_delivery(self) -> None:
        """Deliver soon rather than at the next tick (set by the runtime once the scheduler runs)."""
        if self.wake is not None:
            self.wake()
