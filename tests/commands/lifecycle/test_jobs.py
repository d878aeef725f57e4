"""Jobs from their check to their end, field by field: the refusal of bad data and its message, what the
check passes to the validator and sums up for the card, the launch record, the job's id, spec and record,
the start (uploads, refusals, an unavailable backend, a cancel in between), the poll and the cancel."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from commands.costs.book import MemoryCostBook
from commands.costs.budgets import BudgetGuard, parse_budgets
from commands.costs.ledger import CostFact, CostKind
from commands.costs.prices import PriceTable
from commands.costs.recorder import Costs
from commands.dataset import ValidationReport, split_dataset
from commands.dataset.report import Issue, TokenStats
from commands.errors import Conflict, InvalidInput, NotFound, PermissionDenied, Unavailable
from commands.lifecycle import jobs as jobs_module
from commands.lifecycle.base import Deps
from commands.lifecycle.jobs import DatasetRejected, Jobs
from commands.lifecycle.service_data import unchecked_report
from commands.lifecycle.sources import read_sources
from commands.lifecycle.values import LocalData, ServiceData, SubmitRequest
from commands.models import (
    BaseModelInfo,
    DatasetRef,
    Hyperparameters,
    Job,
    JobSpec,
    JobState,
    Method,
    Task,
)
from commands.records import Actor, DatasetSummary, JobRecord, LaunchState, PostKind, Surface
from tests.fakes.backend import FakeBackend, RichFakeBackend
from tests.support.data import chat_lines
from tests.support.doubles import APPROVER, Approvers, Clock
from tests.support.memory_store import MemoryStore, MemoryTx

USER = "UMEMBER01"
ME = Actor(user_id=USER, team_id="T1", channel_id="CJOBS1", surface=Surface.BUTTON)
OTHER = Actor(user_id="UOTHER001", team_id="T1", channel_id="CJOBS1", surface=Surface.SLASH)
BOSS = Actor(user_id=APPROVER, team_id="T1", channel_id="CJOBS1", surface=Surface.SLASH)
ASSET = "azureml:support-chats:2"
HEX = "[0-9a-f]"


class _World:
    def __init__(
        self,
        tmp_path: Path,
        backend: FakeBackend | None = None,
        *,
        owner: str = "host:1:ab",
        store: MemoryStore | None = None,
    ) -> None:
        self.tmp = tmp_path
        self.backend = backend or FakeBackend()
        self.store = store or MemoryStore()
        self.clock = Clock()
        self.changes = 0
        self.work = tmp_path / "work"
        self.jobs = Jobs(
            Deps(
                backend=self.backend,
                store=self.store,
                clock=self.clock,
                approvers=Approvers(),
                work_dir=self.work,
                on_change=self._changed,
                owner=owner,
            )
        )

    def _changed(self) -> None:
        self.changes += 1

    def data(self, n: int = 30, name: str = "train.jsonl", text: str | None = None) -> LocalData:
        path = self.tmp / "in" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(chat_lines(n) if text is None else text)
        return LocalData(path=path, name=name)

    def stored(self, job_id: str) -> JobRecord:
        with self.store.transaction() as tx:
            return tx.get_job(job_id)

    def keyed(self, job_id: str) -> list[tuple[str, PostKind, dict[str, object]]]:
        return [(q.key, q.post.kind, dict(q.post.data)) for q in self.store.outbox if q.post.job_id == job_id]

    def audit(self) -> list[tuple[str, str, str, str, str]]:
        return [(e.actor, e.action, e.target, e.result, e.detail) for e in self.store.audit_log]

    def next_now(self) -> datetime:
        return self.clock.t + timedelta(milliseconds=1)

    def submitted(self, request: SubmitRequest | None = None, actor: Actor = ME) -> JobRecord:
        return self.jobs.submit(
            actor, self.jobs.check(request or SubmitRequest(model="ftbot-tiny", training=self.data()))
        )

    def running(self) -> JobRecord:
        job = self.submitted()
        self.jobs.start(job.id)
        return self.jobs.poll(job.id)


# --- the refusal of bad data ----------------------------------------------------------------------


def _report(errors: list[Issue], counts: dict[str, int]) -> ValidationReport:
    return unchecked_report(4096).model_copy(update={"ok": False, "errors": errors, "error_counts": counts})


def test_a_rejected_dataset_names_its_first_three_errors_and_their_total() -> None:
    errors = [
        Issue(line=3, code="json", message="not JSON"),
        Issue(line=None, code="empty", message="the file has no examples"),
        Issue(line=9, code="role", message="bad role"),
        Issue(line=12, code="role", message="a fourth, not shown"),
    ]
    report = _report(errors, {"json": 1, "empty": 1, "role": 5})

    e = DatasetRejected(report, "train.jsonl", field="training")

    assert e.message == (
        "train.jsonl has 7 error(s), so nothing was submitted. "
        "line 3: not JSON; the file has no examples; line 9: bad role"
    )
    assert e.names == {"dataset": "train.jsonl"}
    assert (e.field, e.report, e.code) == ("training", report, "dataset_invalid")
    assert isinstance(e, InvalidInput)
    assert DatasetRejected(report, "t").field is None


def test_a_rejected_dataset_with_one_error_shows_just_that_one() -> None:
    e = DatasetRejected(_report([Issue(line=1, code="json", message="not JSON")], {"json": 1}), "d")
    assert e.message == "d has 1 error(s), so nothing was submitted. line 1: not JSON"


# --- models and the check -----------------------------------------------------------------------


def test_models_are_the_backends_and_an_unknown_one_says_where_to_look(tmp_path: Path) -> None:
    w = _World(tmp_path)
    assert w.jobs.models() == list(w.backend.catalogue)
    assert w.jobs.base_model("ftbot-tiny") == w.backend.catalogue[0]
    with pytest.raises(InvalidInput) as e:
        w.jobs.base_model("gpt-99")
    assert (
        e.value.message
        == "There is no base model called gpt-99. /finetune models lists the ones you can fine-tune."
    )
    assert e.value.field == "model"
    assert e.value.names == {"model": "gpt-99", "command": "/finetune models"}
    assert isinstance(e.value.__cause__, NotFound)


class _Spy:
    """Stands in for ``validate_dataset``: records what the check passed, answers ``report``."""

    def __init__(self, report: ValidationReport | None = None) -> None:
        self.calls: list[tuple[Path, dict[str, Any]]] = []
        self.report = report or unchecked_report(4096)

    def __call__(self, path: Path, **kw: Any) -> ValidationReport:
        self.calls.append((path, kw))
        return self.report


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> _Spy:
    s = _Spy()
    monkeypatch.setattr(jobs_module, "validate_dataset", s)
    return s


def test_check_dataset_without_a_model_counts_exactly_with_the_default_context(
    tmp_path: Path, spy: _Spy
) -> None:
    w = _World(tmp_path)
    path = tmp_path / "t.jsonl"

    assert w.jobs.check_dataset(path) is spy.report

    assert spy.calls == [
        (
            path,
            {
                "task": Task.CHAT_COMPLETION,
                "context_length": 4096,
                "validation": None,
                "exact_tokenizer": True,
                "tokenizer": None,
                "backend_text_format": "prompt_completion",
                "method": Method.SUPERVISED,
                "min_examples": 10,
            },
        )
    ]


def _model(name: str, source: str = "azureml", context: int = 2048) -> BaseModelInfo:
    return BaseModelInfo(name=name, source=source, context_length=context)


@pytest.mark.parametrize(
    ("name", "source", "exact"),
    [
        ("gpt-4o-mini", "azureml", True),
        ("GPT-4.1", "openai", True),
        ("o1-mini", "azureml", True),
        ("o3-mini", "azureml", True),
        ("o4-mini", "azureml", True),
        ("gpt-4o-mini", "local", False),  # a local model has its own tokenizer
        ("Phi-4-mini-instruct", "azureml", False),
        ("o2-thing", "azureml", False),
    ],
)
def test_only_openai_models_of_a_service_count_exactly(
    tmp_path: Path, spy: _Spy, name: str, source: str, exact: bool
) -> None:
    w = _World(tmp_path)
    w.jobs.check_dataset(tmp_path / "t.jsonl", model=_model(name, source))
    assert spy.calls[0][1]["exact_tokenizer"] is exact
    assert spy.calls[0][1]["context_length"] == 2048


class _AzureBackend(FakeBackend):
    kind = "azure"


class _Tokenized(FakeBackend):
    """A backend with a tokenizer per model (``TokenizerSource``)."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[str] = []
        self.tokenizer = object()

    def tokenizer_for(self, model: str) -> Any:
        self.asked.append(model)
        return self.tokenizer


