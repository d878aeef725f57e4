"""What a job's metrics say: finished epochs, the final numbers, and whether a poll brought news."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from commands.lifecycle.progress import completed_epochs, final_metrics, nothing_new
from commands.models import DatasetRef, Job, JobEvent, JobSpec, JobState, MetricPoint
from commands.records import JobRecord

T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
EVENT = JobEvent(at=T0, kind="info", message="m")


def _job(state: JobState = JobState.RUNNING, **kw: Any) -> Job:
    return Job(id="ftjob-1", state=state, service_status="Running", **kw)


def _record(state: JobState = JobState.RUNNING, status: str = "Running", url: str | None = None) -> JobRecord:
    spec = JobSpec(
        name="job-1",
        base_model="m",
        training=DatasetRef(kind="file", value="/d.jsonl"),
        output_model_name="m-ft",
    )
    return JobRecord(
        id="ftjob-1",
        channel_id="C1",
        user_id="U1",
        spec=spec,
        state=state,
        service_status=status,
        studio_url=url,
        created_at=T0,
        updated_at=T0,
    )


def _m(step: int, epoch: int | None, **kw: float | None) -> MetricPoint:
    return MetricPoint(step=step, epoch=epoch, **kw)


# --- nothing_new ---------------------------------------------------------------------------------------


def test_an_unchanged_poll_is_nothing_new() -> None:
    assert nothing_new(_record(), _job(), (0, 0)) is True
    assert nothing_new(_record(url="https://s"), _job(studio_url="https://s"), (0, 0)) is True
    assert nothing_new(_record(url="https://s"), _job(), (0, 0)) is True  # a url that went missing: no news


@pytest.mark.parametrize(
    ("record", "job", "seen"),
    [
        (_record(JobState.QUEUED), _job(JobState.RUNNING), (0, 0)),
        (_record(status="Preparing"), _job(), (0, 0)),
        (_record(), _job(events=(EVENT,)), (0, 0)),
        (_record(), _job(events=(EVENT, EVENT)), (1, 0)),
        (_record(), _job(metrics=(_m(1, 1), _m(2, 2))), (0, 0)),  # epoch 1 finished
        (_record(), _job(studio_url="https://s"), (0, 0)),
        (_record(url="https://old"), _job(studio_url="https://new"), (0, 0)),
    ],
)
def test_a_poll_with_anything_new_is_news(record: JobRecord, job: Job, seen: tuple[int, int]) -> None:
    assert nothing_new(record, job, seen) is False


def test_events_and_epochs_already_seen_are_not_news() -> None:
    job = _job(events=(EVENT, EVENT), metrics=(_m(1, 1), _m(2, 2)))
    assert nothing_new(_record(), job, (2, 1)) is True
    assert nothing_new(_record(), job, (3, 2)) is True


# --- completed_epochs ----------------------------------------------------------------------------------


def test_no_epochs_without_epoch_numbers() -> None:
    assert completed_epochs(_job(metrics=())) == []
    assert completed_epochs(_job(JobState.SUCCEEDED, metrics=(_m(1, None, train_loss=1.0),))) == []


def test_the_running_epoch_is_not_finished_until_a_later_one_starts_or_the_job_ends() -> None:
    metrics = (
        _m(1, 1, train_loss=2.0, valid_loss=1.9, valid_mean_token_accuracy=0.4),
        _m(2, 1, train_loss=1.5),
        _m(3, 2, train_loss=1.2, valid_loss=1.1),
        _m(4, None, train_loss=9.0),
    )
    running = completed_epochs(_job(metrics=metrics))
    assert running == [_m(2, 1, train_loss=1.5, valid_loss=1.9, valid_mean_token_accuracy=0.4)]
    done = completed_epochs(_job(JobState.SUCCEEDED, metrics=metrics))
    assert done == [
        _m(2, 1, train_loss=1.5, valid_loss=1.9, valid_mean_token_accuracy=0.4),
        _m(3, 2, train_loss=1.2, valid_loss=1.1, valid_mean_token_accuracy=None),
    ]


def test_an_epoch_keeps_its_last_validation_numbers_and_epochs_come_in_order() -> None:
    metrics = (
        _m(5, 3, train_loss=0.5),
        _m(1, 1, valid_loss=1.0, valid_mean_token_accuracy=0.1),
        _m(2, 1, valid_loss=0.8, valid_mean_token_accuracy=0.2),
        _m(3, 1, train_loss=0.9),
    )
    for state in (JobState.FAILED, JobState.CANCELLED):
        got = completed_epochs(_job(state, metrics=metrics))
        assert [(m.step, m.epoch) for m in got] == [(3, 1), (5, 3)]
        assert (got[0].valid_loss, got[0].valid_mean_token_accuracy, got[0].train_loss) == (0.8, 0.2, 0.9)
    assert [m.epoch for m in completed_epochs(_job(JobState.PAUSED, metrics=metrics))] == [1]


# --- final_metrics -------------------------------------------------------------------------------------


def test_final_metrics_first_and_last_values() -> None:
    job = _job(
        JobState.SUCCEEDED,
        trained_tokens=1234,
        metrics=(
            _m(1, 1, train_loss=2.0, train_mean_token_accuracy=0.3),
            _m(2, 1, valid_loss=1.5),
            _m(3, 2, train_loss=1.0, valid_loss=0.9, train_mean_token_accuracy=0.7),
            _m(4, 2),
        ),
    )
    assert final_metrics(job) == {
        "first_train_loss": 2.0,
        "final_train_loss": 1.0,
        "final_valid_loss": 0.9,
        "final_train_accuracy": 0.7,
        "trained_tokens": 1234,
        "steps": 4,
    }


def test_final_metrics_leaves_out_what_was_not_measured() -> None:
    assert final_metrics(_job(JobState.SUCCEEDED)) == {"steps": 0}
    assert final_metrics(_job(JobState.SUCCEEDED, trained_tokens=0, metrics=(_m(1, 1),))) == {"steps": 1}
    only_valid = _job(JobState.SUCCEEDED, metrics=(_m(1, 1, valid_loss=0.5),))
    assert final_metrics(only_valid) == {"final_valid_loss": 0.5, "steps": 1}


def test_final_metrics_take_the_very_last_of_several_values() -> None:
    job = _job(
        JobState.SUCCEEDED,
        metrics=(
            _m(1, 1, train_loss=3.0, valid_loss=2.5, train_mean_token_accuracy=0.1),
            _m(2, 1, train_loss=2.0, valid_loss=1.5, train_mean_token_accuracy=0.2),
            _m(3, 2, train_loss=1.0, valid_loss=0.5, train_mean_token_accuracy=0.3),
        ),
    )
    assert final_metrics(job) == {
        "first_train_loss": 3.0,
        "final_train_loss": 1.0,
        "final_valid_loss": 0.5,
        "final_train_accuracy": 0.3,
        "steps": 3,
    }
    one = _job(
        JobState.SUCCEEDED,
        trained_tokens=1,
        metrics=(_m(1, 1, train_loss=0.7, train_mean_token_accuracy=0.9),),
    )
    assert final_metrics(one) == {
        "first_train_loss": 0.7,
        "final_train_loss": 0.7,
        "final_train_accuracy": 0.9,
        "trained_tokens": 1,
        "steps": 1,
    }
