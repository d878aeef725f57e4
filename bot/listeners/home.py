"""App Home: the user's recent jobs and the workspace's live endpoints."""

from __future__ import annotations

from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.listeners.common import off_loop
from bot.listeners.registrar import Registrar
from bot.runtime.services import Services
from bot.ui.home import home_view


def register(app: Registrar, services: Services) -> None:
    async def home_opened(event: dict[str, Any], client: AsyncWebClient) -> None:
        user = event.get("user")
        if not isinstance(user, str) or event.get("tab", "home") != "home":
            return
        jobs = await off_loop(services.lifecycle.queries.jobs, user_id=user, limit=10)
        endpoints = await off_loop(services.lifecycle.queries.live_endpoints)
        await client.views_publish(user_id=user, view=home_view(jobs, endpoints, services.clock.now()))

    app.event("app_home_opened")(home_opened)
