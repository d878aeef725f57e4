"""OAuth mode end to end on the real HTTP stack against the Slack stand-in: the install flow, a token per
workspace found per request (cached), org-wide installs, token rotation in the scheduler, uninstall."""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.demo.payloads import slash_body
from bot.store import scope
from bot.store.installations import SqlInstallationStore
from tests.commands.lifecycle.records import job_record
from tests.support.world import World, open_world

OAUTH = {
    "SLACK_BOT_TOKEN": None,
    "SLACK_CLIENT_ID": "111.222",
    "SLACK_CLIENT_SECRET": "client-secret-value",
    "SLACK_STATE_SECRET": "state-secret-value",
}


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with open_world(tmp_path, **OAUTH) as w:  # type: ignore[arg-type]
        yield w


def get(world: World, path: str, cookie: str | None = None) -> tuple[int, dict[str, str], str]:
    url = world.bot.url + path  # type: ignore[attr-defined]
    req = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, dict(r.headers.items()), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers.items()), e.read().decode()


def install(world: World, team: str | None, enterprise: str | None = None, rotating: bool = False) -> str:
    """The whole OAuth install: the install page, Slack's redirect back with a code. The bot token."""
    status, headers, page = get(world, "/slack/install")
    assert status == 200
    state = re.search(r"slack-app-oauth-state=([^;]+)", headers["set-cookie"]).group(1)  # type: ignore[union-attr]
    assert f"state={state}" in page  # the "Add to Slack" link carries it
    token = world.fake.grant(f"code-{team}", team, enterprise, rotating)
    query = urllib.parse.urlencode({"code": f"code-{team}", "state": state})
    status, _, _ = get(world, f"/slack/oauth_redirect?{query}", cookie=f"slack-app-oauth-state={state}")
    assert status == 200
    return token


def installations(world: World) -> SqlInstallationStore:
    found = world.services.installations
    assert found is not None
    return found


def add_job(
    world: World, job_id: str, team: str, enterprise: str | None = None, channel: str = "C111"
) -> None:
    with scope.within(scope.Workspace(team, enterprise)), world.services.store.transaction() as tx:
        tx.add_job(job_record(job_id, channel=channel))


def slash(world: World, text: str, team: str, enterprise: str | None = None) -> str:
    fields = dict(urllib.parse.parse_qsl(slash_body(text, team=team, response_url=world.fake.response_url())))
    if enterprise:
        fields |= {"enterprise_id": enterprise, "is_enterprise_install": "true"}
    before = len(world.fake.responses)
    r = world.bot.post(urllib.parse.urlencode(fields))
    assert r.status == 200, r.body
    deadline = time.monotonic() + 10
    while len(world.fake.responses) == before and time.monotonic() < deadline:
        time.sleep(0.02)
    if len(world.fake.responses) == before:
        return ""
    reply = world.fake.responses[-1]
    return f"{reply.get('text', '')} {json.dumps(reply.get('blocks', []))}"


def event(world: World, kind: str, team: str | None, enterprise: str | None = None, **extra: Any) -> int:
    org = team is None
    body = {
        "type": "event_callback",
        "team_id": team or enterprise,
        "enterprise_id": enterprise,
        "api_app_id": "A1",
        "event": {"type": kind, **extra},
        "event_id": f"Ev{time.monotonic_ns()}",
        "event_time": int(time.time()),
        "is_enterprise_install": org,
        "authorizations": [
            {"team_id": team, "enterprise_id": enterprise, "is_enterprise_install": org, "user_id": "UBOT"}
        ],
    }
    return world.bot.post(json.dumps(body), content_type="application/json").status