def test_check_dataset_passes_everything_it_was_given(tmp_path: Path, spy: _Spy) -> None:
    w = _World(tmp_path, _AzureBackend())
    valid = tmp_path / "v.jsonl"
    w.jobs.check_dataset(
        tmp_path / "t.jsonl",
        model=_model("m", context=1000),
        task=Task.TEXT_COMPLETION,
        validation=valid,
        method=Method.DPO,
        min_examples=3,
    )
    assert spy.calls[0][1] == {
        "task": Task.TEXT_COMPLETION,
        "context_length": 1000,
        "validation": valid,
        "exact_tokenizer": False,
        "tokenizer": None,
        "backend_text_format": "text_ground_truth",
        "method": Method.DPO,
        "min_examples": 3,
    }


def test_a_backend_with_tokenizers_counts_with_the_models_own(tmp_path: Path, spy: _Spy) -> None:
    backend = _Tokenized()
    w = _World(tmp_path, backend)
    w.jobs.check_dataset(tmp_path / "t.jsonl")
    assert backend.asked == [] and spy.calls[0][1]["tokenizer"] is None  # no model, no tokenizer
    w.jobs.check_dataset(tmp_path / "t.jsonl", model=_model("mine", source="local"))
    assert backend.asked == ["mine"] and spy.calls[1][1]["tokenizer"] is backend.tokenizer


def test_a_task_the_model_cannot_train_is_refused(tmp_path: Path) -> None:
    w = _World(tmp_path)
    request = SubmitRequest(model="ftbot-tiny", training=w.data(), task=Task.TEXT_COMPLETION)
    with pytest.raises(InvalidInput) as e:
        w.jobs.check(request)
    assert e.value.message == "ftbot-tiny cannot be fine-tuned for text_completion."
    assert (e.value.field, e.value.names) == ("task", {"model": "ftbot-tiny"})


def test_a_method_the_model_cannot_train_is_refused(tmp_path: Path) -> None:
    w = _World(tmp_path)
    with pytest.raises(InvalidInput) as e:
        w.jobs.check(SubmitRequest(model="ftbot-tiny", training=w.data(), method=Method.DPO))
    assert e.value.field == "method"


def test_the_training_tier_is_spelled_as_the_backend_spells_it(tmp_path: Path) -> None:
    w = _World(tmp_path, RichFakeBackend())
    checked = w.jobs.check(
        SubmitRequest(model="ftbot-tiny", training=w.data(), training_type="globalstandard")
    )
    assert checked.request.training_type == "GlobalStandard"
    same = SubmitRequest(model="ftbot-tiny", training=w.data(), training_type="Developer")
    assert w.jobs.check(same).request == same


def test_the_check_sums_the_data_up_for_the_card(tmp_path: Path) -> None:
    w = _World(tmp_path)
    data = w.data(40)
    request = SubmitRequest(model="ftbot-tiny", training=data, split=0.25)

    checked = w.jobs.check(request)

    report, stats = checked.report, checked.report.stats
    assert report.ok and report.examples == 40 and stats.default_epochs == 3
    assert stats.tokens_per_example is not None and stats.billed_tokens_estimate
    assert (checked.request, checked.model, checked.not_checked) == (request, w.backend.catalogue[0], ())
    assert checked.summary == DatasetSummary(
        training_name="train.jsonl",
        examples=40,
        total_tokens=stats.tokens_per_example.total,
        billed_tokens_estimate=stats.billed_tokens_estimate,
        epochs=3,
        approximate_tokens=stats.approximate_tokens,
        warnings=sum(report.warning_counts.values()),
        validation_name=None,
        validation_examples=None,
        split_fraction=0.25,
        not_checked=None,
    )


def _stats_report(billed: int | None, default_epochs: int, **stats: object) -> ValidationReport:
    base = unchecked_report(4096)
    return base.model_copy(
        update={
            "examples": 50,
            "warning_counts": {"a": 2, "b": 3},
            "stats": base.stats.model_copy(
                update={"billed_tokens_estimate": billed, "default_epochs": default_epochs, **stats}
            ),
        }
    )


def test_the_estimate_is_per_epoch_times_the_epochs_asked(tmp_path: Path, spy: _Spy) -> None:
    w = _World(tmp_path)
    tokens = TokenStats(min=1, p50=2, p95=3, max=3, total=321)
    spy.report = _stats_report(1000, 3, tokens_per_example=tokens, approximate_tokens=False)
    hp = Hyperparameters(n_epochs=5)

    summary = w.jobs.check(SubmitRequest(model="ftbot-tiny", training=w.data(), hyperparameters=hp)).summary

    assert (summary.billed_tokens_estimate, summary.epochs, summary.total_tokens) == (1665, 5, 321)
    assert (summary.examples, summary.warnings, summary.approximate_tokens) == (50, 5, False)


