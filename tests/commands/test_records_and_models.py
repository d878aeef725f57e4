"""The small behaviours of the core's typed values: states, defaults, names, storable view state."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from commands.errors import InvalidInput
from commands.models import EndpointState, Hyperparameters, JobState, normalized_model_name
from commands.records import VIEW_STATE_MAX_BYTES, EndpointRecord, ViewStateRecord
from tests.commands.lifecycle.records import endpoint_record, job_record

T = datetime(2026, 12, 6, tzinfo=UTC)


@pytest.mark.parametrize("state", list(JobState))
def test_job_states_that_end_a_job(state: JobState) -> None:
    assert state.terminal is (state in {JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED})


@pytest.mark.parametrize("state", list(EndpointState))
def test_endpoint_states_that_settle_and_that_hold_a_slot(state: EndpointState) -> None:
    assert state.terminal is (state in {EndpointState.READY, EndpointState.FAILED, EndpointState.DELETED})
    record: EndpointRecord = endpoint_record("ep", "job-1", state)
    assert record.live is (state in {EndpointState.CREATING, EndpointState.READY, EndpointState.DELETING})


@pytest.mark.parametrize(
    "changes", [{"n_epochs": 1}, {"batch_size": 1}, {"learning_rate_multiplier": 0.5}, {"beta": 0.1}]
)
def test_any_set_hyperparameter_is_not_default(changes: dict[str, float]) -> None:
    assert Hyperparameters().is_default is True
    assert Hyperparameters(**changes).is_default is False


@pytest.mark.parametrize(
    ("name", "normalized"),
    [
        ("Phi-3-mini-4k-instruct", "phi-3-mini-4k-instruct"),
        ("Llama 3.1 / 8B!!", "llama-3-1-8b"),
        ("--x--", "x"),
    ],
)
def test_normalized_model_name(name: str, normalized: str) -> None:
    assert normalized_model_name(name) == normalized


def test_a_job_record_names_its_base_model() -> None:
    assert job_record("job-1").base_model == "m"


def _view(payload: str) -> ViewStateRecord:
    return ViewStateRecord(key="k", team_id="T1", user_id="U1", payload=payload, created_at=T, expires_at=T)


def test_view_state_up_to_the_limit_is_storable() -> None:
    assert VIEW_STATE_MAX_BYTES == 65536
    _view("x" * VIEW_STATE_MAX_BYTES).check_storable()
    _view("é" * (VIEW_STATE_MAX_BYTES // 2)).check_storable()  # bytes, not characters, are counted


def test_view_state_over_the_limit_says_its_size() -> None:
    with pytest.raises(InvalidInput) as e:
        _view("é" * (VIEW_STATE_MAX_BYTES // 2) + "x").check_storable()
    assert str(e.value) == (
        "This form is too large to keep (65537 bytes, at most 65536); shorten its longest fields."
    )
    assert e.value.names == {"size": "65537", "limit": "65536"}


@pytest.mark.parametrize("payload", ["a\x00b", "a\ud800b"])
def test_view_state_a_database_would_refuse_is_refused(payload: str) -> None:
    with pytest.raises(InvalidInput) as e:
        _view(payload).check_storable()
    assert str(e.value) == "This form holds characters ftbot cannot keep; remove them and try again."
