"""Values from Slack read defensively: numbers are ASCII, URLs go through the one parser, times in
errors are plain text."""

from __future__ import annotations

import pytest

from bot.datasets.names import parse_url
from bot.ui.errors import error_text
from bot.ui.state import parse_number
from bot.ui.wizard_input import _url
from commands.errors import EndpointGone, InvalidInput


@pytest.mark.parametrize("raw", ["١٢", "１２", "12\u200b", "½"])
def test_a_number_that_is_not_ascii_is_refused(raw: str) -> None:
    with pytest.raises(InvalidInput, match="must be a number") as err:
        parse_number(raw, field="epochs", label="Epochs", integer=True, low=1, high=50)
    assert err.value.field == "epochs"


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://[::1/train.jsonl", "not a valid URL"),
        ("https://host:port/x", "not a valid URL"),
        ("https://host:99999/x", "not a valid URL"),
        ("train.jsonl", "not a link"),
        ("ftp://host/x", "ftp://"),
        ("https:///x", "no host"),
    ],
)
def test_the_url_parser_refuses_what_urlsplit_cannot_read(url: str, says: str) -> None:
    with pytest.raises(InvalidInput, match=says) as err:
        parse_url(url, field="training_url")
    assert err.value.field == "training_url"
    with pytest.raises(InvalidInput) as wizard:
        _url(url, "training_url")
    assert wizard.value.field == "training_url" and "https URL" in wizard.value.message


def test_a_url_keeps_its_query_out_of_the_name() -> None:
    source = _url("https://data.example.com/a/train.jsonl?sig=SECRET", "training_url")
    assert source.name == "train.jsonl" and "SECRET" not in source.name


def test_the_torn_down_error_shows_the_time_as_text_and_the_person_as_a_mention() -> None:
    err = EndpointGone("ep-1", at="14:05 UTC", by="UTEARER1")
    assert err.message == "This endpoint was torn down at 14:05 UTC by UTEARER1; deploy again from the card."
    text = error_text(err)
    assert "at 14:05 UTC by <@UTEARER1>; deploy again from the card." in text
    assert "torn down at 14:05 UTC; deploy" in EndpointGone("ep-1", at="14:05 UTC").message