def test_one_default_epoch_estimates_the_whole_count(tmp_path: Path, spy: _Spy) -> None:
    w = _World(tmp_path)
    spy.report = _stats_report(777, 1)
    summary = w.jobs.check(SubmitRequest(model="ftbot-tiny", training=w.data())).summary
    assert (summary.billed_tokens_estimate, summary.epochs, summary.total_tokens) == (777, 1, 0)


def test_a_bad_training_file_is_rejected_as_training(tmp_path: Path) -> None:
    w = _World(tmp_path)
    bad = w.data(name="bad.jsonl", text=chat_lines(12) + "{not json\n")
    with pytest.raises(DatasetRejected) as e:
        w.jobs.check(SubmitRequest(model="ftbot-tiny", training=bad))
    assert (e.value.field, e.value.names) == ("training", {"dataset": "bad.jsonl"})
    assert e.value.message.startswith("bad.jsonl has 1 error(s), so nothing was submitted. line 13: ")


def test_a_bad_validation_file_is_rejected_as_validation(tmp_path: Path) -> None:
    w = _World(tmp_path)
    bad = w.data(name="valid.jsonl", text=chat_lines(11) + "{not json\n")
    with pytest.raises(DatasetRejected) as e:
        w.jobs.check(SubmitRequest(model="ftbot-tiny", training=w.data(), validation=bad))
    assert (e.value.field, e.value.names) == ("validation", {"dataset": "valid.jsonl"})
    assert e.value.report.examples == 12


def test_validation_data_is_checked_with_the_training_data_and_summed_up(tmp_path: Path) -> None:
    w = _World(tmp_path)
    valid = w.data(7, name="valid.jsonl")
    checked = w.jobs.check(SubmitRequest(model="ftbot-tiny", training=w.data(), validation=valid))
    assert checked.report.validation is not None and checked.report.validation.examples == 7
    assert (checked.summary.validation_name, checked.summary.validation_examples) == ("valid.jsonl", 7)


def test_unread_service_data_is_not_checked_and_says_why(tmp_path: Path) -> None:
    w = _World(tmp_path, _AzureBackend())
    training = ServiceData(ref=ASSET, name="chats:2", not_checked="too large")
    valid = w.data(16, name="valid.jsonl")
    request = SubmitRequest(
        model="Phi-4-mini-instruct", training=training, validation=valid, task=Task.TEXT_COMPLETION
    )

    with pytest.raises(DatasetRejected) as e:  # the validation data is chat data: wrong for a text task
        w.jobs.check(request)
    assert (e.value.field, e.value.names) == ("validation", {"dataset": "valid.jsonl"})
    assert e.value.message.startswith("valid.jsonl has 16 error(s), so nothing was submitted. line 1: ")
    assert e.value.report.examples == 16

    checked = w.jobs.check(SubmitRequest(model="Phi-4-mini-instruct", training=training, validation=valid))
    assert checked.report.stats.context_length == 4096 and checked.report.examples == 0
    assert checked.report.validation is not None and checked.report.validation.examples == 16
    assert checked.not_checked == ("chats:2 was not validated locally: too large.",)
    assert checked.summary.not_checked == "chats:2 was not validated locally: too large."
    assert (checked.summary.billed_tokens_estimate, checked.summary.epochs) == (0, 1)
    assert (checked.summary.validation_name, checked.summary.validation_examples) == ("valid.jsonl", 16)


def test_unread_service_data_alone_has_no_validation_report(tmp_path: Path) -> None:
    w = _World(tmp_path, _AzureBackend())
    training = ServiceData(ref=ASSET, name="chats:2")
    checked = w.jobs.check(SubmitRequest(model="Phi-4-mini-instruct", training=training))
    assert checked.report.validation is None and checked.summary.validation_examples is None
    assert checked.summary.not_checked == "chats:2 was not validated locally: not downloaded."


def test_a_note_on_unread_validation_data_stays_off_the_training_summary(tmp_path: Path) -> None:
    w = _World(tmp_path, _AzureBackend())
    valid = ServiceData(ref=ASSET, name="held-out:2")
    checked = w.jobs.check(SubmitRequest(model="ftbot-tiny", training=w.data(), validation=valid))
    assert checked.not_checked == ("held-out:2 was not validated locally: not downloaded.",)
    assert checked.summary.not_checked is None
    assert checked.report.validation is None  # nothing here to check it with


def test_service_data_of_another_backend_is_refused_before_any_check(tmp_path: Path, spy: _Spy) -> None:
    w = _World(tmp_path)  # local: reads no service ids
    with pytest.raises(InvalidInput) as e:
        w.jobs.check(
            SubmitRequest(model="ftbot-tiny", training=ServiceData(ref=ASSET, name="a", path=tmp_path))
        )
    assert e.value.field == "training" and spy.calls == []


def test_the_check_passes_the_task_method_and_validation_on(tmp_path: Path, spy: _Spy) -> None:
    w = _World(tmp_path, RichFakeBackend())
    train, valid = w.data(), w.data(name="v.jsonl")
    w.jobs.check(
        SubmitRequest(
            model="Phi-4-mini-instruct", training=train, validation=valid, task=Task.TEXT_COMPLETION
        )
    )
    w.jobs.check(SubmitRequest(model="ftbot-tiny", training=train, method=Method.DPO))
    first, second = (kw for _, kw in spy.calls)
    assert spy.calls[0][0] == train.path
    assert (first["task"], first["validation"], first["method"]) == (
        Task.TEXT_COMPLETION,
        valid.path,
        Method.SUPERVISED,
    )
    assert first["context_length"] == 4096 and first["exact_tokenizer"] is False
    assert (second["task"], second["validation"], second["method"]) == (
        Task.CHAT_COMPLETION,
        None,
        Method.DPO,
    )
    assert second["context_length"] == 512


def test_validation_alone_is_checked_with_the_task_and_method(tmp_path: Path, spy: _Spy) -> None:
    w = _World(tmp_path, RichFakeBackend())  # foundry: reads file- ids
    training = ServiceData(ref="file-abc", name="f")
    valid = w.data(name="v.jsonl")
    w.jobs.check(SubmitRequest(model="ftbot-tiny", training=training, validation=valid, method=Method.DPO))
    text = SubmitRequest(
        model="Phi-4-mini-instruct", training=training, validation=valid, task=Task.TEXT_COMPLETION
    )
    checked = w.jobs.check(text)
    (path, kw), (_, phi) = spy.calls
    assert path == valid.path
    assert (kw["task"], kw["method"], kw["validation"], kw["context_length"]) == (
        Task.CHAT_COMPLETION,
        Method.DPO,
        None,
        512,
    )
    assert (phi["task"], phi["method"], phi["exact_tokenizer"]) == (
        Task.TEXT_COMPLETION,
        Method.SUPERVISED,
        False,
    )
    assert checked.report.validation is spy.report


# --- launch ---------------------------------------------------------------------------------------


