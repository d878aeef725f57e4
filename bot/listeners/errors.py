"""The one Bolt error handler: renders ``commands.errors`` on the surface the request came from.

- a form (``view_submission``) not yet acked: ``response_action: errors`` on the block an
  ``InvalidInput`` names, else the modal is updated to say what went wrong;
- a slash command not yet acked: the answer is the ack;
- a click, or anything already acked: an ephemeral to the user (``response_url``, else
  ``chat.postEphemeral``; a reply that cannot be delivered is one WARNING line);
- a suggestion: no options.

Only what is not a ``commands.errors`` type is a bug: logged with its traceback and shown as
"Something went wrong (ref 7f3a2c)", the ref of the request that failed (``bot.runtime.logs``: every
line that request logged carries it). The handler itself never raises.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import Any

import orjson
from slack_bolt.response import BoltResponse
from slack_sdk.models.views import View

from bot.runtime.logs import current_ref, new_ref
from bot.ui.errors import error_blocks, error_text, message_text, unexpected_text
from bot.ui.text import clip, escape
from commands.errors import FtbotError, InvalidInput

log = logging.getLogger("ftbot.errors")
_PENDING: set[asyncio.Task[Any]] = set()  # replies sent after the ack, kept until they finish


def _json(status: int, body: dict[str, Any]) -> BoltResponse:
    return BoltResponse(
        status=status, body=orjson.dumps(body).decode(), headers={"content-type": "application/json"}
    )


def error_view(text: str) -> dict[str, Any]:
    return View(
        type="modal",
        title="ftbot",
        close="Close",
        blocks=[
            {"type": "section", "block_id": "error", "text": {"type": "mrkdwn", "text": clip(text, 2900)}}
        ],
    ).to_dict()


def describe(error: BaseException) -> tuple[str, list[dict[str, Any]] | None]:
    """Text and blocks for a user. Unexpected errors are logged here, once, with the request's ref."""
    if isinstance(error, FtbotError):
        log.info("answered the user: %s", error.code)
        return error_text(error), [b.to_dict() for b in error_blocks(error)]
    ref = current_ref() or new_ref()
    log.error("unexpected error (ref %s)", ref, exc_info=error)
    return unexpected_text(ref), None


def _message(error: BaseException) -> dict[str, Any]:
    text, blocks = describe(error)
    message: dict[str, Any] = {"response_type": "ephemeral", "text": text}
    if blocks:
        message["blocks"] = blocks
    return message


async def _deliver(respond: Any, message: dict[str, Any]) -> None:
    """Send ``message`` through ``respond`` (which falls back to chat.postEphemeral); never raises."""
    if respond is None:
        log.warning("an error message could not be delivered: nowhere to reply")
        return
    try:
        await respond(replace_original=False, **message)
    except Exception as e:
        log.warning("an error message could not be delivered (%s)", type(e).__name__)


def _later(work: Awaitable[None]) -> None:
    task = asyncio.ensure_future(work)
    _PENDING.add(task)
    task.add_done_callback(_PENDING.discard)


@asynccontextmanager
async def reported(respond: Any) -> AsyncIterator[None]:
    """For work after ack(): render any error to the user through ``respond``.

    Errors must not escape a listener after it acked: Bolt's async runner then resets the ack and,
    racing its own 10 ms poll, can answer Slack 404 after 3 seconds instead of the ack."""
    try:
        yield
    except Exception as error:
        await _deliver(respond, _message(error))


def _form_errors(error: InvalidInput) -> BoltResponse:
    many = getattr(error, "errors", None)  # plain text per field (the wizard's checks)
    fields = {f: escape(str(m)) for f, m in many.items()} if many else {str(error.field): message_text(error)}
    errors = {str(field): clip(message, 2000) for field, message in fields.items()}
    return _json(200, {"response_action": "errors", "errors": errors})


async def handle_error(
    error: BaseException, body: Any, response: BoltResponse | None, respond: Any
) -> BoltResponse | None:
    """Registered with ``app.error``. ``response`` is set when the listener failed before ack()."""
    kind = body.get("type") if isinstance(body, dict) else None
    if response is None:  # already acked (Bolt takes no second answer): only an ephemeral can tell them
        _later(_deliver(respond, _message(error)))
        return None
    if kind == "view_submission":
        if isinstance(error, InvalidInput) and error.field:
            return _form_errors(error)
        return _json(200, {"response_action": "update", "view": error_view(describe(error)[0])})
    if kind == "block_suggestion":
        describe(error)
        return _json(200, {"options": []})
    message = _message(error)
    if kind is None:  # a slash command: the answer is the ack, shown where it was typed
        return _json(200, message)
    _later(_deliver(respond, message))  # Slack does not show a click's ack body: reply ephemerally
    return _json(200, message)
