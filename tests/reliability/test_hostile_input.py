"""Hostile input over the real HTTP stack: every request answered (never a 500, never an unhandled
exception), a clear error where one is due, and no state change. A corpus of known-bad inputs, a 100 MB
single-line JSONL (validated in bounded memory), property tests on the `/finetune` grammar and on
payload parsing, and the fuzzer: real requests of every surface, mutated by hypothesis and judged on
every property of ``tests/reliability/fuzz/oracle.py`` (a bounded profile here; ``bench/fuzz.py`` runs
tens of thousands)."""

from __future__ import annotations

import json
import time
import tracemalloc
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.demo.payloads import block_action, payload_body, slash_body, view_submission
from bot.store.tables import AuditRow, EndpointRow, JobRow, OutboxRow
from bot.ui.ids import Action, Callback
from bot.ui.ids import Block as B
from commands import grammar
from commands.dataset import validate_dataset
from commands.errors import UsageError
from tests.reliability.conftest import CHANNEL, MEMBER, Captured
from tests.reliability.fuzz.mutations import SLASH_WORDS, Request, requests_for
from tests.reliability.fuzz.oracle import Oracle
from tests.reliability.fuzz.scene import fuzz_scene
from tests.support.world import World

LONG = "x" * 10_000


def _state(world: World) -> dict[str, int]:
    with world.services.database.session_scope() as s:
        return {t.__tablename__: int(s.scalar(select(func.count()).select_from(t)) or 0)
                for t in (JobRow, EndpointRow, OutboxRow, AuditRow)}  # fmt: skip


def _posted(world: World) -> int:
    return len([c for c in world.fake.calls if c.method in ("chat.postMessage", "chat.update", "views.open")])


@pytest.fixture
def quiet(world: World, logs: Captured) -> Iterator[World]:
    yield world
    # nothing anywhere fell through to "unexpected": no traceback, no ERROR line
    assert not [line for line in logs.lines if line.startswith(("ERROR", "CRITICAL"))]


SLASH = [
    LONG,
    f"submit {LONG}",
    "submit --model ftbot-tiny --data",
    "submit --model ftbot-tiny --data x --epochs abc",
    "submit --model ftbot-tiny --data https://files.slack.com/a.jsonl --epochs -1",
    "submit --model ftbot-tiny --data https://files.slack.com/a.jsonl --epochs 100000000000",
    "submit --model ftbot-tiny --data https://files.slack.com/a.jsonl --learning-rate-multiplier nan",
    "submit --model ftbot-tiny --data https://files.slack.com/a.jsonl --batch-size 1e9",
    "submit --model ftbot-tiny --data https://files.slack.com/a.jsonl --split 1.5",
    "submit --model ftbot-tiny --data https://files.slack.com/a.jsonl --suffix ../../etc",
    "submit --model ../../etc/passwd --data https://files.slack.com/a.jsonl",
    "submit --model ftbot-tiny\x00 --data https://files.slack.com/a.jsonl",
    "status ../../../etc/passwd",
    "deploy a/b",
    "deploy " + "\x1b[31mred",
    "teardown ../x",
    "cancel \x00",
    "chat",
    "chat ep",
    f"chat ep {LONG}",
    "status " + "ft-" + "a" * 500,
    "validate file:///etc/passwd",
    "\u202e\u0000\u0007",
]


@pytest.mark.parametrize("text", SLASH, ids=[f"slash-{i}" for i in range(len(SLASH))])
def test_bad_slash_commands_get_a_clear_error_and_change_nothing(quiet: World, text: str) -> None:
    world = quiet
    before, posted = _state(world), _posted(world)
    r = world.bot.post(slash_body(text, user=MEMBER, channel=CHANNEL, response_url=world.fake.response_url()))
    assert r.status == 200
    ack = r.json() if r.body else {}
    deadline = time.monotonic() + 5
    answer = ack.get("text", "")
    while "warning" not in answer and time.monotonic() < deadline:  # some are answered after the ack
        answer = " ".join([ack.get("text", ""), *world.response_texts()])
        time.sleep(0.05)
    assert ":warning:" in answer, answer
    assert len(answer) < 4000 and "Traceback" not in answer and "Something went wrong" not in answer
    counts = _state(world)
    assert {k: counts[k] for k in ("jobs", "endpoints", "outbox")} == {
        k: before[k] for k in ("jobs", "endpoints", "outbox")}  # fmt: skip
    assert _posted(world) == posted


def _click(action: str, value: Any) -> dict[str, Any]:
    body = block_action(action, "v", user=MEMBER, channel=CHANNEL)
    body["actions"][0]["value"] = value
    return body


