"""`/finetune`: parse the text, run one use case, reply."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck

from bot.registry import Registrar
from bot.services import Services
from bot.ui.help import help_blocks, help_text
from bot.ui.ids import SLASH_COMMAND
from commands import grammar
from commands.errors import NotAvailableYet


def register(app: Registrar, services: Services) -> None:
    async def finetune(ack: AsyncAck, command: dict[str, Any]) -> None:
        parsed = grammar.parse(str(command.get("text") or ""))  # UsageError → the error handler acks it
        match parsed:
            case grammar.Help():
                await ack(
                    response_type="ephemeral", text=help_text(), blocks=help_blocks(services.settings.backend)
                )
            case _:
                name = type(parsed).__name__
                raise NotAvailableYet(
                    f"`{name}` is not available yet in this version of ftbot. See `/finetune help`."
                )

    app.command(SLASH_COMMAND)(finetune)
