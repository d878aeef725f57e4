"""The surfaces of the scene that need a backend with the optional ports, or the on-call: Pause and Resume
on a card, the Deploy dialog (checkpoint, SKU, target) and the three buttons that open it (Deploy with
options… on a card, Deploy best checkpoint on an overfitting warning, Deploy checkpoint N on an Evaluate's
answer), the Rerun… wizard of a finished job, and Acknowledge on an on-call page. Each seed is the click
on the button ftbot posted, or the submission of the view ftbot opened, as Slack sends it."""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from typing import Any

from bot.scheduling.oncall import Oncall, SchedulerHealth
from bot.scheduling.oncall_ids import OncallIds
from bot.ui.ids import Action, Callback
from commands.errors import NotFound
from commands.models import HOME_TARGET, DeployTarget, Job, JobSpec, JobState, MetricPoint
from tests.fakes.backend import RichFakeBackend
from tests.reliability.fuzz.shapes import Seed, buttons, encode, latest_view, modal_seeds, submitted
from tests.support.world import APPROVER, MEMBER, World

#: FTBOT_ONCALL in the scene: the user group paged when the service fails a job
ONCALL = "SONCALL01"
SERVICE_FAILURE = "InternalServerError: the service failed the job"
#: validation loss by epoch of the overfitting job: best at epoch 2, then it runs away
OVERFIT = {1: 1.0, 2: 0.6, 3: 0.8, 4: 1.0}
TARGETS = [
    DeployTarget(name=HOME_TARGET, subscription_id="S1", resource_group="RG1", project="P1"),
    DeployTarget(name="west", subscription_id="S2", resource_group="RG2", project="P2"),
]


class SceneBackend(RichFakeBackend):
    """``RichFakeBackend`` (pause and resume, checkpoints, SKUs) with a second deploy target (the same
    fake serves both), and the next job submitted after ``overfit_next`` is set overfits."""

    def __init__(self) -> None:
        super().__init__()
        self.overfit_next = False
        self.overfitting: set[str] = set()

    def submit_job(self, spec: JobSpec) -> Job:
        job = super().submit_job(spec)
        if self.overfit_next:
            self.overfitting.add(job.id)
            self.overfit_next = False
        return job

    def _advance(self, job_id: str, j: dict[str, Any]) -> None:
        super()._advance(job_id, j)
        last: MetricPoint | None = j["metrics"][-1] if j["metrics"] else None
        if job_id in self.overfitting and last is not None and last.valid_loss is not None:
            j["metrics"][-1] = last.model_copy(update={"valid_loss": OVERFIT.get(last.epoch or 0, 1.0)})

    def deploy_targets(self) -> list[DeployTarget]:
        return list(TARGETS)

    def check_target(self, target: str, model: str, *, sku: str | None = None) -> None:
        return None

    def endpoints_at(self, target: str) -> SceneBackend:
        if target not in {t.name for t in TARGETS}:
            raise NotFound(f"no deploy target {target}")
        return self


def submit(world: World) -> str:
    """Submit a job as a member would (a slash command) and return its id (read from the newest
    "Started" reply)."""
    seen = len(world.fake.responses)
    data = world.files.url("train.jsonl")
    world.slash(f"submit --model ftbot-tiny --data {data} --split 0.2")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        started = [t for t in world.response_texts()[seen:] if "Started" in t]
        if started:
            return started[0].split("`")[1]
        time.sleep(0.02)
    raise AssertionError(f"no job started: {world.response_texts()[seen:]}")


def state(world: World, job_id: str) -> JobState:
    return world.services.lifecycle.queries.card(job_id).job.state


