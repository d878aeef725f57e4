"""Test chat from the modal: the turn checked and built, the answer streamed (or in one piece), the base
model asked beside it, and the exchange recorded and posted, against the in-memory store."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import cast

import pytest

from commands.costs.recorder import Costs
from commands.errors import Conflict, EndpointGone, InvalidInput, Unavailable
from commands.lifecycle import chats as chats_module
from commands.lifecycle.base import Deps
from commands.lifecycle.chats import BaseAnswer, Chats, ChatTurn
from commands.models import ChatDelta, ChatMessage, ChatReply, ChatRequest, EndpointState, Usage
from commands.records import Actor, EndpointRecord, PostKind, ThreadPost
from tests.commands.lifecycle.records import job_record
from tests.commands.lifecycle.test_endpoints import (
    START,
    USER,
    FakeCosts,
    TargetedFake,
    actor,
    record,
)
from tests.support.doubles import APPROVER, Approvers, Clock
from tests.support.memory_store import MemoryStore, MemoryTx, QueuedPost

CARD = ("C7", "1700000000.000100")


class CardTx(MemoryTx):
    """A transaction whose jobs' cards are posted (the in-memory store never posts cards)."""

    def status_message(self, job_id: str) -> tuple[str, str] | None:
        super().status_message(job_id)
        return CARD


class CardStore(MemoryStore):
    @contextmanager
    def transaction(self) -> Iterator[MemoryTx]:
        with super().transaction() as tx:
            yield CardTx(tx.t)


class BaseChat:
    """The base model beside the fine-tuned one: why it cannot answer, or its answer, or an error."""

    def __init__(self, missing: str | None = None, error: Exception | None = None) -> None:
        self.missing = missing
        self.error = error
        self.asked: list[tuple[str, str]] = []
        self.calls: list[tuple[str, str, ChatRequest]] = []

    def base_model_missing(self, endpoint_name: str, base_model: str) -> str | None:
        self.asked.append((endpoint_name, base_model))
        return self.missing

    def chat_base(self, endpoint_name: str, base_model: str, request: ChatRequest) -> ChatReply:
        self.calls.append((endpoint_name, base_model, request))
        if self.error is not None:
            raise self.error
        return ChatReply(
            content="I am the base model.",
            finish_reason="length",
            usage=Usage(prompt_tokens=1, completion_tokens=2, total_tokens=3),
        )


@dataclass
class World:
    chats: Chats
    backend: TargetedFake
    store: MemoryStore
    clock: Clock
    changes: list[int] = field(default_factory=list)

    def add(self, rec: EndpointRecord) -> EndpointRecord:
        with self.store.transaction() as tx:
            tx.claim_endpoint(rec)
        return rec

    def get(self, name: str) -> EndpointRecord:
        with self.store.transaction() as tx:
            return tx.get_endpoint(name)

    def outbox(self) -> list[QueuedPost]:
        return self.store.outbox


def world(
    tmp_path: Path,
    *,
    costs: FakeCosts | None = None,
    base_chat: BaseChat | None = None,
    store: MemoryStore | None = None,
) -> World:
    backend = TargetedFake()
    store = store or MemoryStore()
    clock = Clock()
    changes: list[int] = []
    deps = Deps(
        backend=backend,
        store=store,
        clock=clock,
        approvers=Approvers(),
        work_dir=tmp_path,
        on_change=lambda: changes.append(1),
        costs=cast(Costs, costs),
    )
    with store.transaction() as tx:
        tx.add_job(job_record("job-1", channel="C7"))
    chats = Chats(deps, base_chat=base_chat) if base_chat is not None else Chats(deps)
    return World(chats, backend, store, clock, changes)


def turn(w: World, name: str = "ep-1", **kw: object) -> ChatTurn:
    return w.chats.begin(actor(), name, "Where is order 7?", **kw)  # type: ignore[arg-type]


# --- begin --------------------------------------------------------------------------------------------


