"""A view's state is checked before any store keeps it: its size in UTF-8 bytes, and what a database
text column refuses."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from commands.errors import InvalidInput
from commands.records import VIEW_STATE_MAX_BYTES, ViewStateRecord

T = datetime(2026, 12, 6, tzinfo=UTC)
REFUSED = "This form holds characters ftbot cannot keep; remove them and try again."


def _view(payload: str) -> ViewStateRecord:
    return ViewStateRecord(key="k", team_id="T1", user_id="U1", payload=payload, created_at=T, expires_at=T)


def test_an_empty_payload_is_storable() -> None:
    _view("").check_storable()


def test_four_byte_characters_count_four_bytes() -> None:
    _view("😀" * (VIEW_STATE_MAX_BYTES // 4)).check_storable()
    with pytest.raises(InvalidInput) as e:
        _view("😀" * (VIEW_STATE_MAX_BYTES // 4) + "x").check_storable()
    assert e.value.names == {"size": "65537", "limit": "65536"}


def test_what_a_database_refuses_is_told_before_the_size() -> None:
    for payload in ("x" * VIEW_STATE_MAX_BYTES + "\x00", "x" * VIEW_STATE_MAX_BYTES + "\udfff"):
        with pytest.raises(InvalidInput) as e:
            _view(payload).check_storable()
        assert str(e.value) == REFUSED
        assert e.value.names == {}


def test_an_unpaired_surrogate_is_refused_as_an_invalid_input() -> None:
    with pytest.raises(InvalidInput) as e:
        _view("\ud83d").check_storable()
    assert str(e.value) == REFUSED
    assert isinstance(e.value.__cause__, UnicodeEncodeError)


def test_a_paired_surrogate_written_as_one_character_is_storable() -> None:
    _view("\U0001f600 and \u00e9").check_storable()
