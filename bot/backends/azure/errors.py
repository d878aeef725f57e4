"""azure-core / azure-ai-ml errors → ``commands.errors``, in one place.

The mapping:

=============================================  ============================================================
what azure raised                              what the user sees
=============================================  ============================================================
``ResourceNotFoundError`` (404)                ``NotFound`` naming the thing
``ResourceExistsError`` / 409                  ``Conflict``
400 (``UserError``, ``ValidationException``)   ``InvalidInput`` carrying the service's message
                                               (e.g. "Serverless FineTuning not supported in westus")
401 / 403 / ``ClientAuthenticationError``      ``BackendAuthError`` for the operator: the role that
                                               "Fine-tune models using serverless API deployments in
                                               Azure AI Foundry" requires and the Microsoft.Network
                                               registration
429, 5xx (after retries), network errors       ``Unavailable`` with ``retry_after`` when the service
                                               sent it
=============================================  ============================================================

Every mapped error is chained (``raise ... from e``) so the traceback stays in the log. Messages are built
from the service's error *message* only, never from request headers or URLs, so keys, SAS tokens and bearer
tokens cannot leak into Slack.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from azure.ai.ml.exceptions import ValidationErrorType, ValidationException
from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)

from commands.errors import (
    BackendAuthError,
    Conflict,
    FtbotError,
    InvalidInput,
    NotFound,
    Unavailable,
    fill,
)

logger = logging.getLogger(__name__)

_AUTH_TEMPLATE = (
    "Azure refused ftbot's credentials for the Foundry project. An operator needs to check that the identity "
    "ftbot runs as (managed identity, or {login} on a laptop) has the Owner or Contributor role on the "
    "subscription (or at least on the project's resource group), and that the Microsoft.Network resource "
    "provider is registered on the subscription."
)
_AUTH_NAMES = {"login": "az login"}
#: The message of every ``BackendAuthError`` for refused credentials, as plain text
AUTH_HELP = fill(_AUTH_TEMPLATE, _AUTH_NAMES)

# SAS query strings and bearer-looking tokens, in case a service message ever echoes one back
_SECRETS = re.compile(r"(sig|sv|se|sp|skoid|sktid|code|key)=[^&\s\"']+|Bearer\s+[A-Za-z0-9._~+/=-]+", re.I)


def scrub(text: str) -> str:
    """Remove anything that looks like a SAS signature or bearer token from a message."""
    return _SECRETS.sub(
        lambda m: m.group(0).split("=")[0] + "=***" if "=" in m.group(0) else "Bearer ***", text
    )


def service_message(err: BaseException) -> str:
    """The service's own message: the ``error.message`` of an ARM error body when there is one."""
    message: str | None = None
    if isinstance(err, HttpResponseError):
        odata = getattr(err, "error", None)
        message = getattr(odata, "message", None) if odata is not None else None
        response: Any = err.response
        if not message and response is not None:
            try:
                body = response.json()
            except Exception:  # not JSON: fall back to the exception text
                body = None
            if isinstance(body, dict) and isinstance(body.get("error"), dict):
                message = body["error"].get("message")
    if not message:
        message = getattr(err, "message", None) or str(err)
        # azure-core prefixes "(Code) " and appends "Code: ...\nMessage: ..."; keep the first line
        message = str(message).split("\n", 1)[0]
        message = re.sub(r"^\(\w+\)\s*", "", message)
    return scrub(str(message).strip())


def _retry_after(err: HttpResponseError) -> float | None:
    response: Any = err.response
    if response is None:
        return None
    for header in ("retry-after-ms", "x-ms-retry-after-ms", "Retry-After"):
        value = response.headers.get(header)
        if value is None:
            continue
        try:
            seconds = float(value)
        except ValueError:
            continue
        return seconds / 1000 if header.endswith("-ms") else seconds
    return None


def map_azure_error(err: BaseException, *, what: str = "Azure resource") -> FtbotError:
    """The ``commands.errors`` value for an exception azure-core or azure-ai-ml raised. Never raises."""
    if isinstance(err, FtbotError):
        return err
    if isinstance(err, ResourceNotFoundError):
        return NotFound(f"{what} was not found in the Azure AI Foundry project.")
    if isinstance(err, ClientAuthenticationError):
        return BackendAuthError(_AUTH_TEMPLATE, **_AUTH_NAMES)
    if isinstance(err, ResourceExistsError):
        return Conflict(f"{what} already exists: {service_message(err)}")
    if isinstance(err, HttpResponseError):
        status = err.status_code or 0
        if status == 404:
            return NotFound(f"{what} was not found in the Azure AI Foundry project.")
        if status in (401, 403):
            return BackendAuthError(_AUTH_TEMPLATE, **_AUTH_NAMES)
        if status == 409:
            return Conflict(f"{what} already exists: {service_message(err)}")
        if status == 429:
            retry = _retry_after(err)
            hint = f" Try again in {retry:g} s." if retry is not None else " Try again in a minute."
            return Unavailable(f"Azure AI Foundry is throttling requests.{hint}", retry_after=retry)
        if status >= 500:
            return Unavailable(
                f"Azure AI Foundry is not answering properly right now (HTTP {status}). Try again shortly.",
                retry_after=_retry_after(err),
            )
        if 400 <= status < 500:
            return InvalidInput(f"Azure AI Foundry refused the request: {service_message(err)}")
    if isinstance(err, (ServiceRequestError, ServiceResponseError)):
        return Unavailable("Could not reach Azure AI Foundry. Try again shortly.")
    if isinstance(err, ValidationException):  # raised locally by azure-ai-ml, e.g. an empty "latest" lookup
        if getattr(err, "error_type", None) == ValidationErrorType.RESOURCE_NOT_FOUND:
            return NotFound(f"{what} was not found in the Azure AI Foundry project.")
        return InvalidInput(f"azure-ai-ml refused the request: {scrub(str(getattr(err, 'message', err)))}")
    if isinstance(err, AzureError):
        return Unavailable(
            f"Azure AI Foundry request failed: {scrub(str(err).splitlines()[0] if str(err) else '')}"
        )
    return Unavailable(f"Azure AI Foundry request failed unexpectedly ({type(err).__name__}).")


@contextmanager
def azure_errors(what: str = "Azure resource") -> Iterator[None]:
    """Run a block of SDK calls; anything azure raises comes out as a ``commands.errors`` type, chained."""
    try:
        yield
    except FtbotError:
        raise
    except AzureError as err:
        mapped = map_azure_error(err, what=what)
        logger.warning("azure call failed (%s): %s", what, type(err).__name__, exc_info=True)
        raise mapped from err
