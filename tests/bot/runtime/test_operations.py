"""Operations end to end (issue #19): a real ``ftbot serve`` (HTTP mode, signed requests) with
FTBOT_METRICS_PORT, FTBOT_LOG_FORMAT=json and FTBOT_ONCALL set.

- ``/metrics`` scraped before and after a job's whole lifecycle (submit, train, Deploy, Tear down) on the
  shared test backend: requests and acks counted per surface, Slack calls counted, the job counted
  finished, an endpoint live after Deploy and not after Tear down; every log line of both processes is
  one JSON object.
- On the local backend (real training): a job whose training worker is killed pages the on-call once,
  in its thread, with a ref that the JSON log holds; Acknowledge records who took it and edits the page;
  a dataset the user got wrong pages nobody.
"""

from __future__ import annotations

import json
import os
import re
import signal
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from bot.demo.payloads import block_action, payload_body, slash_body
from bot.demo.slack import FakeSlack, Message
from bot.ui.ids import Action
from bot.ui.ids import Block as B
from tests.fakes.files import FileServer
from tests.support.data import chat_lines
from tests.support.serve import ServeProcess, free_port
from tests.support.wait import until
from tests.support.world import block

SECRET = "ops-signing-secret"
APPROVER = "UAPPROVER1"
MEMBER = "UMEMBER01"
ONCALL = "SONCALL01"
CHANNEL = "COPS0001"

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


def scrape(port: int) -> dict[str, float]:
    """``/metrics`` as ``{'name{labels}': value}`` (labels as exposed, sorted by the client)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        body = r.read().decode()
    out: dict[str, float] = {}
    for line in body.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


def value(samples: dict[str, float], name: str, **labels: str) -> float:
    """The sum of the samples of ``name`` whose labels include ``labels``."""
    total = 0.0
    for key, v in samples.items():
        base, _, rest = key.partition("{")
        have = dict(re.findall(r'(\w+)="([^"]*)"', rest))
        if base == name and all(have.get(k) == w for k, w in labels.items()):
            total += v
    return total


def json_lines(log: Path) -> list[dict[str, Any]]:
    """Every line of a serve log (both processes) as JSON; the harness's own start markers aside."""
    lines = [line for line in log.read_text().splitlines() if line and not line.startswith("--- start")]
    parsed = []
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except ValueError:
            raise AssertionError(f"not a JSON log line: {line!r}") from None
    return parsed


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[FakeSlack, FileServer, dict[str, str]]]:
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "train.jsonl").write_text(chat_lines(30))
    (tmp_path / "www" / "long.jsonl").write_text(chat_lines(400))  # x 25 epochs: minutes of training
    (tmp_path / "www" / "bad.jsonl").write_text('{"messages": [{"role": "user", "content": "hi"}]}\n')
    with FakeSlack() as fake, FileServer(tmp_path / "www") as files:
        env = {
            "SLACK_BOT_TOKEN": fake.bot_token,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": fake.api_url,
            "FTBOT_DATA_DIR": str(tmp_path / "data"),
            "FTBOT_POLL_SECONDS": "0.5",
            "FTBOT_SLACK_UPDATES_PER_MINUTE": "600",
            "FTBOT_APPROVERS": APPROVER,
            "FTBOT_DATA_URL_HOSTS": files.host,
            "FTBOT_METRICS_PORT": str(free_port()),
            "FTBOT_LOG_FORMAT": "json",
            "FTBOT_LOG_LEVEL": "INFO",
            "FTBOT_ONCALL": ONCALL,
        }
        yield fake, files, env


def _store(env: dict[str, str]) -> Any:
    return create_engine(f"sqlite:///{Path(env['FTBOT_DATA_DIR']) / 'ftbot.db'}")


def _one(engine: Any, sql: str, **params: object) -> Any:
    with engine.connect() as c:
        return c.execute(text(sql), params).scalar()


def _submit(serve: ServeProcess, fake: FakeSlack, url: str, extra: str = "") -> None:
    body = slash_body(
        f"submit --model ftbot-tiny --data {url} {extra}".strip(),
        user=MEMBER,
        channel=CHANNEL,
        response_url=fake.response_url(),
    )
    assert serve.post(body) == 200


