"""Check 7 against the Slack stand-in: auth.test, the ``x-oauth-scopes`` header against manifest.yaml's
bot scopes, membership of the allowed channels."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from bot.demo.slack import FakeSlack
from bot.doctor.probe import Probe
from bot.doctor.slack_check import BOT_SCOPES, check_slack
from commands.doctor import Status
from tests.bot.doctor.conftest import settings_for
from tests.support.harness import BOT_TOKEN

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as f:
        f.oauth_scopes = ",".join(BOT_SCOPES) + ",users:read"
        yield f


def probe(tmp_path: Path, fake: FakeSlack, **extra: str) -> Probe:
    return Probe.from_settings(settings_for(tmp_path, SLACK_API_URL=fake.api_url, **extra))


def test_bot_scopes_are_manifest_yamls() -> None:
    manifest = yaml.safe_load((REPO / "manifest.yaml").read_text())
    assert tuple(manifest["oauth_config"]["scopes"]["bot"]) == BOT_SCOPES


def test_a_good_token_with_every_scope_passes(tmp_path: Path, fake: FakeSlack) -> None:
    check = check_slack(probe(tmp_path, fake))
    assert check.status is Status.PASS
    assert (
        check.detail == f"bot ftbot in workspace Test; all {len(BOT_SCOPES)} scopes of manifest.yaml granted"
    )
    assert fake.calls_to("auth.test")


def test_a_bad_token_fails_without_echoing_it(tmp_path: Path, fake: FakeSlack) -> None:
    check = check_slack(probe(tmp_path, fake, SLACK_BOT_TOKEN="xoxb-revoked-0000"))
    assert check.status is Status.FAIL and "invalid_auth" in check.detail
    assert "xoxb-revoked" not in check.detail + (check.fix or "") and BOT_TOKEN not in check.detail
    assert "SLACK_BOT_TOKEN" in (check.fix or "")


def test_a_missing_scope_fails_naming_it(tmp_path: Path, fake: FakeSlack) -> None:
    fake.oauth_scopes = "commands,chat:write,files:read,files:write,usergroups:read"
    check = check_slack(probe(tmp_path, fake))
    assert check.status is Status.FAIL
    assert check.detail.endswith("not granted: channels:history, groups:history")
    assert "reinstall" in (check.fix or "")


def test_no_scopes_header_is_a_warning(tmp_path: Path, fake: FakeSlack) -> None:
    fake.oauth_scopes = None
    check = check_slack(probe(tmp_path, fake))
    assert check.status is Status.WARN and "did not say which scopes" in check.detail


def test_the_bot_must_be_in_the_allowed_channels(tmp_path: Path, fake: FakeSlack) -> None:
    fake.outside_channels = {"CNOTIN1"}
    check = check_slack(probe(tmp_path, fake, FTBOT_ALLOWED_CHANNELS="CJOBS1,CNOTIN1"))
    assert check.status is Status.FAIL and "CNOTIN1" in check.detail and "CJOBS1" not in check.detail
    assert "/invite" in (check.fix or "")


def test_slack_not_answering_fails(tmp_path: Path) -> None:
    check = check_slack(Probe.from_settings(settings_for(tmp_path)))  # 127.0.0.1:9: nothing listens
    assert check.status is Status.FAIL and "did not answer" in check.detail
