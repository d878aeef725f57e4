from __future__ import annotations

import pytest

from bot.ui.text import approver_mention, channel_mention, duration, escape_clip, link, mention


def test_small_pieces() -> None:
    assert duration(5) == "5s" and duration(125) == "2m" and duration(3 * 3600 + 300) == "3h 05m"
    assert duration(2 * 86400 + 4 * 3600) == "2d 4h" and duration(-3) == "0s"
    assert mention("U123ABC") == "<@U123ABC>" and mention("W0ENT") == "<@W0ENT>"
    assert mention("<!channel>") == "&lt;!channel&gt;" and mention("scheduler") == "ftbot (scheduled)"
    assert approver_mention("S0GROUP") == "<!subteam^S0GROUP>" and approver_mention("U0A") == "<@U0A>"
    assert link("javascript:alert(1)", "x") == "x" and link("https://a|b", "<x>") == "&lt;x&gt;"
    clipped = escape_clip("&" * 100, 12)
    assert clipped == "&amp;&amp;…" and len(clipped) <= 12


@pytest.mark.parametrize("channel_id", ["C0CHAN", "G0PRIVATE", "D0DIRECT"])
def test_channels_groups_and_direct_messages_are_mentioned(channel_id: str) -> None:
    assert channel_mention(channel_id) == f"<#{channel_id}>"


@pytest.mark.parametrize("channel_id", ["Z0NOTACHANNEL", "c0lower", "C", "<#C0EVIL>", None])
def test_anything_else_is_shown_as_text(channel_id: str | None) -> None:
    shown = channel_mention(channel_id)
    assert not shown.startswith("<#") and "<" not in shown
