"""Explicit listener registration that remembers what was registered, so a test can hold
``manifest.yaml`` against it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from slack_bolt.async_app import AsyncApp


@dataclass
class Registrar:
    app: AsyncApp
    commands: set[str] = field(default_factory=set)
    actions: set[str] = field(default_factory=set)
    views: set[str] = field(default_factory=set)
    options: set[str] = field(default_factory=set)
    events: set[str] = field(default_factory=set)

    def command(self, name: str) -> Callable[..., Any]:
        self.commands.add(name)
        return self.app.command(name)

    def action(self, action_id: str) -> Callable[..., Any]:
        self.actions.add(action_id)
        return self.app.action(action_id)

    def view(self, callback_id: str) -> Callable[..., Any]:
        self.views.add(callback_id)
        return self.app.view(callback_id)

    def view_closed(self, callback_id: str) -> Callable[..., Any]:
        self.views.add(callback_id)
        return self.app.view_closed(callback_id)

    def options_for(self, action_id: str) -> Callable[..., Any]:
        self.options.add(action_id)
        return self.app.options(action_id)

    def event(self, name: str) -> Callable[..., Any]:
        self.events.add(name)
        return self.app.event(name)
