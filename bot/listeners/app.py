"""Build the Bolt app: one AsyncApp behind the typed boundary, listeners registered explicitly, one error
handler."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.listeners import actions, finetune, home, oncall, wizard
from bot.listeners.errors import handle_error
from bot.listeners.inbound.boundary import BoundaryApp
from bot.listeners.registrar import Registrar
from bot.runtime.services import Services

LISTENER_MODULES = (finetune, wizard, actions, home, oncall)


def create_app(services: Services) -> AsyncApp:
    return build_registrar(services).app


def build_registrar(services: Services) -> Registrar:
    settings = services.settings
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else None
    app = BoundaryApp(
        signing_secret=secret or "",
        client=AsyncWebClient(token=token, base_url=settings.slack_api_url, timeout=10),
        request_verification_enabled=not settings.socket_mode,
        raise_error_for_unhandled_request=False,
        ignoring_self_events_enabled=True,
    )
    app.error(handle_error)
    app.middleware(services.responder.middleware)
    registrar = Registrar(app)
    for module in LISTENER_MODULES:
        module.register(registrar, services)
    app.screen = registrar.screen  # only what is registered reaches Bolt
    return registrar
