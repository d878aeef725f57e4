"""The ports are Protocols: what the core can tell about an implementation at run time, and the defaults
the in-memory store shares with the Protocol it implements."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest

from commands.ports import (
    BaseModelChat,
    CheckpointedBackend,
    EvaluationFiguresReader,
    EvaluationLine,
    FineTuningBackend,
    PausableBackend,
    ServiceDatasets,
    StoreTx,
    StreamingChat,
    TargetedBackend,
    TieredBackend,
    TokenizerSource,
)
from tests.fakes.backend import FakeBackend
from tests.support.memory_store import MemoryTx


class _Nothing:
    pass


class _Pausable:
    def pause_job(self, job_id: str) -> None: ...

    def resume_job(self, job_id: str) -> None: ...


class _PausesOnly:
    def pause_job(self, job_id: str) -> None: ...


def test_the_fake_backend_is_a_fine_tuning_backend() -> None:
    assert isinstance(FakeBackend(), FineTuningBackend)
    assert not isinstance(_Nothing(), FineTuningBackend)


def test_a_backend_pauses_only_with_both_halves() -> None:
    assert isinstance(_Pausable(), PausableBackend)
    assert not isinstance(_PausesOnly(), PausableBackend)


@pytest.mark.parametrize(
    ("protocol", "methods"),
    [
        (CheckpointedBackend, ["list_checkpoints"]),
        (TieredBackend, ["training_tiers", "deployment_skus"]),
        (ServiceDatasets, ["list_datasets", "get_dataset", "download_dataset"]),
        (TargetedBackend, ["deploy_targets", "check_target", "endpoints_at"]),
        (BaseModelChat, ["base_model_missing", "chat_base"]),
        (StreamingChat, ["chat_stream"]),
        (EvaluationLine, ["evaluation_line"]),
        (EvaluationFiguresReader, ["evaluation_figures"]),
        (TokenizerSource, ["tokenizer_for"]),
    ],
)
def test_optional_capabilities_are_told_by_their_methods(protocol: type, methods: list[str]) -> None:
    def method(self: object, *args: object, **kwargs: object) -> None:
        return None

    having: type = type("Having", (), dict.fromkeys(methods, method))
    assert isinstance(having(), protocol)
    assert not isinstance(_Nothing(), protocol)
    for left_out in methods:
        lacking: type = type("Lacking", (), {m: method for m in methods if m != left_out})
        assert not isinstance(lacking(), protocol)


def _defaults(f: Callable[..., Any]) -> dict[str, object]:
    return {
        name: p.default for name, p in inspect.signature(f).parameters.items() if p.default is not p.empty
    }


@pytest.mark.parametrize(
    ("method", "defaults"),
    [
        ("find_jobs", {"channel_id": None, "user_id": None, "limit": 20}),
        ("update_job", {"bump": True}),
        ("audit_entries", {"limit": 1000}),
        ("open_approval", {"options": None}),
    ],
)
def test_the_in_memory_store_takes_the_protocols_defaults(method: str, defaults: dict[str, object]) -> None:
    assert _defaults(getattr(StoreTx, method)) == defaults
    assert _defaults(getattr(MemoryTx, method)) == defaults
