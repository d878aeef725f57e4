"""Build the Bolt app: one AsyncApp behind the typed boundary, listeners registered explicitly, one error
handler."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.doctor.slack_check import BOT_SCOPES
from bot.listeners import actions, evaluation, finetune, home, oncall, rerun, wizard, workspaces
from bot.listeners.errors import handle_error
from bot.listeners.inbound.boundary import BoundaryApp
from bot.listeners.registrar import Registrar
from bot.runtime.oauth import bolt_oauth
from bot.runtime.services import Services

LISTENER_MODULES = (finetune, wizard, actions, home, oncall, evaluation, rerun)


def create_app(services: Services) -> AsyncApp:
    return build_registrar(services).app


def build_registrar(services: Services) -> Registrar:
    settings = services.settings
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else None
    oauth: dict[str, Any] = {}
    if services.installations is not None:  # OAuth mode: a token per workspace, found per request
        oauth_settings, authorize = bolt_oauth(settings, services.installations, BOT_SCOPES)
        oauth = {"oauth_settings": oauth_settings, "authorize": authorize}
    app = BoundaryApp(
        signing_secret=secret or "",
        client=AsyncWebClient(token=token, base_url=settings.slack_api_url, timeout=10),
        request_verification_enabled=not settings.socket_mode,
        raise_error_for_unhandled_request=False,
        ignoring_self_events_enabled=True,
        **oauth,
    )
    app.error(handle_error)
    if services.installations is not None:
        app.scope = workspaces.scoped
        workspaces.register(app, services.installations, services.store, services.clock)
    app.middleware(services.responder.middleware)
    registrar = Registrar(app)
    for module in LISTENER_MODULES:
        module.register(registrar, services)
    app.screen = registrar.screen  # only what is registered reaches Bolt
    return registrar