def test_a_launch_is_recorded_with_who_asked_and_closed_by_its_job(tmp_path: Path) -> None:
    w = _World(tmp_path)
    request = SubmitRequest(model="ftbot-tiny", training=w.data())
    what = "/finetune submit " + "x" * 400
    seen = []

    def prepare() -> SubmitRequest:
        with w.store.transaction() as tx:
            seen.extend(tx.checking_launches())
        return request

    launched = w.jobs.launch(ME, prepare, what=what)

    [launch] = seen
    assert re.fullmatch(f"{HEX}{{16}}", launch.id)
    assert (launch.team_id, launch.channel_id, launch.user_id, launch.owner, launch.surface) == (
        "T1",
        "CJOBS1",
        USER,
        "host:1:ab",
        Surface.BUTTON,
    )
    assert launch.what == what[:300] and launch.created_at == launch.updated_at
    assert launch.state is LaunchState.CHECKING
    with w.store.transaction() as tx:
        done = tx.get_launch(launch.id)
    assert (done.state, done.job_id) == (LaunchState.SUBMITTED, launched.job.id)
    assert done.updated_at > launch.updated_at
    assert launched.checked.request == request
    assert launched.job == w.stored(launched.job.id) and launched.job.state is JobState.QUEUED


def test_a_launch_without_a_channel_records_an_empty_one(tmp_path: Path) -> None:
    w = _World(tmp_path)
    seen = []

    def prepare() -> SubmitRequest:
        with w.store.transaction() as tx:
            seen.extend(tx.checking_launches())
        raise InvalidInput("no data")

    with pytest.raises(InvalidInput):
        w.jobs.launch(Actor(user_id=USER), prepare, what="w")
    assert seen[0].channel_id == "" and seen[0].team_id == ""
    with w.store.transaction() as tx:
        answered = tx.get_launch(seen[0].id)
    assert answered.state is LaunchState.ANSWERED and answered.updated_at > seen[0].updated_at


def test_a_launch_refused_by_the_check_is_answered_and_nothing_is_recorded(tmp_path: Path) -> None:
    w = _World(tmp_path)
    bad = w.data(name="bad.jsonl", text="{not json\n")
    with pytest.raises(DatasetRejected):
        w.jobs.launch(ME, lambda: SubmitRequest(model="ftbot-tiny", training=bad), what="x")
    [launch] = w.store.tables.launches.values()
    assert launch.state is LaunchState.ANSWERED and launch.job_id is None
    assert w.store.tables.jobs == {} and w.backend.calls["submit_job"] == 0


# --- the job's id, spec and record ----------------------------------------------------------------


def test_a_job_id_is_the_model_the_suffix_and_a_random_tail(tmp_path: Path) -> None:
    jobs = _World(tmp_path).jobs
    assert re.fullmatch(f"ft-phi-4-mini-instruct-{HEX}{{6}}", jobs.new_job_id("Phi-4-mini-instruct", None))
    assert re.fullmatch(f"ft-phi-4-mini-instruct-v2-{HEX}{{6}}", jobs.new_job_id("Phi-4-mini-instruct", "V2"))
    long = "a" * 27 + "-" + "b" * 20  # cut at 28 characters, then the dash left at the end
    assert re.fullmatch(f"ft-{'a' * 27}-{HEX}{{6}}", jobs.new_job_id(long, None))
    assert re.fullmatch(f"ft-{'c' * 28}-{HEX}{{6}}", jobs.new_job_id("c" * 40, None))
    assert re.fullmatch(f"ft-m-{'s' * 15}-{HEX}{{6}}", jobs.new_job_id("m", "s" * 15 + "-tail"))
    assert re.fullmatch(f"ft-m-{'s' * 16}-{HEX}{{6}}", jobs.new_job_id("m", "s" * 20))
    assert re.fullmatch(f"ft-model-{HEX}{{6}}", jobs.new_job_id("***", "--"))
    assert re.fullmatch(f"ft-model-{HEX}{{6}}", jobs.new_job_id("", ""))
    assert jobs.new_job_id("m", None) != jobs.new_job_id("m", None)


def test_a_submit_records_the_job_its_spec_and_its_audit_line(tmp_path: Path) -> None:
    w = _World(tmp_path)
    data = w.data()
    hp = Hyperparameters(n_epochs=2)
    checked = w.jobs.check(
        SubmitRequest(
            model="ftbot-tiny", training=data, hyperparameters=hp, suffix="My V2", tags={"team": "ml"}
        )
    )
    now = w.next_now()

    job = w.jobs.submit(ME, checked)

    assert re.fullmatch(f"ft-ftbot-tiny-my-v2-{HEX}{{6}}", job.id)
    tail = job.id.rsplit("-", 1)[-1]
    assert job.spec == JobSpec(
        name=job.id,
        base_model="ftbot-tiny",
        task=Task.CHAT_COMPLETION,
        training=DatasetRef(kind="file", value=str(data.path), name="train.jsonl"),
        validation=None,
        hyperparameters=hp,
        suffix="My V2",
        output_model_name=f"ftbot-tiny-{tail}-my-v2",
        tags={"team": "ml", "ftbot_job": job.id, "slack_channel": "CJOBS1", "slack_user": USER},
        method=Method.SUPERVISED,
        training_type=None,
    )
    assert (job.team_id, job.channel_id, job.user_id, job.summary) == ("T1", "CJOBS1", USER, checked.summary)
    assert (job.state, job.service_status, job.rerun_of, job.version) == (
        JobState.PENDING,
        "submitting",
        None,
        1,
    )
    assert job.created_at == job.updated_at == now
    assert w.stored(job.id) == job
    assert w.audit() == [(USER, "submit", job.id, "ok", "model=ftbot-tiny examples=30")]
    assert w.keyed(job.id) == [] and w.changes == 1
    assert read_sources(w.work / job.id).training == LocalData(path=data.path.resolve(), name="train.jsonl")
    assert w.backend.calls["submit_job"] == 0


def test_a_job_files_own_name_output_model_and_tags_are_kept(tmp_path: Path) -> None:
    w = _World(tmp_path, _AzureBackend())
    pinned = "azureml://registries/azureml/models/Phi-4-mini-instruct/versions/7"
    w.backend.catalogue = (w.backend.catalogue[1].model_copy(update={"model_id": pinned}),)
    request = SubmitRequest(
        model="Phi-4-mini-instruct",
        training=w.data(),
        name="my-job-x1",
        output_model_name="phi-support",
        tags={"ftbot_job": "spoofed", "cost": "c1"},
    )
    (w.work / "my-job-x1").mkdir(parents=True)  # left by an earlier try of the same job file
    job = w.jobs.submit(Actor(user_id=USER), w.jobs.check(request))
    assert job.id == "my-job-x1" and (w.work / "my-job-x1" / "sources.json").is_file()
    assert job.spec.output_model_name == "phi-support"
    assert job.spec.base_model == "Phi-4-mini-instruct"
    assert job.spec.tags == {"ftbot_job": "my-job-x1", "cost": "c1", "slack_channel": "", "slack_user": USER}
    assert job.channel_id == ""

    w.backend.catalogue = (w.backend.catalogue[0].model_copy(update={"name": pinned, "model_id": pinned}),)
    by_id = w.jobs.submit(ME, w.jobs.check(SubmitRequest(model=pinned, training=w.data(), name="pinned-1")))
    assert by_id.spec.base_model == pinned