def wait_until(check: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


def tokens_used(world: World, method: str) -> list[str]:
    return [c.headers.get("authorization", "").removeprefix("Bearer ") for c in world.fake.calls_to(method)]


def test_install_saves_the_workspace_and_its_state_works_once(world: World) -> None:
    token = install(world, "TA")
    bot = installations(world).find_bot(enterprise_id=None, team_id="TA")
    assert bot is not None and bot.bot_token == token and bot.team_id == "TA"
    _, headers, page = get(world, "/slack/install")
    state = re.search(r"slack-app-oauth-state=([^;]+)", headers["set-cookie"]).group(1)  # type: ignore[union-attr]
    world.fake.grant("code-x", "TX")
    query = urllib.parse.urlencode({"code": "code-x", "state": state})
    assert get(world, f"/slack/oauth_redirect?{query}")[0] == 400  # no state cookie: another browser
    assert get(world, f"/slack/oauth_redirect?{query}", cookie=f"slack-app-oauth-state={state}")[0] == 200
    # a state is used once, and a forged one (not signed with SLACK_STATE_SECRET) is refused
    world.fake.grant("code-x", "TX")
    assert get(world, f"/slack/oauth_redirect?{query}", cookie=f"slack-app-oauth-state={state}")[0] != 200
    forged = urllib.parse.urlencode({"code": "code-x", "state": "abc.def"})
    assert get(world, f"/slack/oauth_redirect?{forged}", cookie="slack-app-oauth-state=abc.def")[0] != 200
    assert "client-secret-value" not in page


def test_two_workspaces_each_see_only_their_own_jobs_with_their_own_token(world: World) -> None:
    token_a, token_b = install(world, "TA"), install(world, "TB")
    installed = len(tokens_used(world, "auth.test"))  # the install checks its new token once
    add_job(world, "job-a", "TA")
    add_job(world, "job-b", "TB")
    listed_a, listed_b = slash(world, "list", "TA"), slash(world, "list", "TB")
    assert "job-a" in listed_a and "job-b" not in listed_a
    assert "job-b" in listed_b and "job-a" not in listed_b
    # guessing the other workspace's id finds nothing: status, deploy, cancel, chat, teardown
    for text in ("status job-b", "deploy job-b", "cancel job-b"):
        answer = slash(world, text, "TA")
        assert "job-b" in answer and "no job" in answer.lower(), answer
    # each workspace's requests were authorized with its own token, auth.test once per token (cached)
    slash(world, "list", "TA")
    assert sorted(tokens_used(world, "auth.test")[installed:]) == sorted([token_a, token_b])
    lookups = installations(world).lookups
    slash(world, "list", "TB")
    assert installations(world).lookups == lookups  # the ack path read no installation from the store
    assert event(world, "app_home_opened", "TB", user="UMEMBER01", tab="home") == 200
    world.fake.wait_for("views.publish")
    assert tokens_used(world, "views.publish") == [token_b]


def test_an_org_wide_install_serves_each_workspace_of_the_org(world: World) -> None:
    token = install(world, None, enterprise="E1")
    installed = len(tokens_used(world, "auth.test"))
    bot = installations(world).find_bot(enterprise_id="E1", team_id=None, is_enterprise_install=True)
    assert bot is not None and bot.team_id is None and bot.is_enterprise_install
    add_job(world, "job-1", "T1", "E1")
    add_job(world, "job-2", "T2", "E1")
    listed_1, listed_2 = slash(world, "list", "T1", "E1"), slash(world, "list", "T2", "E1")
    assert "job-1" in listed_1 and "job-2" not in listed_1
    assert "job-2" in listed_2 and "job-1" not in listed_2
    assert tokens_used(world, "auth.test")[installed:] == [token]  # once for both workspaces
    # the scheduler finds the org's token for a job of any of its workspaces
    world.settle()
    assert set(tokens_used(world, "chat.postMessage")) == {token}


def test_the_scheduler_delivers_with_each_workspace_token_and_refreshes_rotating_ones(world: World) -> None:
    install(world, "TA", rotating=True)
    token_b = install(world, "TB")
    add_job(world, "job-a", "TA", channel="CA")
    add_job(world, "job-b", "TB", channel="CB")
    world.services.workspaces.minutes = 24 * 60  # type: ignore[attr-defined] # due: refreshed before use
    world.settle()
    refreshes = [
        c for c in world.fake.calls_to("oauth.v2.access") if c.body.get("grant_type") == "refresh_token"
    ]
    assert len(refreshes) >= 1
    posted = {m.channel: m for m in world.fake.messages.values()}
    assert set(posted) == {"CA", "CB"}
    tokens = dict(zip(
        [c.body["channel"] for c in world.fake.calls_to("chat.postMessage")],
        tokens_used(world, "chat.postMessage"),
        strict=True,
    ))  # fmt: skip
    assert tokens["CB"] == token_b
    assert tokens["CA"].startswith("xoxb-TA-") and tokens["CA"] != "xoxb-TA-1"  # the refreshed token
    saved = installations(world).find_bot(enterprise_id=None, team_id="TA")
    assert saved is not None and saved.bot_token == tokens["CA"] and saved.bot_refresh_token
    assert "client-secret-value" not in json.dumps([c.body for c in world.fake.calls])


def test_uninstall_deletes_the_installation_and_stops_delivery_there(world: World) -> None:
    install(world, "TA")
    token_b = install(world, "TB")
    add_job(world, "job-a", "TA", channel="CA")
    assert event(world, "app_uninstalled", "TA") == 200
    wait_until(lambda: installations(world).find_bot(enterprise_id=None, team_id="TA") is None)
    add_job(world, "job-b", "TB", channel="CB")
    world.settle()
    assert {m.channel for m in world.fake.messages.values()} == {"CB"}  # nothing went to TA
    assert tokens_used(world, "chat.postMessage") == [token_b]
    with world.services.store.transaction() as tx:
        assert tx.get_job("job-a").team_id == "TA"  # the job stays tracked
    assert event(world, "tokens_revoked", "TB", tokens={"bot": ["UBOT"]}) == 200
    wait_until(lambda: installations(world).find_bot(enterprise_id=None, team_id="TB") is None)


def test_an_org_uninstall_deletes_the_org_install(world: World) -> None:
    install(world, None, enterprise="E1")
    assert event(world, "app_uninstalled", None, "E1") == 200
    store = installations(world)
    wait_until(lambda: store.find_bot(enterprise_id="E1", team_id=None, is_enterprise_install=True) is None)


def test_doctor_checks_the_installation_store_in_oauth_mode(world: World) -> None:
    from bot.doctor.probe import Probe
    from bot.doctor.slack_check import check_slack
    from commands.doctor import Status

    before = check_slack(Probe.from_settings(world.services.settings))
    assert before.status is Status.WARN and "no workspace" in before.detail
    install(world, "TA")
    install(world, None, enterprise="E1")
    after = check_slack(Probe.from_settings(world.services.settings))
    assert after.status is Status.PASS and "1 workspace(s) and 1 org(s)" in after.detail


def test_oauth_mode_needs_no_bot_token_and_http() -> None:
    from bot.runtime.settings import Settings

    base = {"SLACK_CLIENT_ID": "1.2", "SLACK_CLIENT_SECRET": "s", "SLACK_SIGNING_SECRET": "x"}
    oauth = Settings(_env_file=None, **base)  # type: ignore[call-arg]
    assert oauth.oauth_mode and oauth.serve_problems() == []
    assert "s" in oauth.secret_values()  # the client secret is scrubbed from logs like the tokens
    socket = Settings(_env_file=None, SLACK_APP_TOKEN="xapp-1", **base)  # type: ignore[call-arg]
    assert any("SLACK_APP_TOKEN" in p for p in socket.serve_problems())
    single = Settings(_env_file=None, SLACK_BOT_TOKEN="xoxb-1", **base)  # type: ignore[call-arg]
    assert not single.oauth_mode and single.serve_problems() == []  # a bot token: single workspace