def test_begin_checks_the_prompt_and_builds_the_turn(tmp_path: Path) -> None:
    w = world(tmp_path, store=CardStore())
    ep = w.add(record("ep-1", EndpointState.READY))

    t = w.chats.begin(actor(), "ep-1", "  Hi there \n", system="Be brief.", temperature=1.5, max_tokens=9)

    assert t == ChatTurn(
        actor=actor(),
        endpoint=ep,
        job=job_record("job-1", channel="C7"),
        prompt="Hi there",
        system="Be brief.",
        request=ChatRequest(
            messages=(
                ChatMessage(role="system", content="Be brief."),
                ChatMessage(role="user", content="Hi there"),
            ),
            temperature=1.5,
            max_tokens=9,
        ),
        thread=CARD,
        base_model=None,
    )
    assert w.backend.home.calls == [] and w.outbox() == [] and w.changes == []


def test_begin_defaults_and_the_base_model_asked_beside(tmp_path: Path) -> None:
    w = world(tmp_path)
    w.add(record("ep-1", EndpointState.READY))

    t = w.chats.begin(actor(), "ep-1", "Hi", with_base=True)

    assert t.request == ChatRequest(
        messages=(ChatMessage(role="user", content="Hi"),), temperature=0.7, max_tokens=256
    )
    assert (t.system, t.thread, t.base_model) == (None, None, "m")


@pytest.mark.parametrize("prompt", ["", " \n "])
def test_begin_refuses_an_empty_prompt(tmp_path: Path, prompt: str) -> None:
    w = world(tmp_path)
    w.add(record("ep-1", EndpointState.READY))

    with pytest.raises(InvalidInput) as e:
        w.chats.begin(actor(), "ep-1", prompt)

    assert (e.value.message, e.value.field) == ("Say something to the model: the prompt is empty.", "prompt")


def test_begin_takes_the_longest_prompt_and_refuses_one_more_character(tmp_path: Path) -> None:
    w = world(tmp_path)
    w.add(record("ep-1", EndpointState.READY))

    assert w.chats.begin(actor(), "ep-1", "y" * 8000 + "\n").prompt == "y" * 8000
    with pytest.raises(InvalidInput) as e:
        w.chats.begin(actor(), "ep-1", "y" * 8001)

    assert (e.value.message, e.value.field) == (
        "The prompt is too long (8001 characters; at most 8000).",
        "prompt",
    )


def test_begin_refuses_an_endpoint_not_ready_or_gone(tmp_path: Path) -> None:
    w = world(tmp_path)
    w.add(record("ep-1", EndpointState.CREATING))
    w.add(record("ep-2", EndpointState.DELETED, deleted_at=START + timedelta(hours=2), deleted_by=APPROVER))

    with pytest.raises(Conflict) as e:
        w.chats.begin(actor(), "ep-1", "Hi")
    with pytest.raises(EndpointGone) as gone:
        w.chats.begin(actor(), "ep-2", "Hi")

    assert e.value.message == "ep-1 is creating, not ready for chat."
    assert (
        gone.value.message
        == f"This endpoint was torn down at 14:00 UTC by {APPROVER}; deploy again from the card."
    )


# --- stream -------------------------------------------------------------------------------------------


def test_stream_passes_on_the_backend_s_pieces_where_it_streams(tmp_path: Path) -> None:
    w = world(tmp_path)
    w.add(record("ep-1", EndpointState.READY))
    w.backend.home.reply = ChatReply(content="two words", finish_reason="stop", usage=Usage(total_tokens=4))
    t = turn(w)

    pieces = list(w.chats.stream(t))

    assert pieces == [
        ChatDelta(text="two"),
        ChatDelta(text=" words"),
        ChatDelta(finish_reason="stop", usage=Usage(total_tokens=4)),
    ]
    assert w.backend.home.requests == [t.request] and w.backend.home.calls == [("chat", "ep-1")]


def test_stream_gives_the_whole_answer_in_one_piece_where_the_backend_cannot_stream(tmp_path: Path) -> None:
    w = world(tmp_path)
    w.add(record("ep-1", EndpointState.READY, target="west"))
    t = turn(w)

    pieces = list(w.chats.stream(t))

    assert pieces == [
        ChatDelta(
            text="Order 7 ships today.",
            finish_reason="stop",
            usage=Usage(prompt_tokens=2, completion_tokens=3, total_tokens=5),
            content_filter={"hate": "safe"},
        )
    ]
    assert w.backend.west.calls == [("chat", "ep-1")] and w.backend.west.requests == [t.request]
    assert w.backend.home.calls == []


