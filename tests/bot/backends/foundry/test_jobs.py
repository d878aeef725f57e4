"""Jobs on the v1 API through the wire fake: the create body, idempotency under lost answers, every
status, events and metrics, failures, pause/resume and checkpoints."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

import pytest

from bot.backends.foundry.backend import FoundryBackend
from bot.backends.foundry.events import BATCH_S, job_events
from bot.backends.foundry.jobs import JOB_STATES
from commands.errors import Conflict, InvalidInput, NotFound
from commands.models import JobSpec, JobState, Method
from tests.bot.backends.foundry.conftest import run_to_end
from tests.fakes.foundry import GPT4O_MINI, FakeFoundry

World = tuple[FoundryBackend, FakeFoundry]


def test_create_body_carries_method_tier_and_key(world: World, make_spec: Callable[..., JobSpec]) -> None:
    backend, fake = world
    job = backend.submit_job(make_spec(suffix="support_v2"))
    assert job.id == "ftbot-job-1" and job.state is JobState.QUEUED and job.service_status == "pending"
    (create,) = fake.requests_to("POST", r"^/fine_tuning/jobs$")
    body = create.body
    assert body["metadata"] == {"ftbot_job": "ftbot-job-1"}
    assert body["trainingType"] == "Standard"
    assert body["suffix"] == "support_v2"  # the user's, untouched
    assert body["method"] == {
        "type": "supervised",
        "supervised": {
            "hyperparameters": {"n_epochs": "auto", "batch_size": "auto", "learning_rate_multiplier": "auto"}
        },
    }
    assert body["training_file"].startswith("file-")
    (upload,) = fake.requests_to("POST", r"^/files$")
    assert upload.body["purpose"] == "fine-tune"
    assert upload.body["file"][1].startswith(b"\xef\xbb\xbf")  # UTF-8 with a BOM, as the docs ask


def test_dpo_job_sends_beta_and_the_chosen_tier(world: World, make_spec: Callable[..., JobSpec]) -> None:
    backend, fake = world
    backend.submit_job(make_spec(method=Method.DPO, training_type="Developer"))
    (create,) = fake.requests_to("POST", r"^/fine_tuning/jobs$")
    assert create.body["method"]["type"] == "dpo"
    assert create.body["method"]["dpo"]["hyperparameters"]["beta"] == 0.1
    assert create.body["trainingType"] == "developerTier"


def test_dpo_on_a_model_without_it_is_refused(world: World, make_spec: Callable[..., JobSpec]) -> None:
    backend, fake = world
    with pytest.raises(InvalidInput, match="cannot be trained with dpo"):
        backend.submit_job(make_spec(base_model=GPT4O_MINI, method=Method.DPO))
    assert not fake.requests_to("POST", r"^/fine_tuning/jobs$")


def test_unknown_training_type_is_refused(world: World, make_spec: Callable[..., JobSpec]) -> None:
    backend, _ = world
    with pytest.raises(InvalidInput, match="Unknown training type"):
        backend.submit_job(make_spec(training_type="Premium"))


def test_lost_answer_to_create_never_makes_a_second_job(
    world: World, make_spec: Callable[..., JobSpec]
) -> None:
    backend, fake = world
    fake.inject_timeout("POST", r"^/fine_tuning/jobs$", after=True)  # created, answer lost
    job = backend.submit_job(make_spec())
    assert len(fake.jobs) == 1
    assert job.id == "ftbot-job-1" and job.service_status == "pending"
    assert len(fake.requests_to("POST", r"^/fine_tuning/jobs$")) == 1
    again = backend.submit_job(make_spec())  # and a second submit of the same name finds it too
    assert again.id == job.id and len(fake.jobs) == 1


def test_throttled_create_is_retried_once_not_created_twice(
    world: World, make_spec: Callable[..., JobSpec]
) -> None:
    backend, fake = world
    fake.inject(
        "POST",
        r"^/fine_tuning/jobs$",
        429,
        {"error": {"code": "tooManyRequests", "message": "slow"}},
        headers={"Retry-After": "1"},
    )
    backend.submit_job(make_spec())
    assert len(fake.jobs) == 1
    assert len(fake.requests_to("POST", r"^/fine_tuning/jobs$")) == 2


def test_transient_500_on_reads_is_retried_by_the_client(
    world: World, make_spec: Callable[..., JobSpec]
) -> None:
    backend, fake = world
    backend.submit_job(make_spec())
    fake.inject(
        "GET",
        r"^/fine_tuning/jobs/ftjob-[^/]+$",
        500,
        {"error": {"code": "internalFailure", "message": "x"}},
        headers={"retry-after-ms": "1"},
    )
    assert backend.get_job("ftbot-job-1").service_status == "pending"


def test_whole_run_has_events_metrics_tokens_and_model(
    world: World, make_spec: Callable[..., JobSpec]
) -> None:
    backend, fake = world
    backend.submit_job(make_spec())
    job = run_to_end(backend, fake, "ftbot-job-1")
    assert job.state is JobState.SUCCEEDED
    assert job.output_model and job.output_model.startswith("gpt-4.1-2025-04-14.ft-")
    assert job.trained_tokens == 2342
    assert [m.step for m in job.metrics] == [10, 20, 30]
    assert job.metrics[0].valid_loss is None  # -1 means no value
    kinds = [e.kind for e in job.events]
    assert kinds[0] == "queued" and "started" in kinds and kinds[-1] == "completed"
    assert any("Training hours billed" in e.message for e in job.events if e.kind == "info")
    assert job.finished_at is not None


def test_failed_job_carries_the_service_message_and_code(
    world: World, make_spec: Callable[..., JobSpec]
) -> None:
    backend, fake = world
    fake.fail_job("ftbot-job-1", "The provided training data failed RAI checks for harm types: [violence].")
    backend.submit_job(make_spec())
    job = run_to_end(backend, fake, "ftbot-job-1")
    assert job.state is JobState.FAILED
    assert (
        job.error
        == "The provided training data failed RAI checks for harm types: [violence]. (invalidTrainingData)"
    )


def test_every_status_is_mapped_and_unknown_kept(world: World, make_spec: Callable[..., JobSpec]) -> None:
    backend, fake = world
    expected = {
        "created": JobState.QUEUED,
        "pending": JobState.QUEUED,
        "validating_files": JobState.QUEUED,
        "queued": JobState.QUEUED,
        "running": JobState.RUNNING,
        "pausing": JobState.RUNNING,
        "paused": JobState.PAUSED,
        "resuming": JobState.RUNNING,
        "succeeded": JobState.SUCCEEDED,
        "failed": JobState.FAILED,
        "cancelled": JobState.CANCELLED,
    }
    assert expected == JOB_STATES
    backend.submit_job(make_spec())
    (raw,) = fake.jobs.values()
    raw["status"] = "archived_by_gremlins"
    job = backend.get_job("ftbot-job-1")
    assert job.state is JobState.UNKNOWN and job.service_status == "archived_by_gremlins"


def test_unknown_job_is_not_found(world: World) -> None:
    backend, _ = world
    with pytest.raises(NotFound):
        backend.get_job("ftbot-nothing")
    with pytest.raises(NotFound):
        backend.get_job("ftjob-0000")


def test_pause_and_resume(world: World, make_spec: Callable[..., JobSpec]) -> None:
    backend, fake = world
    fake.slow_jobs.add("ftbot-job-1")
    backend.submit_job(make_spec())
    with pytest.raises(Conflict, match="only a running job can be paused"):
        backend.pause_job("ftbot-job-1")  # still pending
    fake.advance()  # running, no step yet: the service refuses
    with pytest.raises(Conflict, match="would not pause"):
        backend.pause_job("ftbot-job-1")
    fake.advance()
    assert backend.pause_job("ftbot-job-1").service_status == "pausing"
    fake.advance()
    paused = backend.get_job("ftbot-job-1")
    assert paused.state is JobState.PAUSED
    with pytest.raises(Conflict):
        backend.pause_job("ftbot-job-1")
    resumed = backend.resume_job("ftbot-job-1")
    assert resumed.service_status == "resuming" and resumed.state is JobState.RUNNING
    fake.advance()
    assert backend.get_job("ftbot-job-1").state is JobState.RUNNING


def test_checkpoints_once_ended_oldest_first_last_three(
    world: World, make_spec: Callable[..., JobSpec]
) -> None:
    backend, fake = world
    backend.submit_job(make_spec())
    assert backend.list_checkpoints("ftbot-job-1") == []
    run_to_end(backend, fake, "ftbot-job-1")
    (raw,) = fake.jobs.values()
    raw["_steps"] = 5  # five checkpoints listed: three are deployable
    fake.jobs[raw["id"]] = raw
    checkpoints = backend.list_checkpoints("ftbot-job-1")
    assert [c.number for c in checkpoints] == [30, 40, 50]
    assert all(c.model.startswith("ftchkpt-") for c in checkpoints)
    assert checkpoints[0].metrics == {"train_loss": pytest.approx(10 / 30, abs=1e-3)}


def test_cancel(world: World, make_spec: Callable[..., JobSpec]) -> None:
    backend, fake = world
    backend.submit_job(make_spec())
    assert backend.cancel_job("ftbot-job-1").state is JobState.CANCELLED
    assert backend.cancel_job("ftbot-job-1").state is JobState.CANCELLED
    assert len(fake.requests_to("POST", r"/cancel$")) == 1


def _event(at: int, message: str, kind: str = "message") -> dict[str, object]:
    return {"id": f"e{at}", "created_at": at, "message": message, "type": kind, "level": "info"}


def test_events_are_batched_and_only_grow_at_the_end() -> None:
    base = 1_700_000_100 // BATCH_S * BATCH_S
    chatty = [_event(base + i, f"line {i}") for i in range(25)]
    first = job_events(chatty, ended=False)
    assert first == []  # the only window is still open
    later = [*chatty, _event(base + BATCH_S + 1, "Job started.")]
    second = job_events(later, ended=False)
    assert len(second) == 1 and second[0].kind == "info"
    assert second[0].message.count("\n") == 10 and second[0].message.endswith("and 15 more")
    ended = job_events([*later, _event(base + BATCH_S + 2, "Job succeeded.")], ended=True)
    assert ended[: len(second)] == second
    assert [e.kind for e in ended] == ["info", "started", "completed"]


def test_metrics_accept_both_accuracy_names_and_skip_minus_one() -> None:
    from bot.backends.foundry.events import metric_points

    points = metric_points(
        [
            {
                "type": "metrics",
                "data": {"step": 2, "train_loss": 0.5, "validation_mean_token_accuracy": 0.7},
            },
            {"type": "metrics", "data": {"step": 1, "train_loss": -1, "valid_mean_token_accuracy": 0.6}},
            {"type": "message", "data": {"step": 3}},
        ]
    )
    assert [(p.step, p.train_loss, p.valid_mean_token_accuracy) for p in points] == [
        (1, None, 0.6),
        (2, 0.5, 0.7),
    ]


def test_failure_text_without_code() -> None:
    from bot.backends.foundry.jobs import failure

    assert failure({"message": "Bad data key=abc123", "code": None}) == "Bad data key=***"
    assert failure(SimpleNamespace(model_dump=lambda: {"message": ""})) == "The service gave no reason."


def test_a_fake_that_moves_on_its_own_runs_a_job_to_the_end(make_spec: Callable[..., JobSpec]) -> None:
    from tests.fakes.foundry import backend_for_settings

    backend = backend_for_settings(None)
    backend.submit_job(make_spec())
    states = [backend.get_job("ftbot-job-1").state for _ in range(6)]
    assert states[0] is JobState.RUNNING and states[-1] is JobState.SUCCEEDED
