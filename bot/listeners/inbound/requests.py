"""The typed requests listeners receive: one per surface, read from a screened ``Envelope``.

Each ``read`` raises ``InvalidInput`` when a value is wrong, with the view's ``block_id`` as ``field``
for a form, so the user is answered where they are (``response_action: errors`` on the block, or an
ephemeral for a click or command); nothing here falls through to the generic error reply.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict

from bot.listeners.inbound.envelope import Envelope, Values
from bot.store.workspace_settings import MAX_IDS
from bot.ui.chat import parse_test_chat, parse_with_base
from bot.ui.deploy import parse_deploy
from bot.ui.ids import CHANNEL_ID
from bot.ui.wizard_input import WizardInput, parse_wizard
from bot.ui.workspace_settings import SettingsEdit, parse_settings
from commands.errors import InvalidInput
from commands.models import ChatRequest, DeployOptions
from commands.records import Actor, Surface

#: a job id or endpoint name as ftbot renders it into a button (ASCII only). Every pattern here is read
#: with ``fullmatch``: ``$`` also matches before a trailing newline, which is not part of an id
_IDENTIFIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
#: a job id and a checkpoint's number (``bot.ui.buttons.deploy_checkpoint_button``): ``JOB:N``
_CHECKPOINT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}:[0-9]{1,9}$")
#: an approval id: ASCII digits only (``"١٢".isdigit()`` is True), at most 12
_APPROVAL_ID = re.compile(r"^[0-9]{1,12}$")
_DAMAGED = "This button is damaged, so ftbot cannot act on it; use the buttons on the latest card."


class Inbound(BaseModel):
    """Who sent a request and from where; ``surface`` says how it arrived."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    surface: ClassVar[Surface] = Surface.BUTTON

    user_id: str
    channel_id: str | None = None
    team_id: str = ""
    enterprise_id: str | None = None

    @classmethod
    def _who(cls, envelope: Envelope) -> dict[str, Any]:
        return envelope.model_dump(include={"user_id", "channel_id", "team_id", "enterprise_id"})

    @classmethod
    def read(cls, envelope: Envelope) -> Self:
        return cls(**cls._who(envelope))

    @property
    def actor(self) -> Actor:
        return Actor(
            user_id=self.user_id, channel_id=self.channel_id, team_id=self.team_id, surface=self.surface
        )


class SlashCommand(Inbound):
    surface: ClassVar[Surface] = Surface.SLASH
    text: str
    trigger_id: str

    @classmethod
    def read(cls, envelope: Envelope) -> Self:
        return cls(**cls._who(envelope), text=envelope.text, trigger_id=envelope.trigger_id)


class Click(Inbound):
    """A button on a card or in a thread; ``target`` is what its value names."""

    pattern: ClassVar[re.Pattern[str]] = _IDENTIFIER
    message: ClassVar[str] = _DAMAGED
    target: str
    trigger_id: str = ""

    @classmethod
    def read(cls, envelope: Envelope) -> Self:
        value = envelope.value
        if not isinstance(value, str) or not cls.pattern.fullmatch(value):
            raise InvalidInput(cls.message)
        return cls(**cls._who(envelope), target=value, trigger_id=envelope.trigger_id)


class JobClick(Click):
    """Cancel or Deploy: ``target`` is the job id."""


class CheckpointClick(Click):
    """Deploy checkpoint N: ``target`` is ``JOB:N`` (a job id and one of its checkpoints' numbers)."""

    pattern: ClassVar[re.Pattern[str]] = _CHECKPOINT

    @property
    def job_id(self) -> str:
        return self.target.rpartition(":")[0]

    @property
    def checkpoint(self) -> int:
        return int(self.target.rpartition(":")[2])


class EndpointClick(Click):
    """Test chat or Tear down: ``target`` is the endpoint's name."""


class ApprovalClick(Click):
    """Approve or Reject in a job's thread: ``target`` is the approval id."""

    pattern: ClassVar[re.Pattern[str]] = _APPROVAL_ID
    message: ClassVar[str] = "This approval button is damaged; ask for a new approval request."

    @property
    def approval_id(self) -> int:
        return int(self.target)