PAYLOADS: list[tuple[str, str]] = [
    ("form", "payload=not json"),
    ("form", "payload=" + urllib.parse.quote("[]")),
    ("form", "payload=" + urllib.parse.quote('{"type": "block_actions"}')),
    ("form", "payload=" + urllib.parse.quote('{"type": "view_submission", "view": {}}')),
    ("form", "payload=" + urllib.parse.quote('{"type": "nonsense", "user": {"id": "U1"}}')),
    ("form", "payload=" + urllib.parse.quote('{"type": "block_actions", "user": "U1", "actions": "x"}')),
    ("form", payload_body(block_action("no_such_action", "x", user=MEMBER, channel=CHANNEL))),
    ("form", payload_body(_click(Action.DEPLOY, None))),
    ("form", payload_body(_click(Action.DEPLOY, LONG))),
    ("form", payload_body(_click(Action.DEPLOY, {"nested": True}))),
    ("form", payload_body(_click(Action.APPROVE, "abc"))),
    ("form", payload_body(_click(Action.APPROVE, "-1"))),
    ("form", payload_body(_click(Action.APPROVE, "99999999999999999999999"))),
    ("form", payload_body(_click(Action.TEAR_DOWN, "../../x"))),
    ("form", payload_body(_click(Action.TEST_CHAT, "nope"))),
    ("form", payload_body(block_action(Action.DEPLOY, "ft-x", user="../../etc", channel=CHANNEL))),
    ("form", payload_body(block_action(Action.DEPLOY, "ft-x", user=MEMBER, channel="C\x00"))),
    ("form", payload_body(view_submission(Callback.WIZARD, {}, private_metadata=CHANNEL))),
    ("form", payload_body(view_submission(Callback.REVIEW, {}, private_metadata="{not json"))),
    ("form", payload_body(view_submission(Callback.REVIEW, {}, private_metadata=json.dumps(
        {"channel": CHANNEL, "model": "m", "training": {"path": "/etc/passwd", "name": "p"}})))),
    ("form", payload_body(view_submission(Callback.TEST_CHAT, {}, private_metadata="ep"))),
    ("form", payload_body(view_submission(Callback.TEST_CHAT, {
        B.CHAT_PROMPT: {Action.CHAT_PROMPT: {"type": "plain_text_input", "value": LONG}},
        B.CHAT_TEMPERATURE: {Action.CHAT_TEMPERATURE: {"type": "number_input", "value": "banana"}},
        B.CHAT_MAX_TOKENS: {Action.CHAT_MAX_TOKENS: {"type": "number_input", "value": "1e400"}},
    }, private_metadata="ep"))),
    ("form", payload_body(view_submission(Callback.WIZARD, {
        B.BASE_MODEL: {Action.BASE_MODEL: {"type": "external_select", "selected_option": None}},
        B.TRAINING_FILE: {Action.TRAINING_FILE: {"type": "file_input", "files": [{"name": "../../x"}]}},
        B.VALIDATION_SPLIT: {Action.VALIDATION_SPLIT: {"type": "number_input", "value": "-5"}},
    }, private_metadata=CHANNEL))),
    ("form", payload_body(view_submission("no_such_callback", {}))),
    ("json", "[1, 2, 3]"),
    ("json", '{"type": "event_callback", "event": "x"}'),
    ("json", '{"type": "event_callback", "event": {"type": "app_home_opened", "user": 7}}'),
    ("json", "{" * 5000),
    ("form", "\udcff".encode("utf-8", "surrogatepass").decode("latin-1")),
    ("form", "command=%2Ffinetune&text=" + "%00" * 100),
    # issue #18's examples: shapes ftbot does not register, and values that passed a check, then broke
    ("form", "payload=" + urllib.parse.quote('{"type": "workflow_step_edit", "user": {"id": "U1"}}')),
    ("form", "payload=" + urllib.parse.quote('{"type": "interactive_message", "user": {"id": "U1"}}')),
    ("form", payload_body({**view_submission(Callback.WIZARD, {}), "view": {
        **view_submission(Callback.WIZARD, {})["view"], "type": "workflow_step"}})),
    ("form", payload_body({**_click(Action.DEPLOY, "ft-x"), "actions": [{"type": "button", "value": "x"}]})),
    ("form", payload_body({**view_submission(Callback.TEST_CHAT, {}, private_metadata="ep"), "view": {
        **view_submission(Callback.TEST_CHAT, {})["view"], "state": "x"}})),
    ("form", payload_body({**view_submission(Callback.TEST_CHAT, {}, private_metadata="ep"), "view": {
        **view_submission(Callback.TEST_CHAT, {})["view"], "state": {"values": [1]}}})),
    ("form", payload_body(_click(Action.APPROVE, "\u0663"))),  # Arabic-Indic 3: isdigit(), and int() fails
    ("form", payload_body(_click(Action.APPROVE, "\u00b2"))),  # superscript 2: the same
]  # fmt: skip


