"""Delivery killed between Slack's answer and its own bookkeeping: the next deliverer finds the card or
thread post in Slack (by its message metadata, a loss chart by its file name) and does not send it again.
The "kill" is an exception raised where the store would have recorded Slack's answer."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.store.cards import CardRepository
from bot.store.outbox import OutboxRepository
from tests.support.world import CHANNEL, World, open_world, submit


class Killed(Exception):
    """Stands for kill -9 at the moment the store would record what Slack answered."""


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with open_world(tmp_path) as w:
        yield w


def _die_once(monkeypatch: pytest.MonkeyPatch, cls: type, name: str, when: Any = None) -> list[int]:
    """Make ``cls.name`` raise ``Killed`` the first time ``when(*args)`` holds; returns the kill count."""
    real = getattr(cls, name)
    kills: list[int] = []

    def dying(self: object, *args: object, **kwargs: object) -> object:
        if not kills and (when is None or when(*args)):
            kills.append(1)
            raise Killed
        return real(self, *args, **kwargs)

    monkeypatch.setattr(cls, name, dying)
    return kills


def _tick_through_kills(world: World, seconds: float = 30) -> None:
    """Tick (as the scheduler does) until everything is delivered; a retry waits out its backoff."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            world.tick()
        except Killed:
            continue  # the process died; the next tick is the next process
        if world.delivered():
            return
        time.sleep(0.05)
    raise AssertionError("not delivered")


def test_a_card_posted_just_before_a_kill_is_found_not_posted_again(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    kills = _die_once(monkeypatch, CardRepository, "save_status_message")
    job = submit(world)
    _tick_through_kills(world)
    assert kills == [1]
    card = world.card()  # exactly one card in the channel
    assert job in str(card.blocks) and card.edits >= 1  # the kept card was edited to the current state
    looked = world.fake.calls_to("conversations.history")
    assert len(looked) == 1 and looked[0].body["channel"] == CHANNEL


def test_a_thread_post_sent_just_before_a_kill_is_not_sent_again(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    kills = _die_once(monkeypatch, OutboxRepository, "mark_sent")
    submit(world)
    _tick_through_kills(world)
    assert kills == [1]
    texts = [m.text for m in world.thread()]
    assert len(texts) == len(set(texts)), texts  # every post once
    with world.services.store.transaction() as tx:
        assert tx.unsent_count() == 0
    assert len(world.fake.calls_to("conversations.replies")) == 1


def test_a_post_killed_before_it_reached_slack_is_sent_once(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # dies after recording "sending" and before Slack answers: the lookup finds nothing, it is sent
    from bot.slack import delivery

    real = delivery.Delivery._send
    kills: list[int] = []

    def dying(self: delivery.Delivery, item: Any) -> None:
        if not kills:
            with self.store.transaction() as tx:
                tx.mark_sending(item.id, self.clock.now())
            kills.append(1)
            raise Killed
        real(self, item)

    monkeypatch.setattr(delivery.Delivery, "_send", dying)
    submit(world)
    _tick_through_kills(world)
    texts = [m.text for m in world.thread()]
    with world.services.store.transaction() as tx:
        assert tx.unsent_count() == 0
    assert len(texts) == len(set(texts)) and texts, texts


def test_a_lookup_slack_cannot_answer_now_is_retried_not_skipped(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    _die_once(monkeypatch, OutboxRepository, "mark_sent")
    submit(world)
    world.fake.fail_next("conversations.replies", 500, times=3)
    _tick_through_kills(world)
    texts = [m.text for m in world.thread()]
    assert len(texts) == len(set(texts)), texts