def test_stream_in_one_piece_without_a_finish_reason_says_an_empty_one(tmp_path: Path) -> None:
    w = world(tmp_path)
    w.add(record("ep-1", EndpointState.READY, target="west"))
    w.backend.west.reply = ChatReply(content="ok")

    assert list(w.chats.stream(turn(w))) == [ChatDelta(text="ok", finish_reason="", usage=Usage())]


# --- ask_base -----------------------------------------------------------------------------------------


def test_ask_base_is_none_when_the_base_model_was_not_asked(tmp_path: Path) -> None:
    base = BaseChat()
    w = world(tmp_path, base_chat=base)
    w.add(record("ep-1", EndpointState.READY))
    t = turn(w)

    assert w.chats.ask_base(t) is None
    assert w.chats.ask_base(ChatTurn(t.actor, t.endpoint, t.job, t.prompt, None, t.request, None)) is None
    assert base.asked == [] and base.calls == []


def test_ask_base_without_a_base_chat_says_why(tmp_path: Path) -> None:
    w = world(tmp_path)
    w.add(record("ep-1", EndpointState.READY))

    answer = w.chats.ask_base(turn(w, with_base=True))

    assert answer == BaseAnswer("m", None, latency_ms=0, missing="this backend cannot ask base models")


def test_ask_base_says_why_the_base_model_is_missing_and_does_not_ask_it(tmp_path: Path) -> None:
    base = BaseChat(missing="no base deployment is configured")
    w = world(tmp_path, base_chat=base)
    w.add(record("ep-1", EndpointState.READY))

    answer = w.chats.ask_base(turn(w, with_base=True))

    assert answer == BaseAnswer("m", None, latency_ms=0, missing="no base deployment is configured")
    assert base.asked == [("ep-1", "m")] and base.calls == []


def test_ask_base_says_a_failure_instead_of_raising_it(tmp_path: Path) -> None:
    base = BaseChat(error=Unavailable("the base deployment is {state}", state="throttled"))
    w = world(tmp_path, base_chat=base)
    w.add(record("ep-1", EndpointState.READY))

    answer = w.chats.ask_base(turn(w, with_base=True))

    assert answer == BaseAnswer(
        "m", None, latency_ms=0, missing="the base model did not answer: the base deployment is throttled"
    )


