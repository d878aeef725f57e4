"""The cheap checks ``ftbot serve`` runs when it starts: in a daemon thread (a slow credential chain never
delays the first ack or the shutdown), each verdict logged, the failed ones reported by ``/healthz`` under
``"doctor"``. A failed Azure check does not stop the bot: Slack users still need answers."""

from __future__ import annotations

import logging
import threading
from typing import Any

from bot.doctor.probe import Probe
from bot.doctor.runner import run_doctor
from commands.doctor import MARKS, Report, Status

log = logging.getLogger("ftbot.doctor")
#: a failed check is a warning: the process itself is fine, and Slack users still get answers
LEVELS = {Status.PASS: logging.INFO, Status.SKIP: logging.INFO, Status.WARN: logging.WARNING}


class StartupDoctor:
    def __init__(self, probe: Probe) -> None:
        self._probe = probe
        self._report: Report | None = None
        self._error: str | None = None

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, name="ftbot-doctor", daemon=True)
        thread.start()
        return thread

    def run(self) -> Report | None:
        try:
            report = run_doctor(self._probe, cheap_only=True)
        except Exception as e:  # the checks have their own boundary; this is the runner's
            log.exception("the start-up checks could not run")
            self._error = type(e).__name__
            return None
        for check in report.checks:
            fix = f" Fix: {check.fix}" if check.fix and check.status is not Status.PASS else ""
            log.log(
                LEVELS.get(check.status, logging.WARNING),
                "doctor %s %s: %s.%s",
                MARKS[check.status],
                check.name,
                check.detail,
                fix,
            )
        self._report = report
        return report

    def snapshot(self) -> dict[str, Any]:
        """What ``/healthz`` shows: ``{"ran", "ok", "failed": [{"name", "status", "detail", "fix"}]}``;
        ``ok`` is null until the checks have run."""
        report = self._report
        if report is None:
            return {"ran": False, "ok": None, "failed": [], **({"error": self._error} if self._error else {})}
        return {"ran": True, "ok": report.ok, "failed": [c.to_json() for c in report.failed]}
