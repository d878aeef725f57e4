"""The errors users see.

Adapters (Azure, local backend, SQL, Slack downloads) turn vendor errors into these types, chained with
``raise ... from e``. One Bolt error handler (``bot/errors.py``) renders them on the right surface.
Messages are written for the person in the channel; they never contain secrets.

Messages carry no Slack markup. Ids and names (a job, an endpoint, a model, a flag, a user) are passed
as keyword ``names`` and stand in the message as ``{placeholder}``s: ``message`` reads them as plain
text (logs, the command line), and ``bot/ui`` renders them as code spans or mentions (``User`` ids).
"""

from __future__ import annotations

import re

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


class User(str):
    """A Slack user id inside an error: a person, shown as a mention where the surface can."""

    __slots__ = ()


def fill(template: str, names: dict[str, str], render: object = str) -> str:
    """``template`` with each ``{name}`` replaced by ``render(names[name])``; other braces stay."""
    if not names:
        return template
    fmt = render if callable(render) else str
    return _PLACEHOLDER.sub(
        lambda m: str(fmt(names[m.group(1)])) if m.group(1) in names else m.group(0), template
    )


class FtbotError(Exception):
    """Base of every error ftbot shows to a user. ``str(err)`` is the plain-text message."""

    #: short machine-readable code, stable across releases (used in logs, audit and JSON output)
    code = "error"

    def __init__(self, message: str, **names: str) -> None:
        self.template = message
        self.names = names
        self.message = fill(message, names)
        super().__init__(self.message)


class InvalidInput(FtbotError):
    """The user gave something ftbot cannot use. ``field`` names the flag or modal block, when known."""

    code = "invalid_input"

    def __init__(self, message: str, *, field: str | None = None, **names: str) -> None:
        super().__init__(message, **names)
        self.field = field


class UsageError(InvalidInput):
    """A `/finetune` text command that does not parse. ``hint`` is what to try instead."""

    code = "usage"

    def __init__(
        self, message: str, *, field: str | None = None, hint: str | None = None, **names: str
    ) -> None:
        super().__init__(message, field=field, **names)
        self.hint = hint


class NotFound(FtbotError):
    code = "not_found"


class Conflict(FtbotError):
    """The action clashes with existing state (e.g. a model already has an endpoint).

    ``existing`` names the thing in the way, so callers can adopt it (idempotent retries).
    """

    code = "conflict"

    def __init__(self, message: str, *, existing: str | None = None, **names: str) -> None:
        super().__init__(message, **names)
        self.existing = existing


class PermissionDenied(FtbotError):
    code = "permission_denied"


class NotEnabledHere(PermissionDenied):
    """The channel is not in FTBOT_ALLOWED_CHANNELS."""

    code = "not_enabled_here"


class Unavailable(FtbotError):
    """A dependency is down or throttling us. ``retry_after`` in seconds when the service said so."""

    code = "unavailable"

    def __init__(self, message: str, *, retry_after: float | None = None, **names: str) -> None:
        super().__init__(message, **names)
        self.retry_after = retry_after


class BackendAuthError(FtbotError):
    """The backend refused our credentials or role: an operator has to act, not the user."""

    code = "backend_auth"


class NotAvailableYet(FtbotError):
    """A subcommand that exists in the grammar but whose capability has not shipped."""

    code = "not_available_yet"


class At(str):
    """A time inside an error (``14:05 UTC``): shown as plain text, never as a code span."""

    __slots__ = ()


class EndpointGone(Conflict):
    """An endpoint was torn down while someone still used it (a Test chat modal left open, a stale
    button): when it went (``at``) and, when known, who tore it down (``by``)."""

    code = "endpoint_gone"

    def __init__(self, endpoint: str, *, at: str, by: str | None = None) -> None:
        if by:
            message = "This endpoint was torn down at {at} by {by}; deploy again from the card."
            super().__init__(message, endpoint=endpoint, at=At(at), by=User(by))
        else:
            message = "This endpoint was torn down at {at}; deploy again from the card."
            super().__init__(message, endpoint=endpoint, at=At(at))
        self.endpoint = endpoint
