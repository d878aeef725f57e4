"""The errors users see.

Adapters (Azure, local backend, SQL, Slack downloads) turn vendor errors into these types, chained with
``raise ... from e``. One Bolt error handler (``bot/errors.py``) renders them on the right surface.
Messages are written for the person in the channel; they never contain secrets.
"""

from __future__ import annotations


class FtbotError(Exception):
    """Base of every error ftbot shows to a user. ``str(err)`` is the user-facing message."""

    #: short machine-readable code, stable across releases (used in logs, audit and JSON output)
    code = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(FtbotError):
    """The user gave something ftbot cannot use. ``field`` names the flag or modal block, when known."""

    code = "invalid_input"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class UsageError(InvalidInput):
    """A `/finetune` text command that does not parse. ``hint`` is what to try instead."""

    code = "usage"

    def __init__(self, message: str, *, field: str | None = None, hint: str | None = None) -> None:
        super().__init__(message, field=field)
        self.hint = hint


class NotFound(FtbotError):
    code = "not_found"


class Conflict(FtbotError):
    """The action clashes with existing state (e.g. a model already has an endpoint).

    ``existing`` names the thing in the way, so callers can adopt it (idempotent retries).
    """

    code = "conflict"

    def __init__(self, message: str, *, existing: str | None = None) -> None:
        super().__init__(message)
        self.existing = existing


class PermissionDenied(FtbotError):
    code = "permission_denied"


class NotEnabledHere(PermissionDenied):
    """The channel is not in FTBOT_ALLOWED_CHANNELS."""

    code = "not_enabled_here"


class Unavailable(FtbotError):
    """A dependency is down or throttling us. ``retry_after`` in seconds when the service said so."""

    code = "unavailable"

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class BackendAuthError(FtbotError):
    """The backend refused our credentials or role: an operator has to act, not the user."""

    code = "backend_auth"


class NotAvailableYet(FtbotError):
    """A subcommand that exists in the grammar but whose capability has not shipped."""

    code = "not_available_yet"
