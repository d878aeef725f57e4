"""The fuzzer's starting point: a world where every surface ftbot registers has something real behind it
(a job with a READY endpoint, a job waiting for approval that overfitted, a running job, a paused job, a
job the service failed and paged the on-call about; the wizard, its review, the Test chat modal, the
Deploy dialog, the Rerun… wizard, App Home's Edit settings and its modal), on a backend with every
optional port (``optional.SceneBackend``), and one or more REAL requests per surface, built from what the
app itself sent to the Slack stand-in: its card, thread and ephemeral buttons, its views and their
private_metadata."""

from __future__ import annotations

import copy
import json
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.demo.payloads import block_action, block_suggestion, slash_body, view_submission, wizard_values
from bot.demo.slack import Message
from bot.listeners.app import build_registrar
from bot.ui.ids import SLASH_COMMAND, Action, Callback
from bot.ui.ids import Block as B
from commands.models import EndpointState, JobState
from tests.reliability.fuzz import optional
from tests.reliability.fuzz.driver import InProcessBot, in_process
from tests.reliability.fuzz.optional import ONCALL, SceneBackend, state, submit
from tests.reliability.fuzz.shapes import Seed, buttons, click, encode, in_view, latest_view, modal_seeds
from tests.support.world import APPROVER, CHANNEL, MEMBER, World, open_world


@dataclass
class Scene:
    world: World
    seeds: dict[str, list[Seed]] = field(default_factory=dict)
    known: list[str] = field(default_factory=list)  # real ids and values, to swap one for another
    handled: dict[str, set[str]] = field(default_factory=dict)  # what the app registers, by kind

    @property
    def bot(self) -> InProcessBot:
        return self.world.bot  # type: ignore[return-value]

    def add(self, seed: Seed) -> None:
        self.seeds.setdefault(seed.surface, []).append(seed)


def _prepare_jobs(world: World) -> dict[str, str]:
    """A: deployed by an approver, READY; B: overfitted (4 epochs), a member's deploy waits for approval;
    C: running (held)."""
    world.services.delivery._posts_per_channel_minute = 6000  # no need to pace the stand-in's posts
    a = submit(world)
    world.until(lambda: state(world, a) is JobState.SUCCEEDED)
    world.click(Action.DEPLOY, a, user=APPROVER)
    world.until(
        lambda: (
            (e := world.services.lifecycle.queries.card(a).endpoint) is not None
            and e.state is EndpointState.READY
        )
    )
    backend = world.backend
    assert isinstance(backend, SceneBackend)
    backend.epochs, backend.overfit_next = 4, True
    b = submit(world)
    world.until(lambda: state(world, b) is JobState.SUCCEEDED)
    world.click(Action.DEPLOY, b, user=MEMBER)
    world.until(lambda: world.services.lifecycle.queries.card(b).pending_approval is not None)
    world.settle()
    world.backend.epochs = 50
    c = submit(world)
    world.until(lambda: state(world, c) is JobState.RUNNING)
    world.backend.hold.add(c)
    world.settle()
    endpoint = world.services.lifecycle.queries.card(a).endpoint
    assert endpoint is not None
    return {"deployed": a, "pending": b, "running": c, "endpoint": endpoint.name}


def _button_seeds(world: World) -> Iterator[Seed]:
    """Every button ftbot put on a message in the channel (cards, threads, an on-call page) or on an
    answer only its user sees (an ephemeral, a response_url post), clicked by a member and by an approver,
    as Slack sends the click (a message's blocks included)."""
    seen: set[tuple[str, str, str]] = set()
    with world.fake._lock:
        shown = [(m, False) for m in world.fake.messages.values()]
        shown += [(m, True) for m in world.fake.ephemeral]
        shown += [
            (Message(CHANNEL, f"{time.time():.6f}", str(r.get("text", "")), r["blocks"], None), True)
            for r in world.fake.responses
            if isinstance(r.get("blocks"), list)
        ]
    for msg, ephemeral in shown:
        for blk, el in buttons(msg.blocks):
            for user in (MEMBER, APPROVER):
                key = (el["action_id"], str(el.get("value")), user)
                if key not in seen:
                    seen.add(key)
                    body = click(world, blk, el, user, msg, ephemeral)
                    yield Seed(f"block_actions:{el['action_id']}", "payload", body)