def _click(serve: ServeProcess, fake: FakeSlack, action: str, target: str, user: str = APPROVER) -> None:
    payload = block_action(action, target, user=user, channel=CHANNEL, response_url=fake.response_url())
    assert serve.post(payload_body(payload)) == 200


def test_metrics_move_through_a_lifecycle_and_every_log_line_is_json(
    world: tuple[FakeSlack, FileServer, dict[str, str]], tmp_path: Path
) -> None:
    fake, files, env = world
    env |= {
        "FTBOT_BACKEND_FACTORY": "tests.fakes.shared_backend:build",
        "FTBOT_TEST_SHARED_TIMING": "0.3,1,0.3",
    }
    port = int(env["FTBOT_METRICS_PORT"])
    serve = ServeProcess(env, tmp_path)
    engine = _store(env)
    try:
        serve.start()
        before = scrape(port)
        assert value(before, "ftbot_build_info") == 1
        assert value(before, "ftbot_endpoints_live") == 0

        _submit(serve, fake, files.url("train.jsonl"))
        until(lambda: _one(engine, "SELECT count(*) FROM jobs WHERE state='succeeded'") == 1, 60, "the job")
        job = _one(engine, "SELECT id FROM jobs")
        _click(serve, fake, Action.DEPLOY, job)
        until(lambda: _one(engine, "SELECT count(*) FROM endpoints WHERE state='ready'") == 1, 30, "deploy")
        live = scrape(port)
        endpoint = _one(engine, "SELECT name FROM endpoints")
        _click(serve, fake, Action.TEAR_DOWN, endpoint)
        until(lambda: _one(engine, "SELECT state FROM endpoints") == "deleted", 30, "the tear down")
        until(lambda: value(scrape(port), "ftbot_outbox_pending") == 0, 90, "the outbox to drain")
        after = scrape(port)
    finally:
        serve.stop()
        engine.dispose()

    assert value(live, "ftbot_endpoints_live", backend="local") == 1
    assert value(after, "ftbot_endpoints_live") == 0
    assert value(after, "ftbot_jobs_finished_total", state="succeeded") == 1
    assert value(after, "ftbot_jobs", state="succeeded") == 1
    for surface, least in (("command", 1), ("action", 2)):
        assert value(after, "ftbot_requests_total", surface=surface, outcome="ok") >= least
        assert value(after, "ftbot_ack_seconds_count", surface=surface) >= least
        assert value(after, "ftbot_ack_seconds_count", surface=surface) > value(
            before, "ftbot_ack_seconds_count", surface=surface
        )
    # Slack calls from both processes: the card is posted by the scheduler process
    assert value(after, "ftbot_slack_api_calls_total", method="chat.postMessage", result="ok") >= 1
    assert value(after, "ftbot_slack_api_calls_total", method="chat.update", result="ok") >= 1
    assert value(after, "ftbot_backend_calls_total", operation="submit_job", result="ok") == 1
    assert value(after, "ftbot_backend_calls_total", operation="get_job", result="ok") >= 1
    assert value(after, "ftbot_backend_call_seconds_count", operation="deploy_model") == 1
    assert value(after, "ftbot_scheduler_last_tick_timestamp_seconds") > 0
    assert "ftbot_scheduler_tick_lag_seconds" in after
    assert "ftbot_outbox_oldest_seconds" in after

    records = json_lines(serve.log)
    assert records, "serve logged nothing"
    for record in records:
        assert {"time", "level", "logger", "message"} <= record.keys()
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record["time"])
    # lines logged while a request is handled carry its workspace and user
    assert any(r.get("team_id") == "T1" and r.get("user") == MEMBER for r in records)
    assert all(r.get("ref") for r in records if r.get("user")), "a request's line without its ref"
    assert fake.bot_token not in serve.log.read_text()


def _worker_pid(data_dir: Path, job: str) -> int | None:
    pid_file = data_dir / "local" / "jobs" / job / "pid"
    for candidate in data_dir.rglob("pid"):
        if candidate.parent.name == job:
            pid_file = candidate
    try:
        return int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None


def _pages(fake: FakeSlack) -> list[Message]:
    with fake._lock:
        return [m for m in fake.messages.values() if f"<!subteam^{ONCALL}>" in m.text]