@pytest.mark.parametrize(("kind", "body"), PAYLOADS, ids=[f"payload-{i}" for i in range(len(PAYLOADS))])
def test_malformed_payloads_never_500_and_change_nothing(quiet: World, kind: str, body: str) -> None:
    world = quiet
    before, posted = _state(world), _posted(world)
    ctype = "application/json" if kind == "json" else "application/x-www-form-urlencoded"
    r = world.bot.post(body, content_type=ctype)
    assert r.status in (200, 400, 404), (r.status, r.body[:300])
    time.sleep(0.1)
    counts = _state(world)
    assert {k: counts[k] for k in ("jobs", "endpoints", "outbox")} == {
        k: before[k] for k in ("jobs", "endpoints", "outbox")}  # fmt: skip
    assert _posted(world) == posted


def test_an_oversized_payload_is_413_before_parsing(quiet: World) -> None:
    before = _state(quiet)
    body = payload_body({"type": "block_actions", "x": "y" * 1_100_000})
    try:
        status = quiet.bot.post(body).status
    except OSError:  # the server answered 413 and closed before the client finished sending
        status = 413
    assert status == 413 and _state(quiet) == before


def test_a_100_mb_single_line_jsonl_is_refused_in_bounded_memory(world: World) -> None:
    big = world.files.root / "oneline.jsonl"
    with big.open("wb") as f:
        f.write(b'{"messages": [{"role": "user", "content": "')
        chunk = b"a" * (1 << 20)
        for _ in range(100):
            f.write(chunk)
        f.write(b'"}]}\n')
    try:
        tracemalloc.start()
        started = time.monotonic()
        world.slash(f"validate {world.files.url('oneline.jsonl')}")
        world.until(lambda: any("Dataset check" in t for t in world.response_texts()), ticks=600)
        elapsed, peak = time.monotonic() - started, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        big.unlink()
    report = json.dumps([r.get("blocks") for r in world.fake.responses])
    assert "line_too_long" in report or "100 MB" in report
    assert peak < 64 << 20, f"validation held {peak >> 20} MB"
    assert elapsed < 60


def test_lines_after_an_over_long_line_are_still_checked_and_numbered(tmp_path: Path) -> None:
    good = json.dumps(
        {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}
    )
    path = tmp_path / "mixed.jsonl"
    with path.open("w") as f:
        for i in range(1, 16):
            f.write(("{" + "x" * (5 << 20) + "\n") if i == 5 else (good + "\n" if i != 9 else "oops\n"))
    report = validate_dataset(path, context_length=4096)
    assert {(i.line, i.code) for i in report.errors} == {(5, "line_too_long"), (9, "invalid_json")}
    assert report.examples == 15


# --- properties -------------------------------------------------------------------------------------

TOKENS = st.sampled_from(SLASH_WORDS)
TEXTS = st.one_of(st.lists(TOKENS, max_size=12).map(" ".join), st.text(max_size=300))


@settings(max_examples=400, deadline=None)
@given(TEXTS)
def test_grammar_either_parses_or_raises_a_usage_error(text: str) -> None:
    try:
        grammar.parse(text)
    except UsageError as e:
        assert e.message and len(e.message) < 2000
        assert "Traceback" not in e.message


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
PAYLOAD = st.fixed_dictionaries(
    {
        "type": st.sampled_from(
            ["block_actions", "view_submission", "block_suggestion", "view_closed", "shortcut"]
        )
    },
    optional={
        "user": st.one_of(
            JSONISH, st.fixed_dictionaries({"id": st.sampled_from([MEMBER, "U1", "", "../x"])})
        ),
        "channel": st.one_of(JSONISH, st.just({"id": CHANNEL})),
        "actions": st.one_of(
            JSONISH,
            st.lists(
                st.fixed_dictionaries(
                    {"action_id": st.sampled_from([a.value for a in Action] + ["x"]), "value": JSONISH}
                ),
                max_size=2,
            ),
        ),
        "view": st.one_of(
            JSONISH,
            st.fixed_dictionaries(
                {
                    "callback_id": st.sampled_from([c.value for c in Callback] + ["x"]),
                    "state": JSONISH,
                    "private_metadata": JSONISH,
                    "id": st.just("V1"),
                }
            ),
        ),
        "response_url": st.just("http://127.0.0.1:9/none"),
        "trigger_id": JSONISH,
        "value": JSONISH,
        "action_id": JSONISH,
        "block_id": JSONISH,
    },
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(PAYLOAD)
def test_any_interactivity_payload_is_answered_without_a_500(quiet: World, payload: dict[str, Any]) -> None:
    r = quiet.bot.post(payload_body(payload))
    assert r.status in (200, 400, 404), (r.status, r.body[:300])
    assert _state(quiet)["jobs"] == 0


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(st.sampled_from(["text", "user_id", "channel_id", "command", "trigger_id", "team_id",
                                        "response_url"]), st.text(max_size=200), max_size=7))  # fmt: skip