def _view_seeds(world: World, ids: dict[str, str]) -> Iterator[Seed]:
    fake = world.fake
    world.slash("")  # the wizard: "Loading…" at once, then the form
    wiz_id, wiz = latest_view(world, Callback.WIZARD)
    file = fake.add_file((world.files.root / "train.jsonl").read_bytes(), "train.jsonl")
    url_values = wizard_values("ftbot-tiny", file, epochs=2, suffix="fuzz")
    url_values.pop(B.TRAINING_FILE)
    url_values[B.TRAINING_URL] = {
        Action.TRAINING_URL: {"type": "url_text_input", "value": world.files.url("train.jsonl")}
    }
    for values in (wizard_values("ftbot-tiny", file, split_percent=20), url_values):
        body = view_submission(Callback.WIZARD, values, user=MEMBER, private_metadata=CHANNEL)
        yield Seed("view_submission:wizard", "payload", in_view(body, wiz_id, wiz))
    first = view_submission(Callback.WIZARD, wizard_values("ftbot-tiny", file), user=MEMBER)
    world.bot.post(encode(in_view(first, wiz_id, wiz)))
    rev_id, review = latest_view(world, Callback.REVIEW)
    body = view_submission(Callback.REVIEW, {}, user=MEMBER)
    yield Seed("view_submission:review", "payload", in_view(body, rev_id, review))

    world.click(Action.TEST_CHAT, ids["endpoint"], user=MEMBER)
    chat_id, chat = latest_view(world, Callback.TEST_CHAT)
    values = {
        B.CHAT_PROMPT: {Action.CHAT_PROMPT: {"type": "plain_text_input", "value": "Where is order 7?"}},
        B.CHAT_SYSTEM: {Action.CHAT_SYSTEM: {"type": "plain_text_input", "value": "Be brief."}},
        B.CHAT_TEMPERATURE: {Action.CHAT_TEMPERATURE: {"type": "number_input", "value": "0.5"}},
        B.CHAT_MAX_TOKENS: {Action.CHAT_MAX_TOKENS: {"type": "number_input", "value": "32"}},
    }
    body = view_submission(Callback.TEST_CHAT, values, user=MEMBER)
    yield Seed("view_submission:test_chat", "payload", in_view(body, chat_id, chat))

    for vid, view in ((wiz_id, wiz), (rev_id, review), (chat_id, chat)):
        yield from modal_seeds(vid, view)

    suggest = block_suggestion(Action.BASE_MODEL, "tiny", block_id=B.BASE_MODEL, user=MEMBER)
    suggest["view"] = in_view(view_submission(Callback.WIZARD, {}), wiz_id, wiz)["view"]
    suggest["container"]["view_id"] = wiz_id
    yield Seed("block_suggestion", "payload", suggest)


def _home_event(user: str, tab: str = "home") -> dict[str, Any]:
    event = {"type": "app_home_opened", "user": user, "channel": "D0FUZZ1", "tab": tab,
             "event_ts": f"{time.time():.6f}"}  # fmt: skip
    return {
        "token": "legacy", "team_id": "T1", "api_app_id": "A1", "type": "event_callback",
        "event_id": "Ev0FUZZ", "event_time": int(time.time()), "event": event,
        "authorizations": [{"team_id": "T1", "user_id": "UBOT", "is_bot": True}],
    }  # fmt: skip


def _settings_seeds(world: World) -> Iterator[Seed]:
    """App Home's Edit settings button, clicked as Slack sends a Home tab click (no channel, no
    response_url), and the settings modal it opens, submitted unchanged by an approver (a change would
    restrict the channels every later fuzzed request comes from) and with a change by a member
    (refused)."""
    before = len(world.fake.calls_to("views.publish"))
    world.bot.post(json.dumps(_home_event(APPROVER)), content_type="application/json")
    world.fake.wait_for("views.publish", before + 1)
    home = {**world.fake.views[f"home:{APPROVER}"], "id": "VHOMEFUZZ1"}
    actions = next(b for b in home["blocks"] if b.get("block_id") == B.HOME_SETTINGS_ACTIONS)
    button = actions["elements"][0]
    for user in (MEMBER, APPROVER):
        body = block_action(button["action_id"], button["value"], user=user, block_id=actions["block_id"])
        del body["channel"], body["response_url"], body["message"]
        body["container"] = {"type": "view", "view_id": home["id"]}
        body["view"] = home
        yield Seed(f"block_actions:{button['action_id']}", "payload", body)
        if user == APPROVER:
            world.bot.post(encode(body))
    vid, view = latest_view(world, Callback.SETTINGS)
    inputs = {b["block_id"]: b["element"] for b in view["blocks"] if b.get("type") == "input"}
    users = inputs[B.SETTINGS_APPROVERS].get("initial_users") or []
    channels = inputs[B.SETTINGS_CHANNELS].get("initial_conversations") or []
    changed = ([*users, MEMBER], [*channels, CHANNEL])
    for user, (chosen, where) in ((APPROVER, (users, channels)), (MEMBER, changed)):
        picked_users = {"type": "multi_users_select", "selected_users": chosen}
        picked_channels = {"type": "multi_conversations_select", "selected_conversations": where}
        values: dict[str, Any] = {
            B.SETTINGS_APPROVERS: {Action.SETTINGS_APPROVERS: picked_users},
            B.SETTINGS_CHANNELS: {Action.SETTINGS_CHANNELS: picked_channels},
        }
        body = view_submission(Callback.SETTINGS, values, user=user)
        yield Seed("view_submission:settings", "payload", in_view(body, vid, view))


