"""The error types users see: their message, the names the UI renders, and the fields callers read."""

from __future__ import annotations

import pytest

from commands.errors import (
    At,
    BackendAuthError,
    Conflict,
    EndpointGone,
    FtbotError,
    InvalidInput,
    NotAvailableYet,
    NotEnabledHere,
    NotFound,
    PermissionDenied,
    Unavailable,
    UsageError,
    User,
    fill,
)


def test_fill_replaces_known_placeholders_and_keeps_other_braces() -> None:
    names = {"job": "ftjob-1", "model": "gpt-4o"}
    assert (
        fill("{job} on {model}, {unknown} and {} stay", names) == "ftjob-1 on gpt-4o, {unknown} and {} stay"
    )
    assert fill("`{job}`", names, render=lambda v: f"<{v}>") == "`<ftjob-1>`"
    assert fill("{job}", names, render="not callable") == "ftjob-1"
    assert fill("{job} {{job}}", {}) == "{job} {{job}}"  # no names: the template as it is


def test_base_error_keeps_template_names_and_plain_message() -> None:
    err = FtbotError("Job {job} failed.", job="ftjob-9")
    assert (err.template, err.names, err.message, str(err)) == (
        "Job {job} failed.",
        {"job": "ftjob-9"},
        "Job ftjob-9 failed.",
        "Job ftjob-9 failed.",
    )
    assert err.args == ("Job ftjob-9 failed.",)


@pytest.mark.parametrize(
    ("cls", "code"),
    [
        (FtbotError, "error"),
        (InvalidInput, "invalid_input"),
        (UsageError, "usage"),
        (NotFound, "not_found"),
        (Conflict, "conflict"),
        (PermissionDenied, "permission_denied"),
        (NotEnabledHere, "not_enabled_here"),
        (Unavailable, "unavailable"),
        (BackendAuthError, "backend_auth"),
        (NotAvailableYet, "not_available_yet"),
        (EndpointGone, "endpoint_gone"),
    ],
)
def test_codes_are_stable(cls: type[FtbotError], code: str) -> None:
    assert cls.code == code


def test_subclass_fields_and_names() -> None:
    usage = UsageError("Bad {flag}.", field="--x", hint="/finetune help", flag="--x")
    assert (str(usage), usage.field, usage.hint, usage.names) == (
        "Bad --x.",
        "--x",
        "/finetune help",
        {"flag": "--x"},
    )
    assert isinstance(usage, InvalidInput)
    plain = UsageError("Bad.")
    assert (plain.field, plain.hint) == (None, None)
    invalid = InvalidInput("No {file}.", field="data", file="a.jsonl")
    assert (str(invalid), invalid.field, invalid.names) == ("No a.jsonl.", "data", {"file": "a.jsonl"})
    assert InvalidInput("x").field is None
    conflict = Conflict("{model} already has {endpoint}.", existing="ep-1", model="m", endpoint="ep-1")
    assert (str(conflict), conflict.existing, conflict.names) == (
        "m already has ep-1.",
        "ep-1",
        {"model": "m", "endpoint": "ep-1"},
    )
    assert Conflict("x").existing is None
    busy = Unavailable("{service} is throttling.", retry_after=2.5, service="Azure")
    assert (str(busy), busy.retry_after, busy.names) == ("Azure is throttling.", 2.5, {"service": "Azure"})
    assert Unavailable("x").retry_after is None
    assert isinstance(NotEnabledHere("x"), PermissionDenied)


def test_endpoint_gone_says_when_and_by_whom() -> None:
    err = EndpointGone("ep-7", at="14:05 UTC", by="U123")
    assert str(err) == "This endpoint was torn down at 14:05 UTC by U123; deploy again from the card."
    assert err.template == "This endpoint was torn down at {at} by {by}; deploy again from the card."
    assert err.names == {"endpoint": "ep-7", "at": "14:05 UTC", "by": "U123"}
    assert type(err.names["at"]) is At and type(err.names["by"]) is User  # rendered as time and mention
    assert (err.endpoint, err.existing) == ("ep-7", None)
    assert isinstance(err, Conflict)


def test_endpoint_gone_without_who() -> None:
    err = EndpointGone("ep-7", at="14:05 UTC")
    assert str(err) == "This endpoint was torn down at 14:05 UTC; deploy again from the card."
    assert err.template == "This endpoint was torn down at {at}; deploy again from the card."
    assert err.names == {"endpoint": "ep-7", "at": "14:05 UTC"}
    assert type(err.names["at"]) is At
    assert err.endpoint == "ep-7"
    assert str(EndpointGone("ep-7", at="14:05 UTC", by="")) == str(err)
