"""Per-workspace settings in OAuth mode, over signed HTTP from two workspaces against the Slack stand-in:
`/finetune config` (installer bootstrap, approvers only, audited), allowed channels per workspace, App
Home's Settings section for approvers, and the scheduler's and doctor's use of each workspace's token."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.demo.payloads import slash_body
from bot.store import scope
from commands.models import JobState
from commands.records import Actor, LaunchRecord, Surface
from tests.bot.runtime.test_oauth import OAUTH, event, install, tokens_used, wait_until
from tests.commands.lifecycle.records import job_record
from tests.support.world import World, open_world

INSTALLER = "UINSTALLER"  # the stand-in's oauth.v2.access names this user as the installer


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    # no FTBOT_APPROVERS: each workspace starts without approvers, as a fresh OAuth install does
    with open_world(tmp_path, FTBOT_APPROVERS="", **OAUTH) as w:  # type: ignore[arg-type]
        yield w


def slash(world: World, text: str, team: str, user: str, channel: str = "C111") -> str:
    body = slash_body(text, team=team, user=user, channel=channel, response_url=world.fake.response_url())
    before = len(world.fake.responses)
    r = world.bot.post(body)
    assert r.status == 200, r.body
    immediate = json.dumps(r.json()) if r.body else ""
    if '"error"' in immediate or "not enabled" in immediate:  # refused in the ack itself
        return immediate
    deadline = time.monotonic() + 10
    while len(world.fake.responses) == before and time.monotonic() < deadline:
        time.sleep(0.02)
    if len(world.fake.responses) == before:
        return immediate
    reply = world.fake.responses[-1]
    return f"{reply.get('text', '')} {json.dumps(reply.get('blocks', []))}"


def audit(world: World, team: str) -> list[tuple[str, str, str, str]]:
    with scope.within(scope.Workspace(team)), world.services.store.transaction() as tx:
        return [(e.actor, e.action, e.target, e.result) for e in tx.audit_entries()]


def test_the_installer_names_the_first_approver_then_only_approvers_change_settings(world: World) -> None:
    install(world, "TA")
    install(world, "TB")
    shown = slash(world, "config", "TA", "UNOBODY01")
    assert "nobody yet" in shown and "config_settings" in shown
    # a member who did not install ftbot cannot bootstrap; the installer can (an escaped mention)
    refused = slash(world, "config approvers add <@UALICE01|alice>", "TA", "UNOBODY01")
    assert "approvers" in refused.lower() and "Added" not in refused
    added = slash(world, "config approvers add <@UALICE01|alice>", "TA", INSTALLER)
    assert "Added" in added and "<@UALICE01>" in added
    # now TA has an approver: the installer is no longer enough, the approver is
    assert "Added" not in slash(world, "config approvers add UMALLORY1", "TA", INSTALLER)
    assert "Added" in slash(world, "config approvers add <!subteam^SOPS01|@ops>", "TA", "UALICE01")
    assert "Removed" in slash(world, "config approvers remove SOPS01", "TA", "UALICE01")
    assert "not in the list" in slash(world, "config approvers remove SOPS01", "TA", "UALICE01")
    assert "is not a user" in slash(world, "config approvers add @alice", "TA", "UALICE01")
    assert world.services.workspace_settings.get("TA").approvers == ("UALICE01",)
    # TB is untouched: still no approvers, and TA's approver is nobody there
    assert world.services.workspace_settings.get("TB").approvers == ()
    assert "Added" not in slash(world, "config approvers add UALICE01", "TB", "UALICE01")
    # every change and refusal is audited under its own workspace only
    log_a = audit(world, "TA")
    assert ("UNOBODY01", "config_approvers_add", "UALICE01", "denied") in log_a
    assert (INSTALLER, "config_approvers_add", "UALICE01", "ok") in log_a
    assert ("UALICE01", "config_approvers_remove", "SOPS01", "ok") in log_a
    assert all(entry[1] != "config_approvers_add" or entry[0] != "UALICE01" or entry[3] != "ok"
               for entry in audit(world, "TB"))  # fmt: skip


def test_allowed_channels_are_per_workspace(world: World) -> None:
    install(world, "TA")
    install(world, "TB")
    assert "Added" in slash(world, "config approvers add UALICE01", "TA", INSTALLER)
    assert "Added" in slash(world, "config channels add <#CML01|ml>", "TA", "UALICE01")
    assert "not enabled" in slash(world, "list", "TA", "UALICE01", channel="COTHER1")
    assert "not enabled" not in slash(world, "list", "TA", "UALICE01", channel="CML01")
    assert "not enabled" not in slash(world, "list", "TB", "UBOB01", channel="COTHER1")  # TB: no list
    # an approver can fix the list from a channel that is not (yet) allowed
    assert "Added" in slash(world, "config channels add COTHER1", "TA", "UALICE01", channel="COTHER1")
    assert "not enabled" not in slash(world, "list", "TA", "UALICE01", channel="COTHER1")
    # anyone else gets past the channel check only to be refused
    assert "Only this workspace's approvers" in slash(
        world, "config channels remove CML01", "TA", "UBOB01", channel="CX1"
    )


def test_app_home_shows_the_settings_to_approvers_only(world: World) -> None:
    token_a = install(world, "TA")
    assert "Added" in slash(world, "config approvers add UALICE01", "TA", INSTALLER)
    for user in ("UALICE01", "UBOB01"):
        before = len(world.fake.calls_to("views.publish"))
        assert event(world, "app_home_opened", "TA", user=user, tab="home") == 200
        wait_until(lambda b=before: len(world.fake.calls_to("views.publish")) > b)  # type: ignore[misc]
    published = world.fake.calls_to("views.publish")[-2:]
    views = [
        c.body["view"] if isinstance(c.body["view"], dict) else json.loads(c.body["view"]) for c in published
    ]
    blocks = [{b.get("block_id") for b in view["blocks"]} for view in views]
    assert "home_settings" in blocks[0] and "home_settings" not in blocks[1]
    assert tokens_used(world, "views.publish")[-2:] == [token_a, token_a]


def test_group_approvers_are_expanded_with_the_workspace_token(world: World) -> None:
    token_a = install(world, "TA")
    install(world, "TB")
    world.fake.usergroups["SOPS01"] = ["UCAROL01"]
    assert "Added" in slash(world, "config approvers add SOPS01", "TA", INSTALLER)
    assert "Added" in slash(world, "config channels add C111", "TA", "UCAROL01")  # approver via the group
    assert tokens_used(world, "usergroups.users.list") == [token_a]
    assert "Added" not in slash(world, "config channels add C111", "TB", "UCAROL01")


def test_interrupted_launch_notices_use_the_workspace_token(world: World) -> None:
    token_b = install(world, "TB")
    now = datetime.now(UTC)
    launch = LaunchRecord(
        id="launch-b", team_id="TB", channel_id="CB1", user_id="UBOB01", owner="gone-host-1-abc",
        surface=Surface.SLASH, what="/finetune submit …", created_at=now - timedelta(hours=2),
        updated_at=now - timedelta(hours=2),
    )  # fmt: skip
    with world.services.store.transaction() as tx:
        tx.begin_launch(launch)
    assert world.services.launches.sweep() == 1
    posted = [c for c in world.fake.calls_to("chat.postMessage") if c.body.get("channel") == "CB1"]
    assert len(posted) == 1 and tokens_used(world, "chat.postMessage")[-1] == token_b


def test_on_call_pages_use_the_workspace_token(tmp_path: Path) -> None:
    from bot.scheduling.oncall import Oncall, SchedulerHealth
    from bot.scheduling.oncall_ids import OncallIds

    with open_world(tmp_path, FTBOT_APPROVERS="", FTBOT_ONCALL="UONCALL1", **OAUTH) as world:  # type: ignore[arg-type]
        token_a = install(world, "TA")
        s = world.services
        with scope.within(scope.Workspace("TA")), s.store.transaction() as tx:  # a live job in CA1
            tx.add_job(job_record("job-a", channel="CA1").model_copy(update={"state": JobState.RUNNING}))
        oncall = Oncall(
            oncall=OncallIds(default="UONCALL1"), store=s.store, web=s.web, clock=s.clock,
            health=SchedulerHealth(), credential_problem=lambda: "401 from the backend",
            workspaces=s.workspaces,
        )  # fmt: skip
        assert oncall.sweep() == 1
        pages = [c for c in world.fake.calls_to("chat.postMessage") if "UONCALL1" in c.body.get("text", "")]
        assert pages and all(c.headers.get("authorization") == f"Bearer {token_a}" for c in pages)


def test_doctor_checks_the_calling_workspace_token(world: World) -> None:
    token_a = install(world, "TA")
    assert "Added" in slash(world, "config approvers add UALICE01", "TA", INSTALLER)
    before = len(tokens_used(world, "auth.test"))
    report = slash(world, "doctor", "TA", "UALICE01")
    assert "this workspace" in report and "invalid_auth" not in report
    assert token_a in tokens_used(world, "auth.test")[before:]
    assert "Only approvers" in slash(world, "doctor", "TA", "UBOB01")


def test_leaving_an_org_workspace_and_uninstalls_are_audited(world: World) -> None:
    install(world, None, enterprise="E1")
    install(world, "TA")
    assert event(world, "team_access_revoked", None, "E1", team_ids=["T2"]) == 200
    wait_until(lambda: any(a[1] == "uninstall" for a in audit(world, "T2")))
    org = world.services.installations
    assert org is not None
    assert org.find_bot(enterprise_id="E1", team_id=None, is_enterprise_install=True) is not None  # kept
    assert event(world, "app_uninstalled", "TA") == 200
    wait_until(lambda: ("slack", "uninstall", "TA", "ok") in audit(world, "TA"))


def test_each_workspace_pages_its_own_on_call(tmp_path: Path) -> None:
    """FTBOT_ONCALL=TEAM=ID,…: a failure in TA mentions TA's on-call with TA's token, TB's in TB; a
    workspace with no entry and no default is not paged (a user id means nothing in another workspace)."""
    from bot.scheduling.oncall import Incidents, Oncall, SchedulerHealth

    ids = "TA=SONCALLA,TB=UONCALLB"
    with open_world(tmp_path, FTBOT_APPROVERS="", FTBOT_ONCALL=ids, **OAUTH) as world:  # type: ignore[arg-type]
        tokens = {team: install(world, team) for team in ("TA", "TB", "TC")}
        s = world.services
        assert s.settings.oncall.teams == {"TA": "SONCALLA", "TB": "UONCALLB"}
        for team in ("TA", "TB", "TC"):  # a live job in each workspace's channel
            with scope.within(scope.Workspace(team)), s.store.transaction() as tx:
                job = job_record(f"job-{team.lower()}", channel=f"C{team}1")
                tx.add_job(job.model_copy(update={"state": JobState.RUNNING, "team_id": team}))
        oncall = Oncall(
            oncall=s.settings.oncall, store=s.store, web=s.web, clock=s.clock, health=SchedulerHealth(),
            credential_problem=lambda: "401 from the backend", workspaces=s.workspaces,
        )  # fmt: skip
        assert oncall.sweep() == 1  # one process-level incident, posted where an on-call is named
        posts = {c.body["channel"]: c for c in world.fake.calls_to("chat.postMessage")}
        assert "<!subteam^SONCALLA>" in posts["CTA1"].body["text"]
        assert posts["CTA1"].headers.get("authorization") == f"Bearer {tokens['TA']}"
        assert "<@UONCALLB>" in posts["CTB1"].body["text"]
        assert posts["CTB1"].headers.get("authorization") == f"Bearer {tokens['TB']}"
        assert "CTC1" not in posts  # TC has no on-call

        # Acknowledge from TB: each workspace's message is edited with its own token
        incidents = Incidents(s.store, s.clock, s.settings.oncall)
        with s.store.transaction() as tx:
            (incident,) = tx.incidents.open_incidents()
        taken, at = incidents.acknowledge(Actor(user_id="UONCALLB", team_id="TB"), incident.ref)
        incidents.mark_taken(s.workspaces, taken, "UONCALLB", at)
        edits = {c.body["channel"]: c for c in world.fake.calls_to("chat.update")}
        assert set(edits) == {"CTA1", "CTB1"}
        for channel, team in (("CTA1", "TA"), ("CTB1", "TB")):
            assert edits[channel].headers.get("authorization") == f"Bearer {tokens[team]}"
            assert "acknowledged by <@UONCALLB>" in edits[channel].body["text"]