def _message(fake: FakeSlack, ts: str) -> Message:
    with fake._lock:
        return next(m for m in fake.messages.values() if m.ts == ts)


def test_a_killed_training_worker_pages_the_oncall_once_and_acknowledge_records_who(
    world: tuple[FakeSlack, FileServer, dict[str, str]], tmp_path: Path
) -> None:
    fake, files, env = world
    serve = ServeProcess(env, tmp_path)
    engine = _store(env)
    data_dir = Path(env["FTBOT_DATA_DIR"])
    try:
        serve.start()
        # the user's mistake: a dataset with no assistant message is refused, and nobody is paged
        _submit(serve, fake, files.url("bad.jsonl"))
        until(
            lambda: any("nothing was submitted" in r.get("text", "") for r in fake.responses), 30, "refusal"
        )

        _submit(serve, fake, files.url("long.jsonl"), "--epochs 25 --batch-size 4")
        until(lambda: _one(engine, "SELECT count(*) FROM jobs WHERE state='running'") == 1, 120, "training")
        job = _one(engine, "SELECT id FROM jobs")
        until(lambda: _worker_pid(data_dir, job) is not None, 30, "the worker's pid")
        pid = _worker_pid(data_dir, job)
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        until(lambda: _one(engine, "SELECT state FROM jobs") == "failed", 60, "the job to fail")
        until(lambda: len(_pages(fake)) == 1, 30, "the page")
        page = _pages(fake)[0]
        card_ts = _one(engine, "SELECT ts FROM status_messages WHERE job_id=:j", j=job)
        assert page.channel == CHANNEL and page.thread_ts == card_ts
        ref = re.search(r"\(ref ([0-9a-f]+)\)", page.text)
        assert ref, page.text
        assert "stopped unexpectedly" in page.text
        assert block(page.blocks, B.ONCALL_ACTIONS)["elements"][0]["action_id"] == Action.ONCALL_ACKNOWLEDGE

        # the scheduler records where it paged right after Slack's answer; a click needs that record
        until(
            lambda: _one(engine, "SELECT posts FROM incidents") not in (None, "[]"), 30, "the page recorded"
        )
        _click(serve, fake, Action.ONCALL_ACKNOWLEDGE, ref.group(1), user=MEMBER)
        until(lambda: _message(fake, page.ts).edits >= 1, 90, "the page to be edited")
        taken = _message(fake, page.ts)
        assert f"<@{MEMBER}>" in block(taken.blocks, B.ONCALL_TAKEN)["elements"][0]["text"]
        assert _one(engine, "SELECT acknowledged_by FROM incidents") == MEMBER
        audited = _one(engine, "SELECT actor FROM audit_log WHERE action='oncall_acknowledge'")
        assert audited == MEMBER
        until(lambda: f'"ref": "{ref.group(1)}"' in serve.log.read_text(), 5)  # every request has a ref
    finally:
        serve.stop()
        engine.dispose()
    assert len(_pages(fake)) == 0 and _message(fake, page.ts).edits == 1  # one message, taken once
    assert len([m for m in fake.messages.values() if "ref " + ref.group(1) in m.text]) == 1
    records = json_lines(serve.log)
    assert any(r.get("ref") == ref.group(1) and r.get("job_id") == job for r in records)


@pytest.mark.parametrize("role", ["web", "scheduler"])
def test_a_serve_runs_one_role_for_a_cluster(
    world: tuple[FakeSlack, FileServer, dict[str, str]], tmp_path: Path, role: str
) -> None:
    fake, _, env = world
    serve = ServeProcess(env | {"FTBOT_ROLE": role}, tmp_path)
    try:
        serve.start()
        processes = len(serve.family())
        status = serve.post(
            slash_body("help", user=MEMBER, channel=CHANNEL, response_url=fake.response_url())
        )
        scraped = scrape(int(env["FTBOT_METRICS_PORT"]))
    finally:
        serve.stop()
    if role == "web":  # Slack only: no scheduler process beside it
        assert processes == 1 and status == 200
    else:  # the scheduler process, /healthz and /metrics; no Slack requests
        assert processes >= 2 and status == 404
    assert value(scraped, "ftbot_build_info") == 1
    json_lines(serve.log)