def prepare(world: World, ids: dict[str, str]) -> dict[str, str]:
    """Beside the jobs of ``ids``: a job paused by its submitter (its card offers Resume), one the service
    failed, paged to the on-call in its thread (Acknowledge), and the answers to an Evaluate of the
    overfitting job (nothing serves it: Deploy) and of its checkpoint 2 (Deploy checkpoint 2)."""
    paused = submit(world)
    world.until(lambda: state(world, paused) is JobState.RUNNING)
    world.backend.hold.add(paused)
    world.click(Action.PAUSE, paused, user=MEMBER)
    world.until(lambda: state(world, paused) is JobState.PAUSED)
    failed = submit(world)
    world.backend.fail_jobs[failed] = SERVICE_FAILURE
    world.until(lambda: state(world, failed) is JobState.FAILED)
    world.settle()  # its card and thread are posted: the page goes into the thread
    s = world.services
    oncall = Oncall(
        oncall=OncallIds(default=ONCALL), store=s.store, web=s.web, clock=s.clock, health=SchedulerHealth(),
        credential_problem=lambda: None, workspaces=s.workspaces,
    )  # fmt: skip
    assert oncall.sweep() == 1, "the service failure paged nobody"
    seen = len(world.fake.responses)
    world.click(Action.EVALUATE, ids["pending"], user=MEMBER)
    world.slash(f"eval {ids['pending']} --checkpoint 2")
    world.until(lambda: len(_offers(world, seen)) == 2)
    world.settle()
    return {"paused": paused, "failed": failed}


def _offers(world: World, since: int) -> list[dict[str, Any]]:
    with world.fake._lock:
        answers = [r for r in world.fake.responses[since:] if isinstance(r.get("blocks"), list)]
    return [r for r in answers if any(True for _ in buttons(r["blocks"]))]


def _clicked(clicks: list[Seed], action: str, user: str, value: str | None = None) -> dict[str, Any]:
    """The seed of ``user``'s click on the real ``action`` button (naming ``value``, when given)."""
    for seed in clicks:
        named = value is None or seed.body["actions"][0]["value"] == value
        if seed.surface == f"block_actions:{action}" and seed.body["user"]["id"] == user and named:
            body = copy.deepcopy(seed.body)
            body["trigger_id"] = f"trig-scene-{time.monotonic_ns()}"
            return body
    raise AssertionError(f"ftbot never showed {user} a {action} button for {value or 'any job'}")


def _open(world: World, click: dict[str, Any], callback: str) -> tuple[str, dict[str, Any]]:
    """Post ``click`` and return the ``callback`` view it opened (after "Loading…")."""
    with world.fake._lock:
        seen = {vid for vid, v in world.fake.views.items() if v.get("callback_id") == callback}
    world.bot.post(encode(click))
    return latest_view(world, callback, seen)


def _last_options(view: dict[str, Any]) -> dict[str, str]:
    """Per select of ``view``: the last option it lists (a checkpoint, a SKU, a target other than the
    defaults it shows)."""
    chosen = {}
    for blk in view.get("blocks", []):
        options = (blk.get("element") or {}).get("options") or []
        if blk.get("type") == "input" and len(options) > 1:
            chosen[blk["block_id"]] = str(options[-1]["value"])
    return chosen


def dialog_seeds(world: World, ids: dict[str, str], clicks: list[Seed]) -> Iterator[Seed]:
    """The Deploy dialog as each of its buttons opens it, submitted as shown (and the approver's with the
    last checkpoint, SKU and target it lists); the Rerun… wizard of a succeeded and of a failed job,
    submitted as pre-filled; each closed, and a change to each input inside them."""
    deploy = f"view_submission:{Callback.DEPLOY}"
    openers = [
        (Action.DEPLOY_OPTIONS, APPROVER),
        (Action.DEPLOY_OPTIONS, MEMBER),
        (Action.DEPLOY_BEST, MEMBER),
        (Action.DEPLOY_CHOSEN, APPROVER),
    ]
    for n, (action, user) in enumerate(openers):
        vid, view = _open(world, _clicked(clicks, action, user), Callback.DEPLOY)
        yield Seed(deploy, "payload", submitted(world, vid, view, user))
        if n == 0:  # the approver's dialog has every input: a checkpoint, a SKU, a target
            assert len(_last_options(view)) == 3, view
            yield Seed(deploy, "payload", submitted(world, vid, view, user, **_last_options(view)))
            yield from modal_seeds(vid, view, user)
    rerun = f"view_submission:{Callback.RERUN}"
    for n, (user, job) in enumerate(((MEMBER, ids["deployed"]), (APPROVER, ids["failed"]))):
        vid, view = _open(world, _clicked(clicks, Action.RERUN, user, job), Callback.RERUN)
        yield Seed(rerun, "payload", submitted(world, vid, view, user))
        if n == 0:
            yield from modal_seeds(vid, view, user)


def oncall_refs(world: World) -> list[str]:
    with world.services.store.transaction() as tx:
        return [i.ref for i in tx.incidents.open_incidents()]
