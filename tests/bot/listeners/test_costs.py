"""Costs over signed HTTP: the one-line submit and the card show the estimate, the card the training cost
once the job ends and the hosting of its endpoint, the test chat reply its cost, ``/finetune costs`` and
App Home the month's spend; the CSV export the same numbers."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.cli.costs import write_csv
from bot.ui.ids import Action
from bot.ui.ids import Block as B
from commands.models import JobState
from tests.support.world import APPROVER, CHANNEL, MEMBER, World, block, buttons, open_world, submit

PRICES = """\
currency: USD
models:
  ftbot-tiny:
    training_per_million_tokens: 2000000   # USD 2 per trained token: visible amounts on a tiny dataset
    hosting_per_hour: 36000                # USD 10 per second
    input_per_million_tokens: 1000000      # USD 1 per input token
    output_per_million_tokens: 2000000     # USD 2 per output token
"""


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    prices = tmp_path / "prices.yaml"
    prices.write_text(PRICES)
    with open_world(tmp_path, FTBOT_PRICES=str(prices)) as w:
        yield w


def _card_costs(world: World) -> str:
    return str(block(world.card().blocks, B.CARD_COSTS)["text"]["text"])


def test_submit_card_chat_costs_and_home_show_money(world: World) -> None:
    job_id = submit(world)
    started = world.wait_response("Started")
    record = world.services.lifecycle.queries.card(job_id).job
    assert record.summary is not None
    billed = record.summary.billed_tokens_estimate
    assert billed > 0
    assert f"Estimated training cost ≈ USD {billed * 2:,.2f}" in started

    world.until(lambda: world.services.lifecycle.queries.card(job_id).job.state is JobState.SUCCEEDED)
    world.settle()
    # the fake backend reports no trained tokens: the estimate × price, labelled estimated
    assert f"*Training cost (estimated):* USD {billed * 2:,.2f}" in _card_costs(world)

    world.click(Action.DEPLOY, job_id, user=APPROVER)
    world.until(lambda: "Test chat" in buttons(world.card()))
    world.settle()
    assert "*Hosting so far:* USD " in _card_costs(world) and "(USD 36,000.00 per hour)" in _card_costs(world)

    world.slash(f"chat {world.services.lifecycle.queries.live_endpoints()[0].name} hello there")
    world.wait_response("echo")
    world.settle()
    # the fake's usage: 3 prompt + 4 completion tokens = 3 × 1 + 4 × 2 = USD 11.00
    usage = [m for m in world.thread() if any(b.get("block_id") == B.CHAT_USAGE for b in m.blocks)]
    assert usage and "Cost: USD 11.00" in json.dumps(usage[-1].blocks)

    world.slash(f"costs --channel <#{CHANNEL}|jobs>")
    text = world.wait_response("Costs for")
    assert text.startswith("Costs for ")
    answer = next(r for r in world.fake.responses if str(r.get("text", "")).startswith("Costs for"))
    by_channel = block(answer["blocks"], B.COSTS_CHANNELS)["text"]["text"]
    assert f"<#{CHANNEL}>" in by_channel and f"training USD {billed * 2:,.2f}" in by_channel
    assert "inference USD 11.00" in by_channel
    assert job_id in block(answer["blocks"], B.COSTS_JOBS)["text"]["text"]
    assert "USD 36,000.00 per hour" in block(answer["blocks"], B.COSTS_LIVE)["text"]["text"]

    event = {
        "type": "event_callback",
        "team_id": "T1",
        "api_app_id": "A1",
        "event_id": "Ev-costs",
        "event_time": 1,
        "event": {"type": "app_home_opened", "user": MEMBER, "channel": "D1", "tab": "home"},
    }
    assert world.bot.post(json.dumps(event), content_type="application/json").status == 200
    world.fake.wait_for("views.publish")
    home = world.fake.views[f"home:{MEMBER}"]["blocks"]
    assert "Costs this month" in block(home, B.HOME_COSTS)["text"]["text"]
    assert f"<@{MEMBER}>" in block(home, f"{B.HOME_COSTS}.users")["text"]["text"]

    report = world.services.costs.report(team_id="T1")
    out = io.StringIO()
    write_csv(report, out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    channel_row = next(r for r in rows if r["scope"] == "channel" and r["key"] == CHANNEL)
    assert channel_row["training"] == f"{billed * 2:.2f}" and channel_row["inference"] == "11.00"
    assert channel_row["currency"] == "USD"
    assert any(r["scope"] == "live_endpoint_per_hour" and r["hosting"] == "36000.00" for r in rows)


def test_costs_command_refuses_a_bad_month(world: World) -> None:
    ack = world.slash("costs --month March")
    assert "YYYY-MM" in json.dumps(ack)