def test_the_output_model_is_named_after_the_model_and_the_jobs_last_part(tmp_path: Path) -> None:
    w = _World(tmp_path)
    job = w.jobs.submit(ME, w.jobs.check(SubmitRequest(model="ftbot-tiny", training=w.data(), name="a-b-c")))
    assert job.spec.output_model_name == "ftbot-tiny-c"
    plain = w.jobs.submit(ME, w.jobs.check(SubmitRequest(model="ftbot-tiny", training=w.data(), name="abc")))
    assert plain.spec.output_model_name == "ftbot-tiny-abc"


def test_a_split_submit_writes_both_halves_in_the_jobs_folder(tmp_path: Path) -> None:
    w = _World(tmp_path)
    data = w.data(40)
    job = w.jobs.submit(ME, w.jobs.check(SubmitRequest(model="ftbot-tiny", training=data, split=0.25)))

    job_dir = w.work / job.id
    train, valid = split_dataset(data.path, 0.25, seed=0, out_dir=tmp_path / "expected")
    assert job.spec.training == DatasetRef(kind="file", value=str(job_dir / train.name), name="train.jsonl")
    assert job.spec.validation == DatasetRef(
        kind="file", value=str(job_dir / valid.name), name="train.jsonl (split 0.25)"
    )
    assert (job_dir / train.name).read_text() == train.read_text()
    assert (job_dir / valid.name).read_text() == valid.read_text()
    assert read_sources(job_dir).split == 0.25


def test_given_validation_data_is_referenced_and_not_split(tmp_path: Path) -> None:
    w = _World(tmp_path, _AzureBackend())
    valid = ServiceData(ref=ASSET, name="held-out:2")
    job = w.jobs.submit(
        ME, w.jobs.check(SubmitRequest(model="ftbot-tiny", training=w.data(), validation=valid, split=0.2))
    )
    assert job.spec.validation == DatasetRef(kind="asset", value=ASSET, name="held-out:2")
    assert job.spec.training.kind == "file"


def test_a_service_dataset_is_referenced_by_its_id(tmp_path: Path) -> None:
    w = _World(tmp_path, _AzureBackend())
    training = ServiceData(ref=ASSET, name="chats:2")
    job = w.jobs.submit(ME, w.jobs.check(SubmitRequest(model="Phi-4-mini-instruct", training=training)))
    assert job.spec.training == DatasetRef(kind="asset", value=ASSET, name="chats:2")
    assert job.spec.validation is None


def test_a_rerun_is_told_in_the_first_jobs_thread(tmp_path: Path) -> None:
    w = _World(tmp_path)
    first = w.submitted()
    request = SubmitRequest(
        model="ftbot-tiny", training=w.data(), rerun_of=first.id, method=Method.SUPERVISED
    )
    rerun = w.jobs.submit(OTHER, w.jobs.check(request))
    assert rerun.rerun_of == first.id
    assert w.keyed(first.id) == [
        (f"{first.id}:rerun:{rerun.id}", PostKind.RERUN, {"job": rerun.id, "by": "UOTHER001"})
    ]
    assert w.keyed(rerun.id) == []


def test_the_tier_and_method_reach_the_spec(tmp_path: Path) -> None:
    from tests.support.data import preference_lines

    w = _World(tmp_path, RichFakeBackend())
    data = w.data(text=preference_lines(20))
    request = SubmitRequest(model="ftbot-tiny", training=data, method=Method.DPO, training_type="developer")
    job = w.jobs.submit(ME, w.jobs.check(request))
    assert (job.spec.method, job.spec.training_type) == (Method.DPO, "Developer")


# --- start ----------------------------------------------------------------------------------------


def test_start_uploads_each_file_and_submits_the_uploaded_spec(tmp_path: Path) -> None:
    w = _World(tmp_path)
    data = w.data(40)
    job = w.jobs.submit(ME, w.jobs.check(SubmitRequest(model="ftbot-tiny", training=data, split=0.25)))
    changes = w.changes

    started = w.jobs.start(job.id)

    assert started.state is JobState.QUEUED and started.service_status == "Queued"
    assert started.version == 2  # one new card version: the spec's uploads alone do not make one
    assert w.backend.calls["cancel_job"] == 0
    assert started.spec.training == DatasetRef(
        kind="asset", value=f"asset:{job.id}-training", name="train.jsonl"
    )
    assert started.spec.validation == DatasetRef(
        kind="asset", value=f"asset:{job.id}-validation", name="train.jsonl (split 0.25)"
    )
    assert w.backend.jobs[job.id]["spec"] == started.spec
    assert w.stored(job.id) == started
    assert [p.name for p in w.backend.uploads] == [
        Path(job.spec.training.value).name,
        Path(str(job.spec.validation and job.spec.validation.value)).name,
    ]
    assert [k for k, _, _ in w.keyed(job.id)] == [f"{job.id}:state:queued"]
    assert w.changes > changes


def test_start_leaves_service_data_where_it_is(tmp_path: Path) -> None:
    w = _World(tmp_path, _AzureBackend())
    training = ServiceData(ref=ASSET, name="chats:2")
    job = w.jobs.submit(ME, w.jobs.check(SubmitRequest(model="Phi-4-mini-instruct", training=training)))
    started = w.jobs.start(job.id)
    assert started.spec == job.spec and w.backend.calls["upload_dataset"] == 0
    assert w.backend.jobs[job.id]["spec"] == job.spec


class _TaskSeen(FakeBackend):
    def __init__(self) -> None:
        super().__init__()
        self.tasks: list[tuple[str, Task]] = []

    def upload_dataset(self, path: Path, *, name: str, task: Task) -> DatasetRef:
        self.tasks.append((name, task))
        return super().upload_dataset(path, name=name, task=task)


def test_uploads_are_named_after_the_job_and_carry_its_task(tmp_path: Path) -> None:
    backend = _TaskSeen()
    w = _World(tmp_path, backend)
    backend.catalogue = (backend.catalogue[1],)
    job = w.jobs.submit(
        ME,
        w.jobs.check(
            SubmitRequest(
                model="Phi-4-mini-instruct",
                training=w.data(text=_text_lines(20)),
                validation=w.data(name="v.jsonl", text=_text_lines(5)),
                task=Task.TEXT_COMPLETION,
                name="text-job",
            )
        ),
    )
    w.jobs.start(job.id)
    assert backend.tasks == [
        ("text-job-training", Task.TEXT_COMPLETION),
        ("text-job-validation", Task.TEXT_COMPLETION),
    ]


