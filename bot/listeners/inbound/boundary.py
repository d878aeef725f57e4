"""The Bolt app behind ftbot's typed boundary: a request is screened before Bolt dispatches it.

Bolt builds every middleware's and listener's arguments from the raw body (``body["actions"][0]``,
``body["workflow_step"]``…) before any of ftbot's code runs, so a shape ftbot does not handle fails
inside Bolt with a 500. Screening first answers those 200 with an empty body (Slack's convention for
"nothing to do") and an INFO line; what passes carries its ``Envelope`` in the request's context, and
the context's user, channel and ``response_url`` (where replies go) are the envelope's checked values,
not what Bolt read from the raw body.

Each request, screened or not, HTTP or Socket Mode, is handled inside a ``log_context`` with a ``ref``
minted for it (and, once screened, its team and user): every line it logs, before the ack and after (the
listener's task and worker threads inherit the context), carries that ref, and so does the "Something
went wrong (ref …)" the user sees if it fails.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from bot.listeners.inbound.envelope import Envelope, Ignored
from bot.runtime.logs import log_context, new_ref

log = logging.getLogger("ftbot.inbound")

#: the context key under which a screened request's ``Envelope`` travels to its listener
ENVELOPE = "ftbot_envelope"
Screen = Callable[[Any], Envelope | Ignored]


#: events about the installation (OAuth mode): they name no user, and Bolt's own listeners take them
INSTALL_EVENTS = frozenset(
    {"app_uninstalled", "tokens_revoked", "app_uninstalled_team", "team_access_revoked"}
)


def _bolts_own(body: Any) -> bool:
    """Requests Bolt answers itself before any listener: Slack's SSL check and URL verification."""
    return isinstance(body, Mapping) and (body.get("type") == "url_verification" or "ssl_check" in body)


def _install_event(body: Any) -> bool:
    """An event about the installation (OAuth mode: ``bot/listeners/workspaces.py`` takes it)."""
    event = body.get("event") if isinstance(body, Mapping) else None
    return (
        body.get("type") == "event_callback"
        and isinstance(event, Mapping)
        and event.get("type") in INSTALL_EVENTS
    )


def _identify(context: Any, envelope: Envelope) -> None:
    """Replies go to the envelope's checked user, channel and response_url, or nowhere (never to junk)."""
    for key, value in (
        ("user_id", envelope.user_id),
        ("channel_id", envelope.channel_id),
        ("response_url", envelope.response_url),
    ):
        if value:
            context[key] = value
        else:
            context.pop(key, None)


class BoundaryApp(AsyncApp):
    """``AsyncApp`` whose ``async_dispatch`` (HTTP and Socket Mode alike) screens each request first."""

    screen: Screen | None = None
    #: OAuth mode: the context manager that scopes a request's work to its workspace
    #: (``bot.listeners.workspaces.scoped``); it holds while Bolt starts the listener, which keeps it
    scope: Callable[[Any], AbstractContextManager[None]] | None = None

    async def async_dispatch(self, req: AsyncBoltRequest) -> BoltResponse:
        with log_context(ref=new_ref()):
            return await self._dispatch(req)

    async def _dispatch(self, req: AsyncBoltRequest) -> BoltResponse:
        unscreened = _bolts_own(req.body) or (self.scope is not None and _install_event(req.body))
        if self.screen is not None and not unscreened:
            outcome = self.screen(req.body)
            if isinstance(outcome, Ignored):
                log.info("ignored a request ftbot does not handle: %s", outcome.reason)
                return BoltResponse(status=200, body="")
            req.context[ENVELOPE] = outcome
            _identify(req.context, outcome)
            with log_context(team_id=outcome.team_id, user=outcome.user_id), self._scoped(req):
                return await super().async_dispatch(req)
        with self._scoped(req):
            return await super().async_dispatch(req)

    def _scoped(self, req: AsyncBoltRequest) -> AbstractContextManager[None]:
        return self.scope(req.context) if self.scope is not None else nullcontext()
