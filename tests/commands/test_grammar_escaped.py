"""``should_escape: true``: Slack sends links, users and channels escaped; the grammar reads both forms."""

from __future__ import annotations

import pytest

from commands import grammar

SAS = "https://acct.blob.core.windows.net/c/train.jsonl?sv=2024&sig=abc%2F"


@pytest.mark.parametrize(
    "data",
    [
        SAS,  # plain (should_escape: false)
        f"<{SAS.replace('&', '&amp;')}>",  # escaped, as Slack sends a bare link
        f"<{SAS.replace('&', '&amp;')}|acct.blob.core.windows.net/c/train.jsonl>",  # with its label
    ],
)
def test_data_urls_read_the_same_escaped_or_not(data: str) -> None:
    parsed = grammar.parse(f"submit --model m --data {data}")
    assert isinstance(parsed, grammar.Submit)
    assert parsed.data == SAS


def test_mentions_and_channels_become_their_ids() -> None:
    assert (
        grammar.unescape("<@U123ABC|alice> <#C42XYZ|ml-jobs> <@W9> plain U77")
        == "U123ABC C42XYZ <@W9> plain U77"
    )
    assert grammar.unescape("a &lt;b&gt; &amp;amp;") == "a <b> &amp;"


def test_a_chat_prompt_is_unescaped_too() -> None:
    parsed = grammar.parse("chat ep-1 is 1 &lt; 2 &amp;&amp; <https://x.org/a|x.org/a> a link?")
    assert isinstance(parsed, grammar.Chat)
    assert parsed.prompt == "is 1 < 2 && https://x.org/a a link?"