def _text_lines(n: int) -> str:
    return "".join(
        json.dumps({"prompt": f"Where is order {i}?", "completion": f"It ships {i}."}) + "\n"
        for i in range(n)
    )


def test_start_of_a_job_that_is_no_longer_pending_does_nothing(tmp_path: Path) -> None:
    w = _World(tmp_path)
    job = w.running()
    calls = dict(w.backend.calls)
    assert w.jobs.start(job.id) == w.stored(job.id) == job
    assert dict(w.backend.calls) == calls


def test_a_refused_upload_fails_the_job_here(tmp_path: Path) -> None:
    w = _World(tmp_path)
    job = w.submitted()
    Path(job.spec.training.value).unlink()
    now = w.next_now()

    failed = w.jobs.start(job.id)

    reason = f"missing {job.spec.training.value}"
    assert (failed.state, failed.service_status, failed.error) == (JobState.FAILED, "failed", reason)
    assert failed.finished_at == failed.updated_at == now
    assert failed == w.stored(job.id)
    assert w.keyed(job.id) == [(f"{job.id}:state:failed", PostKind.FAILED, {"reason": reason})]
    assert w.backend.calls["submit_job"] == 0


@pytest.mark.parametrize("error", [NotFound("no such model"), Conflict("name taken"), InvalidInput("bad lr")])
def test_a_refused_submit_fails_the_job_with_its_reason(tmp_path: Path, error: Exception) -> None:
    w = _World(tmp_path)
    job = w.submitted()
    w.backend.fail_next["submit_job"] = error
    failed = w.jobs.start(job.id)
    assert (failed.state, failed.error) == (JobState.FAILED, str(error))