def _slash_seeds(world: World, ids: dict[str, str]) -> Iterator[Seed]:
    data = world.files.url("train.jsonl")
    texts = [
        "",
        "help",
        "list",
        "status",
        f"status {ids['running']}",
        "models",
        "endpoints",
        f"validate {data}",
        f"submit --model ftbot-tiny --data {data} --split 0.2",
        f"deploy {ids['deployed']}",
        f"deploy {ids['pending']}",
        f"cancel {ids['running']}",
        f"chat {ids['endpoint']} hello there",
        f"teardown {ids['endpoint']}",
        # the surfaces added with the Foundry, evaluation, costs, workspaces and doctor issues
        f"validate --method dpo {data}",
        f"submit --model ftbot-tiny --method dpo --beta 0.1 --data {data}",
        f"deploy {ids['deployed']} --checkpoint 1 --sku Standard",
        f"deploy {ids['deployed']} --target west",
        f"pause {ids['running']}",
        f"resume {ids['running']}",
        f"eval {ids['deployed']} --examples 3",
        f"eval {ids['deployed']} --checkpoint 1",
        f"rerun {ids['deployed']} --epochs 1",
        f"compare {ids['deployed']} {ids['pending']}",
        "costs --month 2026-12",
        f"config approvers add <@{MEMBER}|someone>",
        "config",
        "doctor",
    ]
    for text in texts:
        for user in (MEMBER, APPROVER):
            body = slash_body(text, user=user, channel=CHANNEL, response_url=world.fake.response_url())
            form = dict(urllib.parse.parse_qsl(body, keep_blank_values=True))
            yield Seed("slash", "form", form)


def _event_seeds() -> Iterator[Seed]:
    for tab in ("home", "messages"):
        yield Seed("event:app_home_opened", "event", _home_event(MEMBER, tab))


def _handled(world: World) -> dict[str, set[str]]:
    reg = build_registrar(world.services)
    return {
        "command": set(reg.commands) or {SLASH_COMMAND},
        "action": {str(a) for a in reg.actions},
        "view": {str(v) for v in reg.views},
        "options": {str(o) for o in reg.options},
        "event": {str(e) for e in reg.events},
    }


def build_scene(world: World) -> Scene:
    ids = _prepare_jobs(world)
    ids |= optional.prepare(world, ids)
    scene = Scene(world)
    clicks = list(_button_seeds(world))
    seeds = [*clicks, *_view_seeds(world, ids), *optional.dialog_seeds(world, ids, clicks)]
    for seed in [*seeds, *_settings_seeds(world), *_slash_seeds(world, ids), *_event_seeds()]:
        scene.add(seed)
    world.bot.quiesce()  # type: ignore[attr-defined]
    world.settle()
    known = {*ids.values(), MEMBER, APPROVER, CHANNEL, "UBOT", "W0FUZZ1", "D0FUZZ1", "G0FUZZ1", "T1"}
    known |= {str(a) for a in Action} | {str(c) for c in Callback} | {str(b) for b in B}
    with world.services.store.transaction() as tx:
        approval = tx.pending_approval(ids["pending"])
    if approval is not None:
        known.add(str(approval.id))
    known |= {ONCALL, *optional.oncall_refs(world)}
    scene.known = sorted(known)
    scene.handled = _handled(world)
    return scene


@contextmanager
def fuzz_scene(tmp_path: Path) -> Iterator[Scene]:
    """A fresh world, driven in process, with its seeds (a few seconds to set up)."""
    with open_world(tmp_path, SceneBackend(), serve=in_process, FTBOT_ONCALL=ONCALL) as world:
        yield build_scene(world)


def copy_body(seed: Seed) -> dict[str, Any]:
    return copy.deepcopy(seed.body)
