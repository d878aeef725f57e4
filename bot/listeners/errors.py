"""The one Bolt error handler: renders ``commands.errors`` on the surface the request came from.

Anything unexpected is logged with its traceback and shown as "Something went wrong (ref 7f3a)".
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from slack_bolt.response import BoltResponse
from slack_sdk.models.views import View

from bot.ui.errors import error_blocks, error_text, message_text, unexpected_text
from bot.ui.text import escape
from commands.errors import FtbotError, InvalidInput

log = logging.getLogger("ftbot.errors")


def _json(status: int, body: dict[str, Any]) -> BoltResponse:
    return BoltResponse(
        status=status, body=orjson.dumps(body).decode(), headers={"content-type": "application/json"}
    )


def error_view(text: str) -> dict[str, Any]:
    return View(
        type="modal",
        title="ftbot",
        close="Close",
        blocks=[{"type": "section", "block_id": "error", "text": {"type": "mrkdwn", "text": text}}],
    ).to_dict()


def describe(error: BaseException) -> tuple[str, list[dict[str, Any]] | None]:
    """Text and blocks for a user. Unexpected errors are logged here, once, with a reference id."""
    if isinstance(error, FtbotError):
        return error_text(error), [b.to_dict() for b in error_blocks(error)]
    ref = secrets.token_hex(2)
    log.error("unexpected error (ref %s)", ref, exc_info=error)
    return unexpected_text(ref), None


@asynccontextmanager
async def reported(respond: Any) -> AsyncIterator[None]:
    """For work after ack(): render any error to the user through ``respond``.

    Errors must not escape a listener after it acked: Bolt's async runner then resets the ack and,
    racing its own 10 ms poll, can answer Slack 404 after 3 seconds instead of the ack."""
    try:
        yield
    except Exception as error:
        text, blocks = describe(error)
        message: dict[str, Any] = {"response_type": "ephemeral", "text": text}
        if blocks:
            message["blocks"] = blocks
        try:
            await respond(replace_original=False, **message)
        except Exception:
            log.warning("could not deliver an error message to the user", exc_info=True)


async def handle_error(
    error: BaseException, body: dict[str, Any], response: BoltResponse | None, respond: Any
) -> Any:
    """Registered with ``app.error``. ``response`` is set when the listener failed before ack()."""
    kind = body.get("type") if isinstance(body, dict) else None
    if kind == "view_submission" and isinstance(error, InvalidInput) and error.field:
        many = getattr(error, "errors", None)  # plain text per field (the wizard's checks)
        fields = {f: escape(str(m)) for f, m in many.items()} if many else {error.field: message_text(error)}
        errors = {str(field): message[:2000] for field, message in fields.items()}
        return _json(200, {"response_action": "errors", "errors": errors})
    text, blocks = describe(error)
    if kind == "view_submission":
        return _json(200, {"response_action": "update", "view": error_view(text)})
    if kind == "block_suggestion":
        return _json(200, {"options": []})
    message: dict[str, Any] = {"response_type": "ephemeral", "text": text}
    if blocks:
        message["blocks"] = blocks
    if response is not None:  # not acked yet: the error is the ack
        return _json(200, message)
    if respond is not None and (body.get("response_url") or body.get("response_urls")):
        try:
            await respond(replace_original=False, **message)
        except Exception:
            log.warning("could not deliver an error message to the user", exc_info=True)
    return None
