"""``bot.datasets.names``: what a download may show of its file name and URL."""

from __future__ import annotations

import pytest

from bot.datasets.names import safe_filename, safe_url
from tests.bot.datasets.loopback import SAS

# --- file names and URLs for display --------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("train.jsonl", "train.jsonl"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\train.jsonl", "train.jsonl"),
        ("..hidden.jsonl", "hidden.jsonl"),
        ("a\x00b\x1bc\u202e.jsonl", "abc.jsonl"),
        ("line\nbreak.jsonl", "line break.jsonl"),
        ("", "dataset.jsonl"),
        ("...", "dataset.jsonl"),
        (None, "dataset.jsonl"),
    ],
)
def test_safe_filename(raw: str | None, shown: str) -> None:
    assert safe_filename(raw) == shown


def test_safe_filename_is_short_and_keeps_the_extension() -> None:
    name = safe_filename("x" * 300 + ".jsonl")
    assert len(name) == 100 and name.endswith(".jsonl")
    assert len(safe_filename("y" * 300)) == 100


def test_safe_url_drops_credentials_query_and_fragment() -> None:
    assert safe_url(f"https://u:p@acct.blob.core.windows.net/c/train.jsonl?{SAS}#frag") == (
        "https://acct.blob.core.windows.net/c/train.jsonl"
    )
    assert safe_url("http://[::1]:8080/x?y=1") == "http://[::1]:8080/x"
    assert len(safe_url("https://h/" + "a" * 500)) < 150