def test_any_slash_command_form_is_answered_without_a_500(quiet: World, form: dict[str, str]) -> None:
    form.setdefault("command", "/finetune")
    r = quiet.bot.post(urllib.parse.urlencode(form))
    assert r.status in (200, 400, 404), (r.status, r.body[:300])
    assert _state(quiet)["jobs"] == 0


# --- the fuzzer: real requests of every surface, mutated --------------------------------------------

#: surface groups (prefixes of the scene's seed surfaces) and how many mutated requests each gets here; a
#: surface belongs to the group with its longest matching prefix, so each is fuzzed once
FUZZ_GROUPS: dict[str, tuple[tuple[str, ...], int]] = {
    "slash": (("slash",), 150),
    "buttons": (("block_actions:job_", "block_actions:endpoint_", "block_actions:approval_"), 200),
    "pause_resume": (("block_actions:job_pause", "block_actions:job_resume"), 80),
    "deploy_buttons": (("block_actions:job_deploy_",), 100),  # Deploy with options…, best, checkpoint N
    "modal_inputs": (("block_actions:wizard_", "block_actions:chat_", "block_actions:deploy_"), 100),
    "wizard": (("view_submission:wizard",), 150),
    "review": (("view_submission:review",), 60),  # a valid one starts a job: the slowest
    "test_chat": (("view_submission:test_chat",), 150),
    "deploy_dialog": (("view_submission:job_deploy_modal",), 120),
    "rerun_wizard": (("view_submission:job_rerun_wizard",), 100),
    "oncall": (("block_actions:oncall_",), 60),
    "view_closed": (("view_closed",), 80),
    "block_suggestion": (("block_suggestion",), 100),
    "events": (("event:",), 80),
    # last: an approver's fuzzed submission may change who approves and where ftbot answers
    "settings": (("block_actions:home_settings_", "view_submission:settings"), 120),
}


def group_of(surface: str) -> str | None:
    """The group fuzzing ``surface``: the one whose prefix names it most closely."""
    matches = [(len(p), g) for g, (ps, _) in FUZZ_GROUPS.items() for p in ps if surface.startswith(p)]
    return max(matches)[1] if matches else None


@pytest.fixture(scope="module")
def fuzz(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Oracle]:
    with fuzz_scene(tmp_path_factory.mktemp("fuzz")) as scene:
        oracle = Oracle(scene)
        try:
            yield oracle
        finally:
            oracle.close()


def test_every_seeded_surface_is_fuzzed_in_one_group(fuzz: Oracle) -> None:
    assert [surface for surface in fuzz.scene.seeds if group_of(surface) is None] == []
    bodies = [seed.body for found in fuzz.scene.seeds.values() for seed in found]
    clicked = {b["actions"][0]["action_id"] for b in bodies if b.get("type") == "block_actions"}
    submitted = {b["view"]["callback_id"] for b in bodies if b.get("type") == "view_submission"}
    # every button and modal ftbot registers has a real request to start from
    assert fuzz.scene.handled["action"] - clicked == set()
    assert fuzz.scene.handled["view"] - submitted == set()


@pytest.mark.parametrize("group", list(FUZZ_GROUPS))
def test_fuzzed_real_requests_keep_every_property(fuzz: Oracle, group: str) -> None:
    _, examples = FUZZ_GROUPS[group]
    seeds = [seed for surface, found in sorted(fuzz.scene.seeds.items()) if group_of(surface) == group
             for seed in found]  # fmt: skip
    assert seeds, f"no real request for {group}"

    @settings(
        max_examples=examples,
        derandomize=True,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(requests_for(seeds, fuzz.scene.known))
    def check(request: Request) -> None:  # not shrunk: the report names the 1 to 3 mutations made
        verdict = fuzz.run(request)
        assert not verdict.problems, verdict.report()

    check()
    delivered = fuzz.final_problems()  # the cards and thread posts the outbox owed, delivered and checked
    assert not delivered, "\n".join(delivered[:10])