def test_ask_base_returns_the_answer_and_how_long_it_took(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = BaseChat()
    w = world(tmp_path, base_chat=base)
    w.add(record("ep-1", EndpointState.READY))
    t = turn(w, with_base=True)
    readings = iter([100.0, 101.25])
    monkeypatch.setattr(chats_module.time, "monotonic", lambda: next(readings))

    answer = w.chats.ask_base(t)

    assert answer is not None
    assert (answer.model, answer.latency_ms, answer.missing) == ("m", 1250, None)
    assert answer.reply is not None and answer.reply.content == "I am the base model."
    assert base.calls == [("ep-1", "m", t.request)]


# --- finish, partial_post, deliver_later ----------------------------------------------------------------

REPLY = ChatReply(
    content="Order 7 ships today.",
    finish_reason="stop",
    usage=Usage(prompt_tokens=2, completion_tokens=3, total_tokens=5),
    content_filter={"violence": "safe"},
)


def _data(**over: object) -> dict[str, object]:
    return {
        "endpoint": "ep-1",
        "by": USER,
        "prompt": "Where is order 7?",
        "system": "",
        "reply": "Order 7 ships today.",
        "usage": {"prompt_tokens": 2, "completion_tokens": 3, "total_tokens": 5},
        "content_filter": {"violence": "safe"},
        "finish_reason": "stop",
        "latency_ms": 840,
        **over,
    }


def test_finish_delivered_records_the_exchange_without_posting_it(tmp_path: Path) -> None:
    costs = FakeCosts()
    w = world(tmp_path, costs=costs)
    w.add(record("ep-1", EndpointState.READY, idle_reminder_at=START))
    t = turn(w)

    post = w.chats.finish(t, REPLY, 840, delivered=True)

    assert post == ThreadPost(job_id="job-1", kind=PostKind.CHAT, data=_data(cost="USD 0.01"))
    [(job_id, name, user, usage, at)] = costs.replies
    assert (job_id, name, user, usage) == ("job-1", "ep-1", USER, REPLY.usage)
    ep = w.get("ep-1")
    assert (ep.last_used_at, ep.idle_reminder_at) == (at, None)
    audit = [(e.actor, e.action, e.target, e.result, e.detail) for e in w.store.audit_log]
    assert audit == [(USER, "chat", "ep-1", "ok", "tokens=5")]
    assert w.outbox() == []
    assert w.changes == [1]


def test_finish_not_delivered_posts_through_the_outbox_with_the_base_answer(tmp_path: Path) -> None:
    w = world(tmp_path)
    w.add(record("ep-1", EndpointState.READY))
    t = turn(w, system="Be brief.")
    base = BaseAnswer(
        "m",
        ChatReply(content="base says", usage=Usage(prompt_tokens=1, completion_tokens=1, total_tokens=2)),
        latency_ms=120,
    )

    post = w.chats.finish(t, REPLY, 840, base, delivered=False)

    expected_base = {
        "model": "m",
        "reply": "base says",
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        "finish_reason": "",
        "latency_ms": 120,
        "missing": "",
    }
    assert post.data == _data(system="Be brief.", base=expected_base)
    assert "cost" not in post.data
    last_used = w.get("ep-1").last_used_at
    assert last_used is not None
    [queued] = w.outbox()
    assert queued.post == post
    assert queued.key == f"job-1:chat:ep-1:{last_used.timestamp():.6f}:{USER}"
    assert queued.at > last_used  # read when it is queued
    assert [e.detail for e in w.store.audit_log] == ["tokens=5 base posted"]
    assert w.changes == [1]


def test_a_base_answer_that_is_missing_is_said_in_the_post(tmp_path: Path) -> None:
    w = world(tmp_path)
    w.add(record("ep-1", EndpointState.READY))
    t = turn(w)
    missing = BaseAnswer("m", None, missing="no base deployment")
    finished = BaseAnswer("m", ChatReply(content="b", finish_reason="stop"), latency_ms=5)

    post = w.chats.finish(t, REPLY, 840, missing, delivered=True)
    again = w.chats.finish(t, REPLY, 840, finished, delivered=True)

    assert post.data["base"] == {
        "model": "m",
        "reply": "",
        "usage": {},
        "finish_reason": "",
        "latency_ms": 0,
        "missing": "no base deployment",
    }
    assert again.data["base"] == {
        "model": "m",
        "reply": "b",
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        "finish_reason": "stop",
        "latency_ms": 5,
        "missing": "",
    }
    assert [e.detail for e in w.store.audit_log] == ["tokens=5 base", "tokens=5 base"]


def test_partial_post_is_the_exchange_so_far(tmp_path: Path) -> None:
    w = world(tmp_path)
    w.add(record("ep-1", EndpointState.READY))
    t = turn(w, system="S")

    post = Chats.partial_post(t, "Order 7")

    assert post == ThreadPost(
        job_id="job-1",
        kind=PostKind.CHAT,
        data={
            "endpoint": "ep-1",
            "by": USER,
            "prompt": "Where is order 7?",
            "system": "S",
            "reply": "Order 7",
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
            "content_filter": {},
            "finish_reason": "",
            "latency_ms": 0,
        },
    )


def test_deliver_later_queues_the_post(tmp_path: Path) -> None:
    w = world(tmp_path)
    w.add(record("ep-1", EndpointState.READY))
    t = turn(w)
    post = Chats.partial_post(t, "Order 7 ships today.")
    w.clock.t = START + timedelta(hours=1) - timedelta(milliseconds=1)

    w.chats.deliver_later(t, post)

    [queued] = w.outbox()
    at: datetime = START + timedelta(hours=1)
    assert queued.post == post
    assert queued.key == f"job-1:chat:ep-1:{at.timestamp():.6f}:{USER}"
    assert queued.at == at + timedelta(milliseconds=1)
    assert w.changes == [1]


def test_the_turn_s_actor_is_recorded_not_the_endpoint_s_requester(tmp_path: Path) -> None:
    w = world(tmp_path)
    w.add(record("ep-1", EndpointState.READY))
    other = Actor(user_id="UOTHER001", channel_id="C7")
    t = w.chats.begin(other, "ep-1", "Hi")

    post = w.chats.finish(t, REPLY, 1, delivered=False)

    assert post.data["by"] == "UOTHER001"
    assert w.outbox()[0].key.endswith(":UOTHER001")
    assert [e.actor for e in w.store.audit_log] == ["UOTHER001"]
