"""Explicit listener registration that remembers what was registered, so a test can hold
``manifest.yaml`` against it, and so the typed boundary knows which shapes ftbot handles.

Every listener is registered with the typed request it takes (``bot.listeners.inbound``) and is called
as ``listener(request, ack, respond, client)``: the request is read before any listener code runs, and
an envelope ftbot refuses (no user id, a channel that is not one) or a value that is wrong raises
``InvalidInput`` to the one error handler, which answers the user.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.listeners.inbound import Envelope, Ignored, Inbound, Kind, Route, screen
from bot.listeners.inbound.boundary import ENVELOPE
from commands.errors import InvalidInput

Listener = Callable[[Any, AsyncAck, AsyncRespond, AsyncWebClient], Awaitable[None]]


@dataclass
class Registrar:
    app: AsyncApp
    commands: set[str] = field(default_factory=set)
    actions: set[str] = field(default_factory=set)
    views: set[str] = field(default_factory=set)
    options: set[str] = field(default_factory=set)
    events: set[str] = field(default_factory=set)
    routes: dict[Route, type[Inbound]] = field(default_factory=dict)

    def screen(self, body: Any) -> Envelope | Ignored:
        return screen(body, self.routes.__contains__)

    def _typed(self, route: Route, request: type[Inbound]) -> Callable[[Listener], Any]:
        self.routes[route] = request

        def wrap(listener: Listener) -> Any:
            async def run(
                ack: AsyncAck,
                body: Any,
                context: AsyncBoltContext,
                respond: AsyncRespond,
                client: AsyncWebClient,
            ) -> None:
                envelope = context.get(ENVELOPE)
                if not isinstance(envelope, Envelope):  # dispatched without the screen (a test's app)
                    envelope = self.screen(body)
                    if isinstance(envelope, Ignored):
                        await ack()
                        return
                if envelope.refusal:  # answered where the user is, by the error handler
                    raise InvalidInput(envelope.refusal)
                await listener(request.read(envelope), ack, respond, client)

            run.__name__ = getattr(listener, "__name__", "listener")
            return run

        return wrap

    def command(self, name: str, request: type[Inbound]) -> Callable[[Listener], Any]:
        self.commands.add(name)
        typed = self._typed(Route(Kind.COMMAND, name), request)
        return lambda listener: self.app.command(name)(typed(listener))

    def action(self, action_id: str, request: type[Inbound]) -> Callable[[Listener], Any]:
        self.actions.add(action_id)
        typed = self._typed(Route(Kind.ACTION, action_id), request)
        return lambda listener: self.app.action(action_id)(typed(listener))

    def view(self, callback_id: str, request: type[Inbound]) -> Callable[[Listener], Any]:
        self.views.add(callback_id)
        typed = self._typed(Route(Kind.VIEW, callback_id), request)
        return lambda listener: self.app.view(callback_id)(typed(listener))

    def view_closed(self, callback_id: str, request: type[Inbound]) -> Callable[[Listener], Any]:
        self.views.add(callback_id)
        typed = self._typed(Route(Kind.VIEW_CLOSED, callback_id), request)
        return lambda listener: self.app.view_closed(callback_id)(typed(listener))

    def options_for(self, action_id: str, request: type[Inbound]) -> Callable[[Listener], Any]:
        self.options.add(action_id)
        typed = self._typed(Route(Kind.OPTIONS, action_id), request)
        return lambda listener: self.app.options(action_id)(typed(listener))

    def event(self, name: str, request: type[Inbound]) -> Callable[[Listener], Any]:
        self.events.add(name)
        typed = self._typed(Route(Kind.EVENT, name), request)
        return lambda listener: self.app.event(name)(typed(listener))
