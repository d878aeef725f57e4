"""The order and names of the checks, what applies to which backend, the error boundary, and what
``ftbot serve`` runs at start and ``/healthz`` shows."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from slack_bolt.async_app import AsyncApp
from starlette.testclient import TestClient

from bot.demo.slack import FakeSlack
from bot.doctor.probe import Probe
from bot.doctor.runner import NAMES, CheckSpec, run_doctor
from bot.doctor.slack_check import BOT_SCOPES
from bot.doctor.startup import StartupDoctor
from bot.runtime.server import HealthState, build_asgi
from bot.store.db import Database
from commands.doctor import Check, Status, warned
from tests.bot.doctor.conftest import settings_for
from tests.support.harness import BOT_TOKEN

NINE = ("settings", "credential", "subscription", "providers", "project", "role", "models", "slack", "store")


def test_the_nine_checks_come_first_in_order_with_stable_names() -> None:
    assert NAMES[:9] == NINE
    assert NAMES[9:] == ("local_models", "prices")


def test_local_backend_skips_every_azure_check_and_the_json_shape(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    Database(settings.resolved_database_url).migrate()
    with FakeSlack() as fake:
        fake.oauth_scopes = ",".join(BOT_SCOPES)
        report = run_doctor(Probe.from_settings(settings_for(tmp_path, SLACK_API_URL=fake.api_url)))
    body = report.to_json()
    assert set(body) == {"ok", "checks"} and body["ok"] is True
    assert [c["name"] for c in body["checks"]] == list(NAMES)
    assert all(set(c) == {"name", "status", "detail", "fix"} for c in body["checks"])
    statuses = {c["name"]: c["status"] for c in body["checks"]}
    assert [statuses[n] for n in NINE] == ["pass", *["skip"] * 6, "pass", "pass"]
    assert report.get("credential").detail == "not used by the local backend"


def test_settings_that_do_not_load_fail_first_and_the_rest_skip() -> None:
    report = run_doctor(Probe.unreadable(["FTBOT_BACKEND: Input should be 'local', 'azure' or 'foundry'"]))
    assert report.get("settings").status is Status.FAIL and "FTBOT_BACKEND" in report.get("settings").detail
    assert all(c.status is Status.SKIP for c in report.checks[1:])
    assert not report.ok


def test_a_check_that_crashes_fails_with_its_reason_and_no_secret(tmp_path: Path) -> None:
    def boom(probe: Probe) -> Check:
        raise RuntimeError(f"upstream said: token {BOT_TOKEN} refused\nsecond line")

    spec = CheckSpec("store", boom)
    report = run_doctor(Probe.from_settings(settings_for(tmp_path)), checks=[spec])
    check = report.get("store")
    assert check.status is Status.FAIL
    assert check.detail == "could not check: RuntimeError: upstream said: token [redacted] refused"


def test_a_warning_leaves_the_run_ok(tmp_path: Path) -> None:
    spec = CheckSpec("settings", lambda probe: warned("settings", "worth knowing"))
    report = run_doctor(Probe.from_settings(settings_for(tmp_path)), checks=[spec])
    assert report.ok and report.failed == []


def test_serve_start_runs_the_cheap_checks_logs_them_and_healthz_stays_200(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = settings_for(tmp_path)  # Slack at 127.0.0.1:9: the slack check fails
    Database(settings.resolved_database_url).migrate()
    doctor = StartupDoctor(Probe.from_settings(settings))
    assert doctor.snapshot() == {"ran": False, "ok": None, "failed": []}
    with caplog.at_level(logging.INFO, logger="ftbot.doctor"):
        doctor.start().join(timeout=30)
    snapshot = doctor.snapshot()
    assert snapshot["ran"] is True and snapshot["ok"] is False
    assert [c["name"] for c in snapshot["failed"]] == ["slack"]
    assert "doctor ✗ slack: Slack's Web API did not answer" in caplog.text
    assert (
        "doctor — local_models: not run at start" in caplog.text
    )  # the expensive ones wait for ftbot doctor
    assert BOT_TOKEN not in caplog.text

    health = HealthState(lambda: True, lambda: True, "http")
    health.doctor = doctor.snapshot
    app = build_asgi(AsyncApp(signing_secret="s", token="xoxb-x"), health, None)
    with TestClient(app) as client:
        r = client.get("/healthz")
    assert r.status_code == 200 and r.json()["ok"] is True
    assert r.json()["doctor"]["failed"][0]["name"] == "slack"
