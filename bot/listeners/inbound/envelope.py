"""The outer shape of every request Slack sends ftbot, read before Bolt or any listener sees it.

``screen`` reads a request in two steps:

1. Its **route**, strictly: the payload type and what names its listener (a slash command, a button's
   action_id, a modal's callback_id, a suggestion's action_id, an event type). A request whose route is
   not one ftbot registered (an unknown payload type, a view ftbot never opened, an action without
   action_id) is ``Ignored``: answered 200 with an empty body and logged at INFO, never seen by Bolt,
   whose own middleware indexes such bodies without checking and fails with a 500.
2. Its **envelope**, leniently: who sent it, from where, and how to answer. An optional field of the
   wrong JSON type (a ``team`` that is a list, a ``trigger_id`` that is a number) is read as absent. A
   user that is not a Slack user id, or a channel that is given but is not a channel id, makes the
   envelope a ``refusal``: the listener is not called, and the user is told where they are (the ack of a
   command, the modal of a submission, ``response_url`` or an ephemeral for a click).

The values inside a handled shape (a button's job id, a view's fields) are read next, by the typed
requests of ``bot.listeners.inbound.requests``, which answer the user when they are wrong.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
)

from bot.ui.ids import CHANNEL_ID, USER_ID

Short = Annotated[str, StringConstraints(max_length=255)]
#: ``view.state.values``: ``{block_id: {action_id: element}}``, each element an object
Values = dict[str, dict[str, dict[str, Any]]]

NO_USER = "This request does not say who sent it, so ftbot cannot act on it."
BAD_CHANNEL = "This request names a channel ftbot does not recognise."


def _absent_when_invalid(default: Any) -> WrapValidator:
    def read(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        try:
            return handler(value)
        except ValidationError:
            return default

    return WrapValidator(read)


#: an optional envelope value: of the wrong type (or too long), it reads as not given
OptionalText = Annotated[str, _absent_when_invalid("")]
OptionalShort = Annotated[Short, _absent_when_invalid("")]
OptionalId = Annotated[Short | None, _absent_when_invalid(None)]


class Kind(StrEnum):
    COMMAND = "command"
    ACTION = "action"
    VIEW = "view"
    VIEW_CLOSED = "view_closed"
    OPTIONS = "options"
    EVENT = "event"


@dataclass(frozen=True)
class Route:
    kind: Kind
    key: str


class Shape(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class _Ref(Shape):
    id: OptionalId = None


class _Container(Shape):
    channel_id: OptionalId = None


OptionalRef = Annotated[_Ref | None, _absent_when_invalid(None)]


class _Action(Shape):
    action_id: Short
    value: Any = None


class _View(Shape):
    type: Literal["modal"]  # a workflow_step or home view is not one ftbot submits
    callback_id: Short
    id: OptionalShort = ""
    private_metadata: OptionalText = ""
    hash: OptionalShort = ""
    state: Any = None

    @property
    def values(self) -> Values:
        """The submitted values; what is not an object at any level is left out (read as not given)."""
        values = self.state.get("values") if isinstance(self.state, Mapping) else None
        if not isinstance(values, Mapping):
            return {}
        return {
            str(block_id): {str(a): dict(e) for a, e in block.items() if isinstance(e, Mapping)}
            for block_id, block in values.items()
            if isinstance(block, Mapping)
        }


class _Interaction(Shape):
    user: OptionalRef = None
    team: OptionalRef = None
    enterprise: OptionalRef = None
    channel: OptionalRef = None
    container: Annotated[_Container | None, _absent_when_invalid(None)] = None
    trigger_id: OptionalShort = ""
    response_url: OptionalText = ""

    def who(self) -> dict[str, Any]:
        return {
            "user_id": self.user.id if self.user else None,
            "channels": [
                self.channel.id if self.channel else None,
                self.container.channel_id if self.container else None,
            ],
            "team_id": (self.team.id if self.team else None) or "",
            "enterprise_id": self.enterprise.id if self.enterprise else None,
            "trigger_id": self.trigger_id,
            "response_url": self.response_url,
        }


class _BlockActions(_Interaction):
    type: Literal["block_actions"]
    actions: list[Any] = Field(min_length=1)  # only the first is the click; the rest is not read


class _ViewPayload(_Interaction):
    type: Literal["view_submission", "view_closed"]
    view: _View


class _Suggestion(_Interaction):
    type: Literal["block_suggestion"]
    action_id: Short
    value: OptionalText = ""


class _SlashForm(Shape):
    command: Short
    user_id: OptionalId = None
    channel_id: OptionalId = None
    team_id: OptionalShort = ""
    enterprise_id: OptionalId = None
    text: OptionalText = ""
    trigger_id: OptionalShort = ""
    response_url: OptionalText = ""


class _Event(Shape):
    type: Short
    user: Annotated[str, StringConstraints(pattern=USER_ID.pattern)]  # an event without a user is not ftbot's
    tab: OptionalShort = "home"


class _EventCallback(Shape):
    type: Literal["event_callback"]
    team_id: OptionalShort = ""
    event: _Event


class Envelope(Shape):
    """Who sent a handled request, from where, for which listener, with its raw values.

    ``user_id`` and ``channel_id`` are Slack ids or ``None``; ``refusal`` says, when set, why ftbot will
    not act on the request (it does not say who sent it, or names a channel that is not one)."""

    route: Route
    user_id: str | None
    channel_id: str | None = None
    team_id: str = ""
    enterprise_id: str | None = None
    trigger_id: str = ""
    response_url: str = ""
    text: str = ""  # a slash command's text; a suggestion's query
    value: Any = None  # the clicked element's value
    view: _View | None = None
    event: _Event | None = None
    refusal: str | None = None

    @classmethod
    def checked(cls, route: Route, user_id: str | None, channels: list[str | None], **rest: Any) -> Envelope:
        """The envelope of ``user_id`` in the first of ``channels`` that is a channel id. Ids that are
        not Slack ids (the whole value: ``match`` would let a trailing newline through) are dropped (a
        reply never goes to them), and call for a refusal."""
        given = [c for c in channels if c is not None]
        valid = [c for c in given if CHANNEL_ID.fullmatch(c)]
        refusal = BAD_CHANNEL if len(valid) < len(given) else None
        if user_id is None or not USER_ID.fullmatch(user_id):
            user_id, refusal = None, NO_USER
        channel = valid[0] if valid else None
        return cls(route=route, user_id=user_id, channel_id=channel, refusal=refusal, **rest)


@dataclass(frozen=True)
class Ignored:
    """A request that is not a shape ftbot handles, and why (for the INFO line; no user input in it)."""

    reason: str


def _envelope(body: Mapping[str, Any], handles: Callable[[Route], bool]) -> Envelope | Route:
    """The envelope of a request for a registered route, or the route that is not registered."""
    kind = body.get("type")
    if "command" in body and kind is None:
        form = _SlashForm.model_validate(body)
        route = Route(Kind.COMMAND, form.command)
        # Slack sends every command from a channel (a DM is D…): one without says nothing of where to answer
        fields = form.model_dump(exclude={"command", "channel_id"}) | {"channels": [form.channel_id or ""]}
    elif kind == "block_actions":
        click = _BlockActions.model_validate(body)
        action = _Action.model_validate(click.actions[0])
        route = Route(Kind.ACTION, action.action_id)
        fields = {**click.who(), "value": action.value}
    elif kind in ("view_submission", "view_closed"):
        payload = _ViewPayload.model_validate(body)
        route = Route(Kind.VIEW if kind == "view_submission" else Kind.VIEW_CLOSED, payload.view.callback_id)
        fields = {**payload.who(), "view": payload.view}
    elif kind == "block_suggestion":
        query = _Suggestion.model_validate(body)
        route = Route(Kind.OPTIONS, query.action_id)
        fields = {**query.who(), "text": query.value}
    elif kind == "event_callback":
        callback = _EventCallback.model_validate(body)
        route = Route(Kind.EVENT, callback.event.type)
        fields = {"user_id": callback.event.user, "channels": [], "team_id": callback.team_id}
        fields["event"] = callback.event
    else:
        raise ValueError("a payload type ftbot does not handle")
    return Envelope.checked(route, **fields) if handles(route) else route


def screen(body: Any, handles: Callable[[Route], bool]) -> Envelope | Ignored:
    """The envelope of a request ftbot has a listener for, or ``Ignored`` saying why not."""
    if not isinstance(body, Mapping):
        return Ignored("not an object")
    kind = str(body.get("type") or ("slash command" if "command" in body else "untyped"))[:40]
    try:
        envelope = _envelope(body, handles)
    except (ValidationError, ValueError) as e:
        fields = (
            sorted({".".join(map(str, err["loc"])) for err in e.errors()})
            if isinstance(e, ValidationError)
            else [str(e)]
        )
        return Ignored(f"{kind!r}: {', '.join(fields)[:200]}")
    if isinstance(envelope, Route):
        return Ignored(f"{kind!r} for {envelope.kind.value} {envelope.key[:80]!r}, not registered")
    if envelope.refusal and envelope.route.kind is Kind.VIEW_CLOSED:  # nothing on screen to answer in
        return Ignored(f"{kind!r} for {envelope.route.key[:80]!r}: {envelope.refusal}")
    return envelope