class Submission(Inbound):
    """A submitted modal: its id, hash and ``private_metadata``, as ftbot set it when it opened it."""

    surface: ClassVar[Surface] = Surface.MODAL
    view_id: str
    view_hash: str
    metadata: str

    @classmethod
    def _view(cls, envelope: Envelope) -> dict[str, Any]:
        view = envelope.view
        assert view is not None  # a view route always has its view
        return {
            **cls._who(envelope),
            "view_id": view.id,
            "view_hash": view.hash,
            "metadata": view.private_metadata,
        }

    @classmethod
    def read(cls, envelope: Envelope) -> Self:
        return cls(**cls._view(envelope))

    @staticmethod
    def state(envelope: Envelope) -> Values:
        return envelope.view.values if envelope.view else {}


class WizardSubmission(Submission):
    """The wizard's form; it was opened in ``channel_id`` (its metadata). Its fields are read by
    ``wizard()`` once the channel is known to be enabled."""

    values: Values

    @classmethod
    def read(cls, envelope: Envelope) -> Self:
        fields = cls._view(envelope)
        channel = fields["metadata"]
        if (channel and not CHANNEL_ID.fullmatch(channel)) or not fields["view_id"]:  # its review replaces it
            raise InvalidInput("This form is damaged; run /finetune again.")
        fields["channel_id"] = channel or None
        return cls(**fields, values=cls.state(envelope))

    def wizard(self) -> WizardInput:
        """The filled-in wizard; ``WizardErrors`` names every bad block."""
        return parse_wizard(self.values)


class ReviewSubmission(Submission):
    """Start training on the review step; its metadata is the key of the review's state."""


class ChatSubmission(Submission):
    """The Test chat modal: ``endpoint`` is the endpoint it was opened for."""

    endpoint: str
    request: ChatRequest
    with_base: bool = False  # "Also ask the base model"

    @classmethod
    def read(cls, envelope: Envelope) -> Self:
        fields = cls._view(envelope)
        if not _IDENTIFIER.fullmatch(fields["metadata"]):
            raise InvalidInput("This chat form is damaged; open Test chat again from the card.")
        request = parse_test_chat(cls.state(envelope))  # InvalidInput(field=<block id>)
        with_base = parse_with_base(cls.state(envelope))
        return cls(**fields, endpoint=fields["metadata"], request=request, with_base=with_base)


class DeploySubmission(Submission):
    """The Deploy dialog: ``job`` is the job it was opened for, ``options`` what it asks to deploy."""

    job: str
    options: DeployOptions

    @classmethod
    def read(cls, envelope: Envelope) -> Self:
        fields = cls._view(envelope)
        if not _IDENTIFIER.fullmatch(fields["metadata"]):
            raise InvalidInput("This deploy form is damaged; click Deploy on the card again.")
        options = parse_deploy(cls.state(envelope))  # InvalidInput(field=<block id>)
        return cls(**fields, job=fields["metadata"], options=options)


class HomeClick(Inbound):
    """A button on ftbot's App Home tab (no channel, no response_url): only its trigger is read, to open
    a modal where the answer is shown."""

    surface: ClassVar[Surface] = Surface.HOME
    trigger_id: str

    @classmethod
    def read(cls, envelope: Envelope) -> Self:
        return cls(**cls._who(envelope), trigger_id=envelope.trigger_id)


class SettingsSubmission(Submission):
    """App Home's Edit settings modal: the approvers and channels chosen, and the version it showed."""

    edit: SettingsEdit

    @classmethod
    def read(cls, envelope: Envelope) -> Self:
        fields = cls._view(envelope)
        edit = parse_settings(cls.state(envelope), fields["metadata"], MAX_IDS)  # InvalidInput(field=block)
        return cls(**fields, edit=edit)


class Suggestion(Inbound):
    """What someone typed into an external select (the base model)."""

    query: str

    @classmethod
    def read(cls, envelope: Envelope) -> Self:
        return cls(**cls._who(envelope), query=envelope.text[:200])


class HomeOpened(Inbound):
    """The user opened a tab of ftbot's App Home."""

    tab: str

    @classmethod
    def read(cls, envelope: Envelope) -> Self:
        return cls(**cls._who(envelope), tab=envelope.event.tab if envelope.event else "home")
