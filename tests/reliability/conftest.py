"""The end-to-end world for the reliability tests: the real HTTP stack (Starlette + Bolt on uvicorn) with
the Slack stand-in, a loopback file server, the store, the scheduler's work ticked by the test, and a
backend (the Protocol fake unless a test brings its own). Everything logged is captured at DEBUG, so the
secret scans read it all."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from bot.runtime.logs import SECRETS
from bot.ui.ids import Action
from commands.models import EndpointState, JobState
from commands.ports import FineTuningBackend
from tests.support.harness import BOT_TOKEN, SIGNING_SECRET
from tests.support.world import World, open_world, submit

APPROVERS = ("UAPPROVER1", "UAPPROVER2", "UAPPROVER3")
MEMBER = "UMEMBER01"
CHANNEL = "CJOBS1"

MakeWorld = Callable[..., World]


class Captured(logging.Handler):
    """Every record, formatted with its traceback, after the SecretFilter ran (as serve's handler does)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.addFilter(SECRETS)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def text(self) -> str:
        return "\n".join(self.lines)


@pytest.fixture
def logs() -> Iterator[Captured]:
    handler = Captured()
    root = logging.getLogger()
    old = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    SECRETS.add(BOT_TOKEN, SIGNING_SECRET)  # what `ftbot serve` registers at start
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(old)


@pytest.fixture
def make_world(tmp_path: Path, logs: Captured) -> Iterator[MakeWorld]:
    """``make_world(backend=None, **settings)``: one running bot per test (a second one on the same
    store is a restart)."""
    with ExitStack() as stack:

        def make(backend: FineTuningBackend | None = None, **extra: str) -> World:
            approvers = {"FTBOT_APPROVERS": ",".join(APPROVERS)}
            return stack.enter_context(open_world(tmp_path, backend, **(approvers | extra)))

        yield make


@pytest.fixture
def world(make_world: MakeWorld) -> World:
    return make_world()


def ready_endpoint(world: World) -> tuple[str, str]:
    """A job trained, deployed by an approver and READY: (job id, endpoint name)."""
    job_id = submit(world)
    world.until(lambda: world.services.lifecycle.queries.card(job_id).job.state is JobState.SUCCEEDED)
    world.click(Action.DEPLOY, job_id, user=APPROVERS[0])
    world.until(
        lambda: (
            (e := world.services.lifecycle.queries.card(job_id).endpoint) is not None
            and e.state is EndpointState.READY
        )
    )
    endpoint = world.services.lifecycle.queries.card(job_id).endpoint
    assert endpoint is not None
    world.tick(2)
    return job_id, endpoint.name
