"""The ack benchmark's baseline: a bare Bolt AsyncApp that only acks, on ftbot's own server stack
(``bot.runtime.server.build_asgi`` on uvicorn: the same signature check, Starlette and uvicorn settings).

Run: ``python bench/bare_bolt.py PORT`` (SLACK_SIGNING_SECRET, SLACK_BOT_TOKEN, SLACK_API_URL from the
environment, as for ftbot)."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.runtime.server import build_asgi, uvicorn_server


async def _ok() -> dict[str, Any]:
    return {"ok": True}


def main() -> None:
    secret = os.environ["SLACK_SIGNING_SECRET"]
    client = AsyncWebClient(token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"])
    app = AsyncApp(signing_secret=secret, client=client)

    async def ack_only(ack: AsyncAck) -> None:
        await ack()

    app.command("/finetune")(ack_only)
    app.action(re.compile(".*"))(ack_only)
    server = uvicorn_server(build_asgi(app, _ok, secret), "127.0.0.1", int(sys.argv[1]))
    asyncio.run(server.serve())


if __name__ == "__main__":
    main()
