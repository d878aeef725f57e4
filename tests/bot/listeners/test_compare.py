"""End to end over signed HTTP: `/finetune compare JOB1 JOB2` posts one message with both jobs side by
side and, in its thread, one PNG with both runs' losses overlaid; bad input gets a clear sentence."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.slack.charts import overlaid_loss_chart_png
from bot.ui.ids import Block as B
from commands.models import JobState, MetricPoint
from tests.fakes.backend import RichFakeBackend
from tests.support.world import CHANNEL, World, block, open_world, submit


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with open_world(tmp_path, backend=RichFakeBackend()) as w:
        yield w


def _state(world: World, job_id: str) -> JobState:
    with world.services.store.transaction() as tx:
        return tx.get_job(job_id).state


def test_compare_posts_both_jobs_side_by_side_and_one_overlaid_chart(world: World) -> None:
    first = submit(world)
    world.until(lambda: _state(world, first) is JobState.SUCCEEDED)
    world.slash(f"rerun {first} --epochs 1 --suffix short")
    deadline = time.monotonic() + 10
    while len([t for t in world.response_texts() if "Started" in t]) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    second = [t for t in world.response_texts() if "Started" in t][1].split("`")[1]
    world.until(lambda: _state(world, second) is JobState.SUCCEEDED)

    world.slash(f"compare {first} {second}")
    world.wait_response("Compared")
    message = next(m for m in world.fake.channel_messages(CHANNEL) if "Comparing" in m.text)
    title = block(message.blocks, B.COMPARE_TITLE)["text"]["text"]
    assert title.index(first) < title.index(second)  # first on the left
    setup = json.dumps(block(message.blocks, f"{B.COMPARE_FIELDS}.setup"))
    results = json.dumps(block(message.blocks, f"{B.COMPARE_FIELDS}.results"))
    assert setup.count("ftbot-tiny") >= 2 and f"Rerun of `{first}`" in setup
    assert "n_epochs: Default" in results and "n_epochs: 1" in results and "`short`" in results
    assert results.count("Final training loss: 0.7500") == 2  # 3.0 / step 4 on both runs of the fake
    assert results.count("Final validation loss: 0.8000") == 2
    evaluation = [f["text"] for f in block(message.blocks, f"{B.COMPARE_FIELDS}.evaluation")["fields"]]
    assert evaluation == ["*Evaluation*\n_Not evaluated_"] * 2 + ["*Cost*\n—"] * 2  # no FTBOT_PRICES here

    charts = [m for m in world.fake.thread(CHANNEL, message.ts) if m.files]
    assert len(charts) == 1
    upload = world.fake.uploads[charts[0].files[0]]
    assert upload["filename"] == f"compare-{first}-{second}.png"
    assert upload["content"].startswith(b"\x89PNG")


def test_compare_refuses_the_same_job_twice_and_unknown_jobs(world: World) -> None:
    first = submit(world)
    world.slash(f"compare {first} {first}")
    world.wait_response("Name two different jobs")
    world.slash(f"compare {first} no-such-job")
    world.wait_response("There is no job")
    refused = world.slash(f"compare {first}")
    assert "takes two jobs" in refused["text"]
    assert not any("Comparing" in m.text for m in world.fake.channel_messages(CHANNEL))


def test_the_overlaid_chart_draws_each_run() -> None:
    run = [
        MetricPoint(step=s, train_loss=3.0 / s, valid_loss=3.2 / s if s % 2 == 0 else None)
        for s in range(1, 9)
    ]
    both = overlaid_loss_chart_png([("a", run), ("b", run[:4])], "a vs b")
    empty = overlaid_loss_chart_png([("a", []), ("b", [])], "a vs b")
    assert both.startswith(b"\x89PNG") and empty.startswith(b"\x89PNG") and both != empty
