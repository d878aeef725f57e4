"""Socket Mode through the same typed boundary as HTTP.

Bolt's Socket Mode adapter builds its request (and reads user, channel and team ids out of the payload
without checking their types) before any of ftbot's code runs, so a mistyped id failed inside the
adapter with an ERROR line. Here the request is built leniently and dispatched to the app, whose
boundary screens it as it does every HTTP request."""

from __future__ import annotations

import logging
from time import time
from typing import Any

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.adapter.socket_mode.async_internals import send_async_response
from slack_bolt.adapter.socket_mode.internals import build_headers
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

log = logging.getLogger("ftbot.socket_mode")


def socket_request(payload: Any, headers: Any) -> AsyncBoltRequest:
    """A Bolt request for a Socket Mode payload; one whose ids Bolt cannot read starts with an empty
    context, which the boundary fills from the checked envelope (or refuses)."""
    try:
        return AsyncBoltRequest(mode="socket_mode", body=payload, headers=headers)
    except Exception:  # a mistyped id ("id" in 7): the boundary answers it
        request = AsyncBoltRequest(mode="socket_mode", body={}, headers=headers)
        request.body = payload
        return request


class ScreenedSocketModeHandler(AsyncSocketModeHandler):
    async def handle(self, client: Any, req: SocketModeRequest) -> None:
        start = time()
        if not isinstance(req.payload, dict):
            log.info("ignored a Socket Mode envelope without an object payload (%s)", req.type)
            await client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))
            return
        response = await self.app.async_dispatch(socket_request(req.payload, build_headers(req)))
        await send_async_response(client, req, response, start)
