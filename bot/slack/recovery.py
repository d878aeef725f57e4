"""Finding a message an earlier deliverer may have posted: the one step that makes a card or a thread
post appear once even when ftbot is killed between Slack's answer and recording it.

Every card and thread post carries message metadata naming it (``metadata(key)``). A deliverer records
that it is about to post before it posts; the next deliverer that finds such a record without Slack's
answer looks for the message in the channel (a card) or the thread (a post) before posting again. A
loss chart, a file upload that carries no metadata, is found by its file name.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

log = logging.getLogger("ftbot.delivery")

EVENT_TYPE = "ftbot_delivery"
PAGES = 5  # a thread's replies oldest first, 200 a page; a channel's newest 200 messages first
#: errors that mean Slack cannot tell ftbot (no history scope on an old install, channel gone): post
#: again, at least once, as before this lookup existed
CANNOT_TELL = {
    "missing_scope",
    "not_in_channel",
    "channel_not_found",
    "thread_not_found",
    "not_allowed_token_type",
}


def metadata(key: str) -> dict[str, Any]:
    """Message metadata naming one delivery (``card:JOB`` or ``post:OUTBOX_ID``)."""
    return {"event_type": EVENT_TYPE, "event_payload": {"key": key}}


def card_key(job_id: str) -> str:
    return f"card:{job_id}"


def post_key(outbox_id: int) -> str:
    return f"post:{outbox_id}"


def find_posted(
    web: WebClient, channel: str, key: str, *, thread_ts: str | None = None, file_name: str | None = None
) -> str | None:
    """The ts of the message carrying ``key`` (or the file ``file_name``) in ``thread_ts``'s thread, or
    among the channel's latest messages; None when there is none or Slack cannot tell. Other Slack
    errors propagate: the caller retries later rather than risk posting twice."""
    try:
        if thread_ts is not None:
            pages = web.conversations_replies(
                channel=channel, ts=thread_ts, include_all_metadata=True, limit=200
            )
        else:
            pages = web.conversations_history(channel=channel, include_all_metadata=True, limit=200)
        for number, page in enumerate(pages):
            for message in page.get("messages") or []:
                if _is(message, key, file_name):
                    return str(message["ts"])
            if number + 1 >= PAGES or thread_ts is None:
                break
    except SlackApiError as e:
        error = str(e.response.get("error"))
        if error not in CANNOT_TELL:
            raise
        log.warning("cannot look for %s in %s (%s): posting it again", key, channel, error)
    return None


def _is(message: dict[str, Any], key: str, file_name: str | None) -> bool:
    payload = (message.get("metadata") or {}).get("event_payload") or {}
    if payload.get("key") == key:
        return True
    return file_name is not None and any(f.get("name") == file_name for f in message.get("files") or [])
