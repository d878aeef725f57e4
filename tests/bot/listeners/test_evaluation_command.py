"""`/finetune eval JOB [--examples N] [--endpoint ENDPOINT]` over signed HTTP, and where the stored result
shows later: `/finetune status JOB` and the App Home job rows."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.ui.ids import Action
from bot.ui.ids import Block as B
from commands import grammar
from commands.errors import UsageError
from commands.evaluation.records import EvaluationState
from commands.models import JobState
from tests.support.world import APPROVER, MEMBER, World, block, buttons, evaluation_posts, open_world, submit


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with open_world(tmp_path) as w:
        yield w


def _succeeded_and_deployed(world: World) -> tuple[str, str]:
    job_id = submit(world)
    world.until(lambda: world.services.lifecycle.queries.card(job_id).job.state is JobState.SUCCEEDED)
    world.click(Action.DEPLOY, job_id, user=APPROVER)
    world.until(lambda: "Test chat" in buttons(world.card()))
    return job_id, str(buttons(world.card())["Test chat"]["value"])


def _finished(world: World, job_id: str) -> None:
    assert evaluation_posts(world)
    stored = world.services.evaluations.evaluations.latest(job_id)
    assert stored is not None and stored.state is EvaluationState.SUCCEEDED


def test_the_grammar_reads_eval_with_its_flags() -> None:
    assert grammar.parse("eval job-1") == grammar.Evaluate(job="job-1")
    assert grammar.parse("eval job-1 --examples 12 --endpoint ep-1") == grammar.Evaluate(
        job="job-1", examples=12, endpoint="ep-1"
    )
    assert grammar.parse("evaluate job-1 --examples=3") == grammar.Evaluate(job="job-1", examples=3)
    for bad, fragment in (
        ("eval", "exactly one job"),
        ("eval a b", "exactly one job"),
        ("eval job-1 --examples ten", "--examples"),
        ("eval job-1 --examples 0", "--examples"),
        ("eval job-1 --endpoint 'bad name'", "not a valid endpoint"),
        ("eval job-1 --temperature 1", "no flag"),
    ):
        with pytest.raises(UsageError) as e:
            grammar.parse(bad)
        assert fragment in e.value.message, bad
        assert "/finetune eval JOB" in (e.value.hint or "")


def test_eval_command_runs_the_asked_number_of_examples_on_the_named_endpoint(world: World) -> None:
    job_id, endpoint = _succeeded_and_deployed(world)
    world.slash(f"eval {job_id} --examples 4 --endpoint {endpoint}")
    started = world.wait_response("Evaluating")
    assert "4 examples" in started and "base model" in started
    _finished(world, job_id)
    stored = world.services.evaluations.evaluations.latest(job_id)
    assert stored is not None and stored.total == 4 and stored.endpoint == endpoint
    assert world.backend.calls["chat"] == 4 and world.backend.calls["chat_base"] == 4
    line = block(world.card().blocks, B.CARD_EVALUATION)["text"]["text"]
    assert "4 held-out examples" in line


def test_eval_command_errors_are_clear_sentences(world: World) -> None:
    job_id = submit(world)
    world.until(lambda: world.services.lifecycle.queries.card(job_id).job.state is JobState.SUCCEEDED)
    world.slash(f"eval {job_id}")  # nothing deployed: offers Deploy, deploys nothing
    world.wait_response("no live endpoint")
    answer = next(r for r in world.fake.responses if "no live endpoint" in r.get("text", ""))
    assert "Deploy" in {e["text"]["text"] for e in block(answer["blocks"], B.EVAL_ACTIONS)["elements"]}
    assert world.backend.calls["deploy_model"] == 0
    world.slash(f"eval {job_id} --examples 500")
    world.wait_response("--examples must be 1 to 200")
    world.slash("eval no-such-job")
    world.wait_response("no-such-job")
    assert world.services.evaluations.evaluations.latest(job_id) is None


def test_status_and_app_home_show_the_evaluation_line(world: World) -> None:
    job_id, _ = _succeeded_and_deployed(world)
    world.slash(f"eval {job_id} --examples 3")
    world.wait_response("Evaluating")
    _finished(world, job_id)
    world.fake.responses.clear()
    world.slash(f"status {job_id}")
    world.until(lambda: any(r.get("blocks") for r in world.fake.responses))
    answer = next(r for r in world.fake.responses if r.get("blocks"))
    line = block(answer["blocks"], B.CARD_EVALUATION)["text"]["text"]
    assert "chrF" in line and "vs base" in line and "3 held-out examples" in line
    event = {
        "type": "event_callback",
        "team_id": "T1",
        "api_app_id": "A1",
        "event_id": "Ev1",
        "event_time": 1,
        "event": {"type": "app_home_opened", "user": MEMBER, "channel": "D1", "tab": "home"},
    }
    assert world.bot.post(json.dumps(event), content_type="application/json").status == 200
    world.fake.wait_for("views.publish")
    home = world.fake.views[f"home:{MEMBER}"]
    row = block(home["blocks"], f"{B.HOME_JOB}.{job_id}")["text"]["text"]
    assert "Evaluation:" in row and "vs base" in row and "3 held-out examples" in row
