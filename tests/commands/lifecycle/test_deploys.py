"""``Deploys`` against the in-memory store and a fake backend with checkpoints, SKUs and deploy targets: the
Deploy dialog's choices, an approver's click, a request for approval (with the budget's numbers), Approve
and Reject, and the endpoint claimed with exactly what was asked."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from commands.costs.book import MemoryCostBook
from commands.costs.budgets import BudgetGuard, parse_budgets
from commands.costs.ledger import CostFact, CostKind
from commands.costs.prices import PriceTable, Rate
from commands.costs.recorder import Costs
from commands.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from commands.lifecycle.base import Deps
from commands.lifecycle.deploys import Deploys
from commands.lifecycle.endpoints import Endpoints
from commands.models import HOME_TARGET, Checkpoint, DeployOptions, DeployTarget, EndpointState, JobState
from commands.records import (
    Actor,
    ApprovalRecord,
    ApprovalState,
    AuditEntry,
    EndpointRecord,
    JobRecord,
    PostKind,
    Surface,
    ThreadPost,
)
from tests.commands.lifecycle.records import endpoint_record, job_record
from tests.fakes.backend import FakeBackend, RichFakeBackend
from tests.support.doubles import APPROVER, Approvers, Clock
from tests.support.memory_store import MemoryStore

JOB = "ftbot-tiny-run-ab12"  # hyphens inside: the endpoint takes the last part only
NAME = "ftbot-ab12-1"
MODEL = "m-ft"
USER = "UMEMBER01"
OTHER = "UOTHER001"
CHANNEL = "CDEPLOY1"
HOME = DeployTarget(name=HOME_TARGET, subscription_id="S1", resource_group="RG1", project="P1")
WEST = DeployTarget(name="west", subscription_id="S2", resource_group="RG2", project="P2")
CKPT_1 = Checkpoint(number=1, model=f"{MODEL}:ckpt-1", step=10, epoch=1)
CKPT_2 = Checkpoint(number=2, model=f"{MODEL}:ckpt-2", step=20, epoch=2)


class Targeted(RichFakeBackend):
    """Checkpoints (listed newest first), SKUs and two deploy targets; it records each target check and
    refuses them all while ``refuse`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.targets = [HOME, WEST]
        self.checked: list[tuple[str, str, str | None]] = []
        self.refuse: str | None = None
        self.on_check: Callable[[], None] | None = None
        for model in (MODEL, CKPT_1.model, CKPT_2.model):
            self.models[model] = None

    def list_checkpoints(self, job_id: str) -> list[Checkpoint]:
        self._call("list_checkpoints")
        return [CKPT_2, CKPT_1] if job_id == JOB else []

    def deploy_targets(self) -> list[DeployTarget]:
        return list(self.targets)

    def check_target(self, target: str, model: str, *, sku: str | None = None) -> None:
        self.checked.append((target, model, sku))
        if self.on_check is not None:
            self.on_check()
        if self.refuse is not None:
            raise InvalidInput(self.refuse, field="target")

    def endpoints_at(self, target: str) -> Targeted:
        return self


class Plain(FakeBackend):
    def __init__(self) -> None:
        super().__init__()
        self.models[MODEL] = None


@dataclass
class World:
    deploys: Deploys
    backend: FakeBackend
    store: MemoryStore
    clock: Clock
    changes: list[int]

    @property
    def targeted(self) -> Targeted:
        assert isinstance(self.backend, Targeted)
        return self.backend

    def posts(self, kind: PostKind) -> list[ThreadPost]:
        return [p for p in self.store.posts(JOB) if p.kind is kind]

    def audit(self, action: str) -> list[AuditEntry]:
        return [e for e in self.store.audit_log if e.action == action]

    def job(self) -> JobRecord:
        with self.store.transaction() as tx:
            return tx.get_job(JOB)

    def approval(self, approval_id: int) -> ApprovalRecord:
        with self.store.transaction() as tx:
            return tx.get_approval(approval_id)

    def endpoints(self) -> list[EndpointRecord]:
        with self.store.transaction() as tx:
            return tx.endpoints_for_job(JOB)


def make(
    tmp_path: Path,
    backend: FakeBackend | None = None,
    *,
    costs: Costs | None = None,
    budgets: BudgetGuard | None = None,
    state: JobState = JobState.SUCCEEDED,
    output: str | None = MODEL,
) -> World:
    backend = backend if backend is not None else Targeted()
    store = MemoryStore()
    clock = costs.clock if costs is not None else Clock()
    assert isinstance(clock, Clock)
    changes: list[int] = []
    deps = Deps(
        backend=backend,
        store=store,
        clock=clock,
        approvers=Approvers(),
        work_dir=tmp_path,
        on_change=lambda: changes.append(1),
        costs=costs,
        budgets=budgets,
    )
    record = job_record(JOB, channel=CHANNEL, user=USER).model_copy(
        update={"state": state, "output_model": output, "team_id": "T1"}
    )
    with store.transaction() as tx:
        tx.add_job(record)
    return World(Deploys(deps, Endpoints(deps)), backend, store, clock, changes)


def actor(user: str = USER) -> Actor:
    return Actor(user_id=user, channel_id=CHANNEL, surface=Surface.BUTTON)


BOSS = actor(APPROVER)


# --- small parts ----------------------------------------------------------------------------------------


def test_endpoint_names_take_the_last_part_of_the_job_id_and_the_attempt(tmp_path: Path) -> None:
    w = make(tmp_path)
    assert w.deploys.endpoint_name(JOB, 1) == NAME
    assert w.deploys.endpoint_name("plain", 3) == "ftbot-plain-3"
    assert w.deploys.channel_of(JOB) == CHANNEL
    with pytest.raises(NotFound):
        w.deploys.channel_of("ftbot-nope")


# --- the Deploy dialog ----------------------------------------------------------------------------------


def test_choices_offer_checkpoints_oldest_first_skus_and_targets(tmp_path: Path) -> None:
    w = make(tmp_path)
    member = w.deploys.choices(actor(), JOB)
    assert member.job_id == JOB and member.model == MODEL
    assert member.checkpoints == (CKPT_1, CKPT_2)
    assert [s.name for s in member.skus] == ["Standard", "GlobalStandard", "Developer"]
    assert member.approver is False and member.targets == (HOME, WEST)
    assert w.deploys.choices(BOSS, JOB).approver is True
    w.targeted.targets = [HOME]
    assert w.deploys.choices(BOSS, JOB).targets == ()  # home alone: nothing to choose
    w.targeted.targets = [HOME, WEST, WEST.model_copy(update={"name": "east"})]
    assert len(w.deploys.choices(BOSS, JOB).targets) == 3


def test_choices_on_a_plain_backend_are_empty(tmp_path: Path) -> None:
    w = make(tmp_path, Plain())
    choices = w.deploys.choices(BOSS, JOB)
    assert (choices.checkpoints, choices.skus, choices.targets) == ((), (), ())
    assert choices.model == MODEL and choices.approver is True


@pytest.mark.parametrize(
    ("state", "output", "message"),
    [
        (JobState.RUNNING, None, f"{JOB} is running; only a succeeded job can be deployed."),
        (JobState.SUCCEEDED, None, f"{JOB} is succeeded; only a succeeded job can be deployed."),
        (JobState.FAILED, MODEL, f"{JOB} is failed; only a succeeded job can be deployed."),
    ],
)
def test_only_a_succeeded_job_with_a_model_can_be_deployed(
    tmp_path: Path, state: JobState, output: str | None, message: str
) -> None:
    w = make(tmp_path, state=state, output=output)
    for call in (
        lambda: w.deploys.choices(BOSS, JOB),
        lambda: w.deploys.request_deploy(actor(), JOB),
        lambda: w.deploys.deploy(BOSS, JOB),
    ):
        with pytest.raises(Conflict) as e:
            call()
        assert e.value.message == message and e.value.names == {"job": JOB}
    assert w.backend.calls["deploy_model"] == 0 and w.endpoints() == []


def test_a_live_endpoint_is_named_and_a_deleted_one_is_not_in_the_way(tmp_path: Path) -> None:
    w = make(tmp_path)
    with w.store.transaction() as tx:
        tx.claim_endpoint(endpoint_record("ftbot-ab12-old", JOB, EndpointState.DELETED))
    assert w.deploys.choices(BOSS, JOB).model == MODEL
    with w.store.transaction() as tx:
        tx.claim_endpoint(endpoint_record("ftbot-ab12-live", JOB, EndpointState.READY, minutes=1))
    with pytest.raises(Conflict) as e:
        w.deploys.choices(BOSS, JOB)
    assert e.value.message == f"{JOB} is already deployed as ftbot-ab12-live."
    assert e.value.existing == "ftbot-ab12-live"
    with pytest.raises(Conflict, match="already deployed as ftbot-ab12-live"):
        w.deploys.request_deploy(actor(), JOB)  # no request opened for it
    with pytest.raises(Conflict, match="already deployed as ftbot-ab12-live"):
        w.deploys.deploy(BOSS, JOB, DeployOptions(target="west"))
    assert w.targeted.checked == []  # refused before the target's rules are asked
    with w.store.transaction() as tx:
        assert tx.pending_approval(JOB) is None


def test_an_endpoint_claimed_during_the_target_check_wins(tmp_path: Path) -> None:
    w = make(tmp_path)

    def someone_else_deploys() -> None:
        with w.store.transaction() as tx:
            tx.claim_endpoint(endpoint_record("ftbot-ab12-fast", JOB, EndpointState.CREATING))

    w.targeted.on_check = someone_else_deploys
    with pytest.raises(Conflict) as e:
        w.deploys.deploy(BOSS, JOB, DeployOptions(target="west"))
    assert e.value.existing == "ftbot-ab12-fast"
    assert [e.name for e in w.endpoints()] == ["ftbot-ab12-fast"] and w.backend.deploys == []


# --- an approver deploys --------------------------------------------------------------------------------


def test_an_approver_deploys_the_final_model_at_home(tmp_path: Path) -> None:
    w = make(tmp_path)
    version = w.job().version
    outcome = w.deploys.request_deploy(BOSS, JOB)
    assert outcome.approval is None and outcome.approval_is_new is False
    endpoint = outcome.endpoint
    assert endpoint is not None and endpoint.name == NAME and endpoint.state is EndpointState.CREATING
    assert w.backend.deploys == [(MODEL, NAME, None)]
    [claimed] = w.endpoints()
    assert claimed.name == NAME and claimed.job_id == JOB and claimed.model == MODEL
    assert claimed.requested_by == APPROVER and claimed.options == DeployOptions()
    assert claimed.created_at == claimed.updated_at and claimed.created_at.tzinfo is not None
    [audit] = w.audit("deploy")
    assert (audit.actor, audit.target, audit.result) == (APPROVER, NAME, "ok")
    assert audit.detail == f"model={MODEL} checkpoint=final sku=default target=home"
    [post] = w.posts(PostKind.DEPLOYING)
    assert post.data == {
        "endpoint": NAME,
        "by": APPROVER,
        "options": {"checkpoint": None, "sku": None, "target": None},
    }
    assert [q.key for q in w.store.outbox if q.post.kind is PostKind.DEPLOYING] == [
        f"{JOB}:deploy:{NAME}:start"
    ]
    assert w.job().version == version + 1
    assert w.targeted.checked == []  # home: no target rules
    assert w.changes


def test_an_approver_deploys_a_checkpoint_with_a_sku_to_a_target(tmp_path: Path) -> None:
    w = make(tmp_path)
    options = DeployOptions(checkpoint=2, sku="developer", target="WEST")
    outcome = w.deploys.request_deploy(BOSS, JOB, options)
    assert outcome.endpoint is not None
    asked = DeployOptions(checkpoint=2, sku="Developer", target="west")
    assert outcome.endpoint.options == asked and outcome.endpoint.model == CKPT_2.model
    assert w.backend.deploys == [(CKPT_2.model, NAME, "Developer")]
    assert w.targeted.checked == [("west", CKPT_2.model, "Developer")]
    [audit] = w.audit("deploy")
    assert audit.detail == f"model={CKPT_2.model} checkpoint=2 sku=Developer target=west"
    [post] = w.posts(PostKind.DEPLOYING)
    assert post.data["options"] == {"checkpoint": 2, "sku": "Developer", "target": "west"}


def test_home_by_name_is_the_training_project(tmp_path: Path) -> None:
    w = make(tmp_path)
    outcome = w.deploys.request_deploy(BOSS, JOB, DeployOptions(target="HOME"))
    assert outcome.endpoint is not None and outcome.endpoint.options.target is None


def test_a_redeploy_after_a_tear_down_is_the_next_attempt(tmp_path: Path) -> None:
    w = make(tmp_path)
    with w.store.transaction() as tx:
        tx.claim_endpoint(endpoint_record(NAME, JOB, EndpointState.DELETED).model_copy(update={"model": "x"}))
    endpoint = w.deploys.deploy(BOSS, JOB)
    assert endpoint.name == "ftbot-ab12-2"


def test_deploy_by_a_non_approver_is_refused_and_audited(tmp_path: Path) -> None:
    w = make(tmp_path)
    with pytest.raises(PermissionDenied) as e:
        w.deploys.deploy(actor(), JOB)
    assert e.value.message == (
        f"Only approvers can deploy ({JOB}). Ask one of them, or click Deploy to request approval."
    )
    [denied] = w.audit("deploy")
    assert (denied.actor, denied.target, denied.result) == (USER, JOB, "denied")
    assert w.endpoints() == []


def test_a_direct_deploy_closes_the_pending_request_as_approved(tmp_path: Path) -> None:
    w = make(tmp_path)
    approval = w.deploys.request_deploy(actor(), JOB).approval
    assert approval is not None
    endpoint = w.deploys.deploy(BOSS, JOB)
    closed = w.approval(approval.id)
    assert closed.state is ApprovalState.APPROVED and closed.decided_by == APPROVER
    assert closed.decided_at == endpoint.created_at


def test_a_target_that_refuses_the_model_stops_the_deploy_before_any_call(tmp_path: Path) -> None:
    w = make(tmp_path)
    w.targeted.refuse = "west cannot host it"
    with pytest.raises(InvalidInput, match="west cannot host it"):
        w.deploys.deploy(BOSS, JOB, DeployOptions(target="west"))
    assert w.endpoints() == [] and w.backend.calls["deploy_model"] == 0
    assert w.targeted.checked == [("west", MODEL, None)]


def test_options_are_checked_before_anything(tmp_path: Path) -> None:
    w = make(tmp_path)
    with pytest.raises(InvalidInput, match="no checkpoint 7"):
        w.deploys.request_deploy(BOSS, JOB, DeployOptions(checkpoint=7))
    with pytest.raises(InvalidInput, match="no deploy target called east"):
        w.deploys.request_deploy(BOSS, JOB, DeployOptions(target="east"))
    with pytest.raises(InvalidInput, match="no checkpoint 7"):
        w.deploys.deploy(BOSS, JOB, DeployOptions(checkpoint=7))
    assert w.endpoints() == [] and w.store.audit_log == []


def test_only_approvers_choose_a_sku_and_are_told_the_default(tmp_path: Path) -> None:
    w = make(tmp_path)
    with pytest.raises(PermissionDenied) as e:
        w.deploys.request_deploy(actor(), JOB, DeployOptions(sku="Developer"))
    assert e.value.message == (
        "Only approvers choose the deployment SKU; request the deploy without one and the default "
        "(Standard) is used."
    )
    plain = make(tmp_path, Plain())
    with pytest.raises(PermissionDenied) as e:
        plain.deploys.request_deploy(actor(), JOB, DeployOptions(sku="Developer"))
    assert e.value.names == {"default": "none"}


# --- a request for approval -------------------------------------------------------------------------------


def test_a_member_opens_a_request_once_with_its_options(tmp_path: Path) -> None:
    w = make(tmp_path)
    version = w.job().version
    options = DeployOptions(checkpoint=1, target="west")
    outcome = w.deploys.request_deploy(actor(), JOB, options)
    approval = outcome.approval
    assert approval is not None and outcome.approval_is_new is True and outcome.endpoint is None
    assert approval.action == "deploy" and approval.requested_by == USER
    assert approval.options == DeployOptions(checkpoint=1, target="west")
    assert w.targeted.checked == [("west", CKPT_1.model, None)]  # refused now, not after Approve
    [post] = w.posts(PostKind.APPROVAL_REQUEST)
    assert post.data == {
        "approval_id": approval.id,
        "requested_by": USER,
        "approvers": [APPROVER],
        "options": {"checkpoint": 1, "sku": None, "target": "west"},
    }
    keys = [q.key for q in w.store.outbox if q.post.kind is PostKind.APPROVAL_REQUEST]
    assert keys == [f"{JOB}:approval:{approval.id}:request"]
    [audit] = w.audit("deploy.request")
    assert (audit.actor, audit.target, audit.result) == (USER, JOB, "ok")
    assert audit.detail == "checkpoint=1 sku=default target=west"
    assert w.job().version == version + 1

    again = w.deploys.request_deploy(actor(OTHER), JOB)
    assert again.approval == approval and again.approval_is_new is False
    assert [e.result for e in w.audit("deploy.request")] == ["ok", "duplicate"]
    assert w.audit("deploy.request")[1].detail == "checkpoint=final sku=default target=home"
    assert len(w.posts(PostKind.APPROVAL_REQUEST)) == 1 and w.job().version == version + 1
    assert w.backend.calls["deploy_model"] == 0


def test_a_request_a_target_refuses_is_not_opened(tmp_path: Path) -> None:
    w = make(tmp_path)
    w.targeted.refuse = "no such region"
    with pytest.raises(InvalidInput, match="no such region"):
        w.deploys.request_deploy(actor(), JOB, DeployOptions(target="west"))
    assert w.targeted.checked == [("west", MODEL, None)]
    with w.store.transaction() as tx:
        assert tx.pending_approval(JOB) is None


def test_approve_deploys_exactly_what_was_asked(tmp_path: Path) -> None:
    w = make(tmp_path)
    approval = w.deploys.request_deploy(actor(), JOB, DeployOptions(checkpoint=1)).approval
    assert approval is not None
    version = w.job().version
    decided = w.deploys.decide(BOSS, approval.id, True)
    assert decided.state is ApprovalState.APPROVED and decided.decided_by == APPROVER
    assert w.backend.deploys == [(CKPT_1.model, NAME, None)]
    [endpoint] = w.endpoints()
    assert endpoint.options == DeployOptions(checkpoint=1) and endpoint.requested_by == APPROVER
    assert w.job().version == version + 2  # the decision, then the deploy
    assert w.backend.calls["list_checkpoints"] == 3  # checked, its target (none), deployed


def test_reject_deploys_nothing_and_updates_the_card(tmp_path: Path) -> None:
    w = make(tmp_path)
    approval = w.deploys.request_deploy(actor(), JOB, DeployOptions(target="west")).approval
    assert approval is not None
    checked = list(w.targeted.checked)
    version = w.job().version
    decided = w.deploys.decide(BOSS, approval.id, False)
    assert decided.state is ApprovalState.REJECTED
    assert w.endpoints() == [] and w.backend.calls["deploy_model"] == 0
    assert w.targeted.checked == checked  # a rejected target is not checked again
    assert w.job().version == version + 1
    assert [(e.action, e.result) for e in w.store.audit_log if e.actor == APPROVER] == [("reject", "ok")]


def test_approve_checks_the_target_before_the_approval_counts(tmp_path: Path) -> None:
    w = make(tmp_path)
    approval = w.deploys.request_deploy(actor(), JOB, DeployOptions(checkpoint=2, target="west")).approval
    assert approval is not None
    w.targeted.refuse = "west moved"
    with pytest.raises(InvalidInput, match="west moved"):
        w.deploys.decide(BOSS, approval.id, True)
    assert w.approval(approval.id).state is ApprovalState.PENDING
    assert w.targeted.checked == [("west", CKPT_2.model, None)] * 2
    w.targeted.refuse = None
    w.deploys.decide(BOSS, approval.id, True)
    assert w.backend.deploys == [(CKPT_2.model, NAME, None)]


def test_a_target_check_on_a_job_without_a_model_names_no_model(tmp_path: Path) -> None:
    w = make(tmp_path, output=None)
    with w.store.transaction() as tx:
        approval, _ = tx.open_approval(
            JOB, "deploy", USER, w.clock.now(), options=DeployOptions(target="west")
        )
    with pytest.raises(Conflict, match="only a succeeded job"):
        w.deploys.decide(BOSS, approval.id, True)
    assert w.targeted.checked == [("west", "", None)]


@pytest.mark.parametrize(("approve", "action"), [(True, "approve"), (False, "reject")])
def test_only_approvers_decide(tmp_path: Path, approve: bool, action: str) -> None:
    w = make(tmp_path)
    approval = w.deploys.request_deploy(actor(), JOB).approval
    assert approval is not None
    with pytest.raises(PermissionDenied) as e:
        w.deploys.decide(actor(OTHER), approval.id, approve)
    assert e.value.message == f"Only approvers can {action} ({JOB})."
    [denied] = [e for e in w.store.audit_log if e.actor == OTHER]
    assert (denied.action, denied.target, denied.result) == (action, JOB, "denied")
    assert w.approval(approval.id).state is ApprovalState.PENDING


# --- the budget ----------------------------------------------------------------------------------------

T = datetime(2026, 3, 10, 12, tzinfo=UTC)


def budgeted(
    tmp_path: Path, budgets: str, prices: Mapping[str, object], spent: Decimal = Decimal(0)
) -> World:
    clock = Clock()
    clock.t = T
    table = PriceTable.model_validate({"currency": "USD", "models": prices})
    costs = Costs(MemoryCostBook(), clock, table)
    for team, amount in (("T1", spent), ("T2", Decimal(500))):  # another workspace's spend never counts
        costs.book.record(
            CostFact(
                key=f"training:{team}",
                kind=CostKind.TRAINING,
                team_id=team,
                channel_id=CHANNEL,
                user_id="U1",
                job_id=f"job-{team}",
                model="m",
                at=T,
                tokens=int(amount),
                rate=Rate(currency="USD", training_per_million_tokens=Decimal(1_000_000)),
            )
        )
    return make(tmp_path, costs=costs, budgets=BudgetGuard(parse_budgets(budgets), costs))


HOSTED = {"m": {"hosting_per_hour": 1, "tiers": {"Developer": {"hosting_per_hour": 0}}}}


def test_an_approvers_deploy_over_the_budget_asks_for_approval(tmp_path: Path) -> None:
    w = budgeted(tmp_path, f"{CHANNEL}=100", HOSTED, spent=Decimal(80))
    outcome = w.deploys.request_deploy(BOSS, JOB)
    assert outcome.endpoint is None and outcome.approval is not None and outcome.approval_is_new
    numbers = {"budget_spent": "USD 80.00", "budget_amount": "USD 100.00", "budget_request": "USD 24.00"}
    [post] = w.posts(PostKind.APPROVAL_REQUEST)
    assert {k: v for k, v in post.data.items() if k.startswith("budget_")} == numbers
    [audit] = w.audit("deploy.request")
    assert audit.detail == f"checkpoint=final sku=default target=home over budget: {numbers}"
    assert w.backend.calls["deploy_model"] == 0


def test_a_deploy_that_fits_the_budget_goes_ahead(tmp_path: Path) -> None:
    w = budgeted(tmp_path, f"{CHANNEL}=100", HOSTED, spent=Decimal(76))  # 76 + 24 = the budget
    assert w.deploys.request_deploy(BOSS, JOB).endpoint is not None


def test_the_sku_chosen_prices_the_first_day(tmp_path: Path) -> None:
    w = budgeted(tmp_path, f"{CHANNEL}=100", HOSTED, spent=Decimal(80))
    outcome = w.deploys.request_deploy(BOSS, JOB, DeployOptions(sku="Developer"))
    assert outcome.endpoint is not None  # no hourly fee


@pytest.mark.parametrize(
    "prices",
    [{}, {"m": {"training_per_million_tokens": 1}}],  # unpriced; priced but not its hosting
)
def test_no_hosting_price_no_budget_check(tmp_path: Path, prices: Mapping[str, object]) -> None:
    w = budgeted(tmp_path, f"{CHANNEL}=1", prices, spent=Decimal(80))
    assert w.deploys.request_deploy(BOSS, JOB).endpoint is not None


def test_costs_without_budgets_check_nothing(tmp_path: Path) -> None:
    w = budgeted(tmp_path, f"{CHANNEL}=1", HOSTED, spent=Decimal(80))
    w.deploys.budgets = None
    assert w.deploys.request_deploy(BOSS, JOB).endpoint is not None


def test_budgets_without_costs_check_nothing(tmp_path: Path) -> None:
    w = budgeted(tmp_path, f"{CHANNEL}=1", HOSTED, spent=Decimal(80))
    w.deploys.costs = None
    assert w.deploys.request_deploy(BOSS, JOB).endpoint is not None


def test_the_dialogs_choices_say_when_the_one_click_deploy_is_over_budget(tmp_path: Path) -> None:
    w = budgeted(tmp_path, f"{CHANNEL}=100", HOSTED, spent=Decimal(80))
    over = w.deploys.choices(actor(), JOB).over_budget
    assert over is not None and over.channel_id == CHANNEL
    assert (str(over.spent), str(over.request), str(over.budget)) == ("USD 80.00", "USD 24.00", "USD 100.00")
    assert w.deploys.choices(BOSS, JOB).over_budget == over  # an approver's own deploy asks too
    assert w.backend.calls["deploy_model"] == 0


def test_the_dialogs_choices_within_the_budget_say_nothing(tmp_path: Path) -> None:
    assert (
        budgeted(tmp_path, f"{CHANNEL}=100", HOSTED, spent=Decimal(76)).deploys.choices(BOSS, JOB).over_budget
        is None
    )
    assert make(tmp_path).deploys.choices(BOSS, JOB).over_budget is None  # no budgets at all
