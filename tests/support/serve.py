"""``ftbot serve`` (and other ``ftbot`` commands) as real processes: a free loopback port, a clean
environment, start, wait for ``/healthz``, SIGKILL, SIGTERM, signed requests."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.demo.payloads import sign

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def exited(pid: int) -> bool:
    """Whether a process has ended: gone, or a zombie its parent has yet to reap (Linux /proc)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def ftbot_argv(*args: str) -> list[str]:
    """The ``ftbot`` command line, run by this interpreter (no console script needed)."""
    return [sys.executable, "-c", "from bot.cli.app import main; main()", *args]


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without any Slack, ftbot or Azure setting, this checkout importable,
    plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "FTBOT_", "AZURE_"))}
    env["PYTHONPATH"] = str(REPO)
    env.update(extra or {})
    return env


def health(url: str) -> dict[str, Any] | None:
    """``/healthz``'s report when it answers 200, else None."""
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=2) as r:
            return dict(json.loads(r.read())) if r.status == 200 else None
    except (OSError, ValueError):
        return None


def wait_healthy(
    url: str,
    proc: subprocess.Popen[Any],
    log: Path,
    *,
    timeout: float = 90,
    ready: Callable[[dict[str, Any]], bool] = lambda report: True,
) -> dict[str, Any]:
    """Wait until ``/healthz`` answers 200 with a report ``ready`` accepts; fail at once if the process
    exits, showing the end of its log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"exited with {proc.returncode}: {_tail(log)}")
        report = health(url)
        if report is not None and ready(report):
            return report
        time.sleep(0.05)
    raise AssertionError(f"{url} did not become healthy in {timeout:g}s: {_tail(log)}")


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:] if log.exists() else "(no log)"


@dataclass
class ServeProcess:
    """``ftbot serve`` on one port, store and data dir; started again after a kill on the same port.
    Its stdout and stderr go to ``workdir/<name>.log``, appended to across starts."""

    env: dict[str, str]
    workdir: Path
    name: str = "serve"
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    kills: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.workdir / f"{self.name}.log"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def launch(self) -> None:
        """Start the process without waiting for it."""
        assert self.proc is None or self.proc.poll() is not None, "already running"
        with self.log.open("ab") as log:
            log.write(f"--- start {self.starts + 1} ---\n".encode())
            self.proc = subprocess.Popen(
                ftbot_argv("serve", "--port", str(self.port)),
                env=clean_env(self.env),
                cwd=self.workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.starts += 1

    def wait_healthy(
        self, timeout: float = 90, ready: Callable[[dict[str, Any]], bool] = lambda report: True
    ) -> dict[str, Any]:
        assert self.proc is not None
        return wait_healthy(self.url, self.proc, self.log, timeout=timeout, ready=ready)

    def start(self, timeout: float = 90) -> None:
        """Start and wait until ``/healthz`` says 200 (the web process and its scheduler are up)."""
        self.launch()
        self.wait_healthy(timeout)

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)  # reaped: its pid is free, as after a real crash
        self.kills += 1

    def stop(self, timeout: float = 30) -> int | None:
        """SIGTERM, then SIGKILL if it has not exited within ``timeout``. Returns the exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def post(self, body: str, content_type: str = "application/x-www-form-urlencoded") -> int | None:
        """A request signed with the process's SLACK_SIGNING_SECRET; None when nothing answers."""
        headers = {"Content-Type": content_type, **sign(self.env["SLACK_SIGNING_SECRET"], body)}
        req = urllib.request.Request(f"{self.url}/slack/events", body.encode(), headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return int(r.status)
        except urllib.error.HTTPError as e:
            return int(e.code)
        except OSError:
            return None

    def family(self) -> set[int]:
        """The serve process and its descendants (the scheduler runs in a child process)."""
        parents: dict[int, int] = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(stat.parent.name)] = int(fields[1])
        family = {self.pid}
        grew = True
        while grew:
            kids = {pid for pid, ppid in parents.items() if ppid in family} - family
            family |= kids
            grew = bool(kids)
        return family

    def signal_all(self, sig: signal.Signals) -> None:
        for pid in self.family():
            os.kill(pid, sig)

    def owns(self, owner: str | None) -> bool:
        """Whether a lease owner (``host-pid-random``) is this process or one of its children."""
        return owner is not None and int(owner.split("-")[-2]) in self.family()
