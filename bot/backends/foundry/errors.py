"""openai and azure-core errors → ``commands.errors``, in one place.

=========================================  ===========================================================
what the service answered                  what the user sees
=========================================  ===========================================================
401 / 403 (data plane or ARM)              ``BackendAuthError`` naming the role the identity needs
404                                        ``NotFound`` naming the thing
409 (ARM: the name exists)                 ``Conflict``
429 with a quota code (``quotaExceeded``)  ``Conflict``: the resource has no quota left; retrying
                                           later will not help until someone frees some
429 otherwise, 5xx, timeouts, no network   ``Unavailable`` (after the clients' own retries), with
                                           ``retry_after`` when the service said so
400 / 422                                  ``InvalidInput`` carrying the service's message; "does not
                                           support fine-tuning" reads as the model/region/tier problem
an error event in a streamed answer        ``Unavailable``: the endpoint stopped answering, and why
=========================================  ===========================================================

Messages are built from the service's ``error.message`` only, never from headers or URLs, and pass
through ``scrub``, so keys and tokens cannot reach Slack. Every mapped error is chained (``from e``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import openai
from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
)

from commands.errors import BackendAuthError, Conflict, FtbotError, InvalidInput, NotFound, Unavailable

logger = logging.getLogger(__name__)

DATA_PLANE_ROLE = "Cognitive Services OpenAI Contributor"
AUTH_DATA_PLANE = (
    "Azure OpenAI refused ftbot's credentials. An operator needs to give the identity ftbot runs as "
    "(managed identity, or {login} on a laptop) the {role} role on the resource, or set "
    "AZURE_OPENAI_API_KEY to one of the resource's keys."
)
AUTH_ARM = (
    "Azure Resource Manager refused ftbot's credentials for deployments. An operator needs to give the "
    "identity ftbot runs as the {role} role (or Contributor) on the resource {account}; an API key "
    "does not work for deployments."
)
_QUOTA = re.compile(r"quota|insufficient_?quota|capacity", re.I)
_NO_FINE_TUNE = re.compile(r"does not support fine-?tuning|not (?:available|supported) .*region", re.I)
_SECRETS = re.compile(
    r"(sig|sv|se|sp|skoid|sktid|code|key|api-key|api_key)=[^&\s\"']+|Bearer\s+[A-Za-z0-9._~+/=-]+", re.I
)


def scrub(text: str) -> str:
    """Remove anything that looks like a key, SAS signature or bearer token from a service message."""
    return _SECRETS.sub(
        lambda m: m.group(0).split("=")[0] + "=***" if "=" in m.group(0) else "Bearer ***", text
    )


def _body_error(body: object) -> Mapping[str, Any]:
    if isinstance(body, Mapping):
        inner = body.get("error")
        return inner if isinstance(inner, Mapping) else body
    return {}


def _retry_after(headers: Mapping[str, str] | None) -> float | None:
    for header in ("retry-after-ms", "x-ms-retry-after-ms", "retry-after"):
        value = headers.get(header) if headers is not None else None
        if value is None:
            continue
        try:
            seconds = float(value)
        except ValueError:
            continue
        return seconds / 1000 if header.endswith("-ms") else seconds
    return None


def _throttled(message: str, code: str, retry: float | None) -> FtbotError:
    if _QUOTA.search(code) or _QUOTA.search(message):
        return Conflict(f"The Azure OpenAI resource has no quota left for this: {message}")
    hint = f" Try again in {retry:g} s." if retry is not None else " Try again in a minute."
    return Unavailable(f"Azure OpenAI is throttling requests.{hint}", retry_after=retry)


def _by_status(status: int, message: str, code: str, what: str, retry: float | None) -> FtbotError:
    if status == 404:
        return NotFound(f"{what} was not found on the Azure OpenAI resource.")
    if status == 409:
        return Conflict(f"{what} already exists or is busy: {message}")
    if status == 429:
        return _throttled(message, code, retry)
    if status >= 500:
        return Unavailable(
            f"Azure OpenAI is not answering properly right now (HTTP {status}). Try again shortly.",
            retry_after=retry,
        )
    if _NO_FINE_TUNE.search(message):
        return InvalidInput(
            f"{what}: the service says this model cannot be fine-tuned here ({message}). Check that the "
            "resource's region offers fine-tuning for it, and the training tier (--training-type)."
        )
    return InvalidInput(f"Azure OpenAI refused the request: {message}")


def map_openai_error(err: BaseException, *, what: str = "The resource") -> FtbotError:
    """The ``commands.errors`` value for an exception of the ``openai`` client. Never raises."""
    if isinstance(err, FtbotError):
        return err
    if isinstance(err, (openai.AuthenticationError, openai.PermissionDeniedError)):
        return BackendAuthError(AUTH_DATA_PLANE, login="az login", role=DATA_PLANE_ROLE)
    if isinstance(err, openai.APITimeoutError):
        return Unavailable("Azure OpenAI did not answer in time. Try again shortly.")
    if isinstance(err, openai.APIConnectionError):
        return Unavailable("Could not reach Azure OpenAI. Try again shortly.")
    if isinstance(err, openai.APIStatusError):
        body = _body_error(err.body)
        message = scrub(str(body.get("message") or err.message).split("\n", 1)[0])
        code = str(body.get("code") or "")
        return _by_status(err.status_code, message, code, what, _retry_after(err.response.headers))
    if isinstance(err, openai.APIError):  # an error event in a stream, after the answer began
        return Unavailable(f"{what} stopped answering: {scrub(str(err.message).split(chr(10), 1)[0])}")
    return Unavailable(f"Azure OpenAI request failed unexpectedly ({type(err).__name__}).")


def arm_message(err: HttpResponseError) -> tuple[str, str]:
    """(message, code) of an ARM error, from its OData error or JSON body."""
    odata = getattr(err, "error", None)
    message = getattr(odata, "message", None) if odata is not None else None
    code = getattr(odata, "code", None) if odata is not None else None
    if not message:
        message = str(err.message or err).split("\n", 1)[0]
        message = re.sub(r"^\(\w+\)\s*", "", message)
    return scrub(str(message).strip()), str(code or "")


def map_arm_error(err: BaseException, *, what: str, account: str) -> FtbotError:
    """The ``commands.errors`` value for an azure-core exception of the management client."""
    if isinstance(err, FtbotError):
        return err
    if isinstance(err, ClientAuthenticationError):
        return BackendAuthError(AUTH_ARM, role=DATA_PLANE_ROLE, account=account)
    if isinstance(err, ResourceNotFoundError):
        return NotFound(f"{what} was not found on the Azure OpenAI resource {{account}}.", account=account)
    if isinstance(err, HttpResponseError):
        message, code = arm_message(err)
        status = err.status_code or 0
        if status in (401, 403):
            return BackendAuthError(AUTH_ARM, role=DATA_PLANE_ROLE, account=account)
        if isinstance(err, ResourceExistsError) or status == 409:
            return Conflict(f"{what} already exists: {message}")
        if status == 404:
            return NotFound(
                f"{what} was not found on the Azure OpenAI resource {{account}}.", account=account
            )
        if status == 429:
            headers = getattr(err.response, "headers", None)
            return _throttled(message, code, _retry_after(headers))
        if status >= 500:
            return Unavailable(f"Azure Resource Manager failed (HTTP {status}): {message}")
        if status:
            return InvalidInput(f"Azure Resource Manager refused the request: {message}")
    if isinstance(err, AzureError):
        return Unavailable("Could not reach Azure Resource Manager. Try again shortly.")
    return Unavailable(f"Azure Resource Manager request failed unexpectedly ({type(err).__name__}).")


@contextmanager
def openai_errors(what: str) -> Iterator[None]:
    """Run data-plane calls; what the ``openai`` client raises leaves as a ``commands.errors`` type."""
    try:
        yield
    except FtbotError:
        raise
    except openai.OpenAIError as err:
        logger.warning("azure openai call failed (%s): %s", what, type(err).__name__)
        raise map_openai_error(err, what=what) from err


@contextmanager
def arm_errors(what: str, account: str) -> Iterator[None]:
    """Run management-plane calls; what azure-core raises leaves as a ``commands.errors`` type."""
    try:
        yield
    except FtbotError:
        raise
    except AzureError as err:
        logger.warning("azure resource manager call failed (%s): %s", what, type(err).__name__)
        raise map_arm_error(err, what=what, account=account) from err