def test_an_unavailable_backend_leaves_the_job_pending_for_the_scheduler(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    w = _World(tmp_path)
    job = w.submitted()
    w.backend.fail_next["submit_job"] = Unavailable("throttled")
    changes = w.changes

    with caplog.at_level("WARNING", logger="ftbot.lifecycle"):
        same = w.jobs.start(job.id)

    assert same == job == w.stored(job.id)
    assert w.keyed(job.id) == [] and w.changes == changes
    message = f"backend unavailable while submitting {job.id} (throttled); the scheduler retries"
    assert [(r.name, r.levelname, r.getMessage()) for r in caplog.records] == [
        ("ftbot.lifecycle", "WARNING", message)
    ]
    assert w.jobs.start(job.id).state is JobState.QUEUED


def test_a_cancel_asked_before_the_start_ends_the_job_here(tmp_path: Path) -> None:
    w = _World(tmp_path)
    job = w.submitted()
    with w.store.transaction() as tx:
        tx.request_cancel(job.id, USER, w.clock.now())

    ended = w.jobs.start(job.id)

    reason = "cancelled before it was submitted"
    assert (ended.state, ended.service_status, ended.error) == (JobState.CANCELLED, "cancelled", None)
    assert ended.finished_at is not None and w.changes == 2  # the submit's and this one's
    assert w.keyed(job.id) == [(f"{job.id}:state:cancelled", PostKind.CANCELLED, {"reason": reason})]
    assert w.backend.calls["submit_job"] == 0 and w.backend.calls["upload_dataset"] == 0


class _CancelWhileSubmitting(FakeBackend):
    """A backend during whose submit someone asks to cancel the job; ``answer``: the state it answers."""

    def __init__(self, store: MemoryStore, answer: JobState = JobState.QUEUED) -> None:
        super().__init__()
        self.store = store
        self.answer = answer

    def submit_job(self, spec: JobSpec) -> Job:
        with self.store.transaction() as tx:
            tx.request_cancel(spec.name, USER, datetime(2026, 1, 1, tzinfo=UTC))
        job = super().submit_job(spec)
        return job.model_copy(update={"state": self.answer, "service_status": self.answer.value})


def test_a_cancel_asked_during_the_submit_cancels_it_at_the_backend(tmp_path: Path) -> None:
    store = MemoryStore()
    backend = _CancelWhileSubmitting(store)
    w = _World(tmp_path, backend, store=store)
    job = w.submitted()

    started = w.jobs.start(job.id)

    assert started.state is JobState.QUEUED  # as the submit answered; the next poll sees the cancel
    assert backend.calls["cancel_job"] == 1
    assert w.jobs.poll(job.id).state is JobState.CANCELLED


def test_a_job_the_backend_ended_at_once_is_not_cancelled_again(tmp_path: Path) -> None:
    store = MemoryStore()
    backend = _CancelWhileSubmitting(store, JobState.FAILED)
    w = _World(tmp_path, backend, store=store)
    job = w.submitted()
    assert w.jobs.start(job.id).state is JobState.FAILED
    assert backend.calls["cancel_job"] == 0


# --- poll and record ------------------------------------------------------------------------------


def test_poll_starts_a_pending_job(tmp_path: Path) -> None:
    w = _World(tmp_path)
    job = w.submitted()
    assert w.jobs.poll(job.id).state is JobState.QUEUED
    assert w.backend.calls["submit_job"] == 1 and w.backend.calls["get_job"] == 0


def test_poll_of_a_finished_job_asks_nothing(tmp_path: Path) -> None:
    w = _World(tmp_path)
    job = w.submitted()
    w.jobs.start(job.id)
    while not w.jobs.poll(job.id).state.terminal:
        pass
    calls = w.backend.calls["get_job"]
    assert w.jobs.poll(job.id) == w.stored(job.id)
    assert w.backend.calls["get_job"] == calls


def test_a_poll_with_nothing_new_writes_nothing(tmp_path: Path) -> None:
    w = _World(tmp_path)
    job = w.running()
    w.backend.hold.add(job.id)
    changes = w.changes
    before = w.stored(job.id)
    assert w.jobs.poll(job.id) == before == w.stored(job.id)
    assert w.changes == changes


def test_a_poll_records_what_changed(tmp_path: Path) -> None:
    w = _World(tmp_path)
    job = w.submitted()
    w.jobs.start(job.id)
    assert w.jobs.poll(job.id).state is JobState.RUNNING
    assert w.stored(job.id).state is JobState.RUNNING


def test_record_stores_a_backends_answer(tmp_path: Path) -> None:
    w = _World(tmp_path)
    job = w.running()
    answer = Job(id=job.id, state=JobState.PAUSED, service_status="Paused")
    assert w.jobs.record(job.id, answer).state is JobState.PAUSED
    assert w.stored(job.id).state is JobState.PAUSED


# --- cancel ---------------------------------------------------------------------------------------


def test_only_the_submitter_or_an_approver_may_cancel(tmp_path: Path) -> None:
    w = _World(tmp_path)
    job = w.running()
    with pytest.raises(PermissionDenied) as e:
        w.jobs.cancel(OTHER, job.id)
    assert e.value.message == f"Only the submitter ({USER}) or an approver can cancel {job.id}."
    assert e.value.names == {"owner": USER, "job": job.id}
    assert type(e.value.names["owner"]).__name__ == "User"
    assert w.audit()[-1] == ("UOTHER001", "cancel", job.id, "denied", "not the submitter or an approver")
    assert w.backend.calls["cancel_job"] == 0

    cancelled = w.jobs.cancel(BOSS, job.id)
    assert cancelled.state is JobState.CANCELLED and cancelled == w.stored(job.id)
    assert w.store.tables.cancels == {job.id: APPROVER}
    assert w.audit()[-1] == (APPROVER, "cancel", job.id, "ok", "")
    assert w.backend.calls["cancel_job"] == 1


def test_a_cancel_request_is_recorded_with_who_and_when(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = _World(tmp_path)
    job = w.running()
    asked: list[tuple[str, str, datetime]] = []
    original = MemoryTx.request_cancel

    def request_cancel(tx: MemoryTx, job_id: str, by: str, at: datetime) -> str | None:
        asked.append((job_id, by, at))
        return original(tx, job_id, by, at)

    monkeypatch.setattr(MemoryTx, "request_cancel", request_cancel)
    now = w.next_now()
    w.jobs.cancel(ME, job.id)
    assert asked == [(job.id, USER, now)]


def test_a_finished_job_cannot_be_cancelled(tmp_path: Path) -> None:
    w = _World(tmp_path)
    job = w.running()
    w.jobs.cancel(ME, job.id)
    audit = len(w.audit())
    with pytest.raises(Conflict) as e:
        w.jobs.cancel(ME, job.id)
    assert e.value.message == f"{job.id} has already cancelled; there is nothing to cancel."
    assert e.value.names == {"job": job.id}
    assert len(w.audit()) == audit


def test_a_second_cancel_names_who_asked_first(tmp_path: Path) -> None:
    w = _World(tmp_path)
    job = w.running()
    with w.store.transaction() as tx:
        tx.request_cancel(job.id, APPROVER, w.clock.now())
    with pytest.raises(Conflict) as e:
        w.jobs.cancel(ME, job.id)
    assert e.value.message == f"A cancel of {job.id} was already requested by {APPROVER}."
    assert e.value.names == {"job": job.id, "by": APPROVER}
    assert type(e.value.names["by"]).__name__ == "User"
    assert w.audit()[-1] == (USER, "cancel", job.id, "duplicate", "")
    assert w.backend.calls["cancel_job"] == 0 and w.stored(job.id).state is JobState.RUNNING


def test_cancel_of_a_pending_job_ends_it_here(tmp_path: Path) -> None:
    w = _World(tmp_path)
    job = w.submitted()
    ended = w.jobs.cancel(ME, job.id)
    assert ended.state is JobState.CANCELLED and ended.service_status == "cancelled"
    assert w.backend.calls["submit_job"] == 0 and w.backend.calls["cancel_job"] == 0


def test_cancel_of_a_running_job_records_the_backends_answer(tmp_path: Path) -> None:
    w = _World(tmp_path)
    job = w.running()
    ended = w.jobs.cancel(ME, job.id)
    assert (ended.state, ended.service_status) == (JobState.CANCELLED, "Cancelled")
    assert f"{job.id}:state:cancelled" in [k for k, _, _ in w.keyed(job.id)]


def test_validation_data_checked_alone_has_no_minimum(tmp_path: Path) -> None:
    w = _World(tmp_path, _AzureBackend())
    small = w.data(3, name="valid.jsonl")
    beside = w.jobs.check(SubmitRequest(model="ftbot-tiny", training=w.data(), validation=small))
    assert beside.report.validation is not None and beside.report.validation.ok
    training = ServiceData(ref=ASSET, name="chats:2")
    alone = w.jobs.check(SubmitRequest(model="ftbot-tiny", training=training, validation=small))
    assert alone.report.validation is not None and alone.report.validation.examples == 3
    one = w.jobs.check(
        SubmitRequest(model="ftbot-tiny", training=training, validation=w.data(1, name="v1.jsonl"))
    )
    assert one.report.validation is not None and one.report.validation.ok  # a single example will do
    empty = w.data(name="v0.jsonl", text="")
    with pytest.raises(DatasetRejected) as e:  # but not none at all
        w.jobs.check(SubmitRequest(model="ftbot-tiny", training=training, validation=empty))
    assert (e.value.field, e.value.names) == ("validation", {"dataset": "v0.jsonl"})


class _Aliases(FakeBackend):
    """Finds a base model by its full id or its name in any case, as a service's catalogue does."""

    kind = "azure"

    def get_base_model(self, name: str) -> BaseModelInfo:
        for m in self.catalogue:
            if name in (m.model_id, m.name.lower()):
                return m
        return super().get_base_model(name)


def test_the_spec_names_the_model_as_the_backend_does_unless_given_its_full_id(tmp_path: Path) -> None:
    pinned = "azureml://registries/azureml/models/Phi-4-mini-instruct/versions/7"
    backend = _Aliases()
    backend.catalogue = (backend.catalogue[1].model_copy(update={"model_id": pinned}),)
    w = _World(tmp_path, backend)
    by_alias = w.jobs.submit(ME, w.jobs.check(SubmitRequest(model="phi-4-mini-instruct", training=w.data())))
    assert by_alias.spec.base_model == "Phi-4-mini-instruct"
    by_id = w.jobs.submit(ME, w.jobs.check(SubmitRequest(model=pinned, training=w.data())))
    assert by_id.spec.base_model == pinned
    assert re.fullmatch(f"phi-4-mini-instruct-{HEX}{{6}}", by_id.spec.output_model_name)


# --- budgets --------------------------------------------------------------------------------------


def _priced(
    tmp_path: Path,
    *,
    costs: bool = True,
    budgets: bool = True,
    per_million: int = 1_000_000,
    backend: FakeBackend | None = None,
) -> _World:
    """A world whose channel budgets (``default=1``) any read data overruns (at USD 1 a token, the
    default ``per_million``), with the costs and the budgets its ``Jobs`` sees chosen. Its ``Developer``
    tier is billed by the hour."""
    w = _World(tmp_path, backend)
    price = {"training_per_million_tokens": per_million, "tiers": {"Developer": {"training_per_hour": 5}}}
    prices = PriceTable.model_validate({"currency": "USD", "models": {"ftbot-tiny": price}})
    book = Costs(MemoryCostBook(), w.clock, prices)
    w.jobs.costs = book if costs else None
    w.jobs.budgets = BudgetGuard(parse_budgets("default=1"), book) if budgets else None
    return w


@pytest.mark.parametrize(
    ("costs", "budgets", "actor", "state"),
    [
        (True, True, ME, JobState.HELD),
        (True, True, Actor(user_id=USER, team_id="T1"), JobState.PENDING),  # no channel, no budget
        (False, True, ME, JobState.PENDING),
        (True, False, ME, JobState.PENDING),
    ],
)
def test_a_submit_is_held_only_with_prices_budgets_and_a_channel(
    tmp_path: Path, costs: bool, budgets: bool, actor: Actor, state: JobState
) -> None:
    w = _priced(tmp_path, costs=costs, budgets=budgets)
    job = w.submitted(actor=actor)
    assert job.state is state
    assert job.service_status == ("submitting" if state is JobState.PENDING else "awaiting budget approval")


HOURLY_HOLD = ("held", "awaiting budget approval: cost not estimated")


def test_a_tier_billed_by_the_hour_has_no_estimate_so_an_approver_decides(tmp_path: Path) -> None:
    w = _priced(tmp_path, backend=RichFakeBackend())
    request = SubmitRequest(model="ftbot-tiny", training=w.data(), training_type="Developer")
    held = w.submitted(request)
    assert (held.state.value, held.service_status) == HOURLY_HOLD
    over = w.submitted(replace(request, training_type="Standard"))  # by the token: over the budget
    assert (over.state.value, over.service_status) == ("held", "awaiting budget approval")


def test_unread_data_on_a_tier_billed_by_the_hour_is_held_for_its_hours(tmp_path: Path) -> None:
    w = _priced(tmp_path, backend=RichFakeBackend())  # foundry: reads file- ids
    unread = ServiceData(ref="file-abc", name="f")
    request = SubmitRequest(model="ftbot-tiny", training=unread, training_type="Developer")
    held = w.submitted(request)
    assert (held.state.value, held.service_status) == HOURLY_HOLD
    assert w.submitted(replace(request, training_type="Standard")).state is JobState.HELD


def _spent_by_another_team(w: _World) -> None:
    """10 million tokens trained this month in a channel of the same id in another workspace."""
    assert w.jobs.costs is not None
    rate = w.jobs.costs.training_rate("ftbot-tiny", None)
    w.jobs.costs.book.record(
        CostFact(
            key="training:other",
            kind=CostKind.TRAINING,
            team_id="T2",
            channel_id="CJOBS1",
            user_id="U2",
            job_id="other",
            model="ftbot-tiny",
            at=w.clock.t - timedelta(hours=1),
            tokens=10_000_000,
            rate=rate,
        )
    )


def test_a_budget_counts_the_spending_of_its_own_workspace(tmp_path: Path) -> None:
    w = _priced(tmp_path, per_million=1)  # a few thousand tokens: far below a cent
    _spent_by_another_team(w)
    assert w.jobs.budgets is not None
    assert w.jobs.budgets.spent("", "CJOBS1", w.clock.now()) > 1  # what all workspaces spent
    assert w.submitted().state is JobState.PENDING


def test_a_hold_for_unread_data_says_what_its_workspace_spent(tmp_path: Path) -> None:
    w = _priced(tmp_path, backend=RichFakeBackend())
    _spent_by_another_team(w)
    job = w.submitted(SubmitRequest(model="ftbot-tiny", training=ServiceData(ref="file-abc", name="f")))
    assert job.state is JobState.HELD
    [detail] = [d for _, action, _, _, d in w.audit() if action == "submit.hold"]
    assert "spent=USD 0.00 budget=USD 1.00" in detail


def test_read_data_without_a_token_count_is_priced_at_nothing(tmp_path: Path, spy: _Spy) -> None:
    w = _priced(tmp_path)
    spy.report = _stats_report(None, 3)  # tokens not counted
    assert w.submitted().state is JobState.PENDING


def test_a_held_job_cancelled_is_withdrawn_without_reaching_the_backend(tmp_path: Path) -> None:
    w = _priced(tmp_path)
    job = w.submitted()
    assert job.state is JobState.HELD
    ended = w.jobs.cancel(ME, job.id)
    assert (ended.state, ended.service_status) == (JobState.CANCELLED, "cancelled")
    assert ended == w.stored(job.id)
    with w.store.transaction() as tx:
        assert tx.pending_approval(job.id) is None
    assert w.audit()[-1][:4] == (USER, "cancel", job.id, "ok")
    assert w.backend.calls["submit_job"] == 0 and w.backend.calls["cancel_job"] == 0


def test_a_hold_for_training_by_the_hour_says_what_its_workspace_spent(tmp_path: Path) -> None:
    w = _priced(tmp_path, backend=RichFakeBackend())
    _spent_by_another_team(w)
    job = w.submitted(SubmitRequest(model="ftbot-tiny", training=w.data(), training_type="Developer"))
    assert (job.state.value, job.service_status) == HOURLY_HOLD
    [detail] = [d for _, action, _, _, d in w.audit() if action == "submit.hold"]
    assert detail.endswith("(USD 5.00 an hour), and how long it trains is not known before it runs.): "
                           "spent=USD 0.00 budget=USD 1.00")  # fmt: skip


def _tiered(tmp_path: Path, price: dict[str, object]) -> _World:
    w = _World(tmp_path, RichFakeBackend())
    prices = PriceTable.model_validate({"currency": "USD", "models": {"ftbot-tiny": price}})
    w.jobs.costs = book = Costs(MemoryCostBook(), w.clock, prices)
    w.jobs.budgets = BudgetGuard(parse_budgets("default=1"), book)
    return w


def test_the_tier_chosen_prices_the_estimate_held_against_the_budget(tmp_path: Path) -> None:
    # USD 1 a token by default (over the budget of USD 1), nothing on the Global tier (within it)
    free = {"GlobalStandard": {"training_per_million_tokens": 0}}
    w = _tiered(tmp_path, {"training_per_million_tokens": 1_000_000, "tiers": free})
    request = SubmitRequest(model="ftbot-tiny", training=w.data(), training_type="GlobalStandard")
    assert w.submitted(request).state is JobState.PENDING
    assert w.submitted(replace(request, training_type=None)).state is JobState.HELD


def test_unread_data_is_held_when_the_tier_chosen_is_priced_by_the_token(tmp_path: Path) -> None:
    by_token = {"GlobalStandard": {"training_per_million_tokens": 1}}
    w = _tiered(tmp_path, {"hosting_per_hour": 1, "tiers": by_token})
    unread = ServiceData(ref="file-abc", name="f")
    request = SubmitRequest(model="ftbot-tiny", training=unread, training_type="GlobalStandard")
    assert w.submitted(request).state is JobState.HELD  # no token count, priced by the token: unestimated
    assert w.submitted(replace(request, training_type=None)).state is JobState.PENDING  # no training price
