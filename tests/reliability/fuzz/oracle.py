"""Judging one fuzzed request on everything it caused, once the app's work after ``ack()`` is done.

Properties (the names the fuzzer reports):
- ``5xx``: the answer is a server error;
- ``status``: a signed request got something other than 200, 400, 404 or 413;
- ``generic``: the "Something went wrong (ref …)" reply, meant for real bugs, appears anywhere (the ack,
  a response_url post, an ephemeral or message, a view);
- ``traceback``: an ERROR or CRITICAL log record, or a traceback at any level;
- ``state``: a refused request changed the store (jobs, endpoints, approvals, outbox; audit rows other
  than a refusal);
- ``blockkit``: a message or view ftbot sent is not valid Block Kit (``tests/support/blockkit.py``);
- ``ids``: a user or channel that is not a Slack id (the whole value) reached the store: an audit row or
  a job the request wrote names it;
- ``silent``: a request ftbot handles got no answer anywhere its user could see one, though one could
  have been given;
- ``hang``: work after the ack had not finished 15 seconds later.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select

from bot.store.tables import ApprovalRow, AuditRow, EndpointRow, JobRow, OutboxRow
from bot.ui.ids import CHANNEL_ID, USER_ID, Callback
from tests.reliability.fuzz.mutations import Request
from tests.reliability.fuzz.scene import Scene
from tests.support.blockkit import assert_valid_message, assert_valid_view

PROPERTIES = ("5xx", "status", "generic", "traceback", "state", "blockkit", "ids", "silent", "hang")
GENERIC = "Something went wrong"
SENDS = {
    "chat.postMessage",
    "chat.postEphemeral",
    "chat.update",
    "chat.startStream",  # a Test chat reply streamed into the thread
    "chat.appendStream",
    "chat.stopStream",
    "views.open",
    "views.update",
    "views.push",
    "views.publish",
}
ALLOWED_STATUS = {200, 400, 404, 413}


class LogTap(logging.Handler):
    """WARNING and above, with tracebacks, from every logger."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[tuple[int, str]] = []
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.records.append((record.levelno, self.format(record)))
        except Exception:  # a record that cannot format is itself worth seeing
            self.records.append((logging.ERROR, f"unformattable record from {record.name}: {record.msg!r}"))


@dataclass
class Verdict:
    request: Request
    status: int
    handled: bool = False
    refused: bool = False
    answered: bool = False
    problems: dict[str, str] = field(default_factory=dict)

    def report(self) -> str:
        lines = [f"{self.request.describe()[:2000]}", f"HTTP {self.status}"]
        lines += [f"  {name}: {detail[:3000]}" for name, detail in self.problems.items()]
        return "\n".join(lines)


@dataclass
class Tally:
    """Per surface: requests tried and, for each property, how many broke it (with a first example)."""

    tried: Counter[str] = field(default_factory=Counter)
    broken: dict[str, Counter[str]] = field(default_factory=dict)
    examples: dict[tuple[str, str], str] = field(default_factory=dict)

    def add(self, verdict: Verdict) -> None:
        surface = verdict.request.surface
        self.tried[surface] += 1
        for name in verdict.problems:
            self.broken.setdefault(surface, Counter())[name] += 1
            self.examples.setdefault((surface, name), verdict.report())


class Oracle:
    def __init__(self, scene: Scene) -> None:
        self.scene = scene
        self.tap = LogTap()
        root = logging.getLogger()
        root.addHandler(self.tap)
        if root.level > logging.WARNING or root.level == logging.NOTSET:
            root.setLevel(logging.WARNING)
        self._audit_seen = self._audit_max()
        self.start_calls = len(scene.world.fake.calls)

    def close(self) -> None:
        logging.getLogger().removeHandler(self.tap)

    # --- the store ---

    def _audit_max(self) -> int:
        with self.scene.world.services.database.session_scope() as s:
            return int(s.scalar(select(func.max(AuditRow.id))) or 0)

    def snapshot(self) -> dict[str, Any]:
        with self.scene.world.services.database.session_scope() as s:
            return {
                "jobs": sorted(
                    map(
                        tuple,
                        s.execute(
                            select(JobRow.id, JobRow.state, JobRow.version, JobRow.cancel_requested_at)
                        ).all(),
                    )
                ),
                "endpoints": sorted(
                    map(
                        tuple,
                        s.execute(
                            select(EndpointRow.name, EndpointRow.state, EndpointRow.last_used_at)
                        ).all(),
                    )
                ),
                "approvals": sorted(map(tuple, s.execute(select(ApprovalRow.id, ApprovalRow.state)).all())),
                "outbox": int(s.scalar(select(func.count()).select_from(OutboxRow)) or 0),
                "audit": [
                    tuple(r)
                    for r in s.execute(
                        select(AuditRow.action, AuditRow.result, AuditRow.actor, AuditRow.channel_id).where(
                            AuditRow.id > self._audit_seen
                        )
                    ).all()
                ],
            }

    # --- one request ---

    def run(self, req: Request) -> Verdict:
        world = self.scene.world
        fake = world.fake
        calls, responses, records = len(fake.calls), len(fake.responses), len(self.tap.records)
        views_before = len(fake.views)
        before = self.snapshot()
        reply = world.bot.post(req.body, content_type=req.content_type)
        settled = self.scene.bot.quiesce()
        after = self.snapshot()
        self._audit_seen = self._audit_max()
        with fake._lock:
            sent = [c for c in fake.calls[calls:] if c.method in SENDS]
            posted = list(fake.responses[responses:])
            views_after = len(fake.views)
        verdict = Verdict(req, reply.status)
        ack = _json(reply.body)
        if reply.status >= 500:
            verdict.problems["5xx"] = f"HTTP {reply.status}: {reply.body[:300]!r}"
        elif reply.status not in ALLOWED_STATUS:
            verdict.problems["status"] = f"HTTP {reply.status}: {reply.body[:300]!r}"
        if not settled:
            verdict.problems["hang"] = "work after the ack still running after 15 s"
        everything = json.dumps([ack, [c.body for c in sent], posted], default=str)
        if GENERIC in everything or GENERIC in reply.body.decode("utf-8", "replace"):
            verdict.problems["generic"] = _excerpt(everything, GENERIC)
        logged = [
            text
            for level, text in self.tap.records[records:]
            if level >= logging.ERROR or "Traceback" in text
        ]
        if logged:
            verdict.problems["traceback"] = "\n---\n".join(logged)[-3000:]
        strangers = self._strangers(before, after)
        if strangers:
            verdict.problems["ids"] = strangers
        invalid = _blockkit(ack, sent, posted, req)
        if invalid:
            verdict.problems["blockkit"] = "\n".join(invalid)
        shown = [ack, [c.body for c in sent if c.method != "views.publish"], posted]
        verdict.refused = reply.status >= 400 or _refusal(shown)
        if verdict.refused:
            changed = _changes(before, after)
            if changed:
                verdict.problems["state"] = changed
        verdict.handled = reply.status == 200 and _handled(self.scene, req)  # 400: it did not parse
        if verdict.handled and _answerable(self.scene, req):
            stored = before["outbox"] < after["outbox"] or before["jobs"] != after["jobs"]  # a post, a card
            later, opened = _reachable_later(self.scene, req), views_after > views_before
            verdict.answered = _answered(later, req, ack, sent, posted, fake.views, opened, stored)
            if not verdict.answered:
                verdict.problems["silent"] = f"ack {reply.body[:200]!r}; sent {[c.method for c in sent]}"
        return verdict

    def _strangers(self, before: dict[str, Any], after: dict[str, Any]) -> str:
        """Users and channels that are not Slack ids, in the audit rows and jobs a request wrote."""
        named = [(f"audit {a[0]}", a[2], a[3]) for a in after["audit"]]
        new_jobs = {j[0] for j in after["jobs"]} - {j[0] for j in before["jobs"]}
        if new_jobs:
            with self.scene.world.services.database.session_scope() as s:
                query = select(JobRow.id, JobRow.user_id, JobRow.channel_id).where(JobRow.id.in_(new_jobs))
                named += [(f"job {r[0]}", r[1], r[2]) for r in s.execute(query)]
        bad = [
            (where, user, channel)
            for where, user, channel in named
            if not USER_ID.fullmatch(str(user)) or (channel is not None and not CHANNEL_ID.fullmatch(channel))
        ]
        return f"not Slack ids: {bad!r}"[:600] if bad else ""

    def final_problems(self) -> list[str]:
        """Deliver what the outbox owes Slack (cards, thread posts) and check every message and view
        ftbot sent since the fuzzing began."""
        world = self.scene.world
        with contextlib.suppress(AssertionError):  # what is still owed does not hide what was sent
            world.settle()
        with world.fake._lock:
            sent = [c for c in world.fake.calls[self.start_calls :] if c.method in SENDS]
        return _blockkit(None, sent, [], None)


def _json(body: bytes) -> Any:
    try:
        return json.loads(body) if body else None
    except ValueError:
        return body.decode("utf-8", "replace")


def _excerpt(text: str, needle: str) -> str:
    at = text.find(needle)
    return text[max(0, at - 200) : at + 200]


def _refusal(shown: list[Any]) -> bool:
    ack = shown[0]
    if isinstance(ack, dict) and ack.get("response_action") == "errors":
        return True
    return ":warning:" in json.dumps(shown, default=str)


def _changes(before: dict[str, Any], after: dict[str, Any]) -> str:
    out = []
    for key in ("jobs", "endpoints", "approvals", "outbox"):
        if before[key] != after[key]:
            out.append(f"{key}: {before[key]!r} -> {after[key]!r}"[:600])
    audits = [a for a in after["audit"] if a[1] == "ok"]
    if audits:
        out.append(f"audit rows recorded as ok: {audits}")
    return "; ".join(out)


def _blocks(value: Any) -> list[Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return [value]
    return value if isinstance(value, list) else [] if value is None else [value]


def _check(problems: list[str], where: str, check: Any, *args: Any) -> None:
    try:
        check(*args)
    except AssertionError as e:
        problems.append(f"{where}: {e}"[:1500])
    except Exception as e:  # the checker itself choking is a finding too
        problems.append(f"{where}: {type(e).__name__}: {e}"[:1500])


def _blockkit(ack: Any, sent: list[Any], posted: list[dict[str, Any]], req: Request | None) -> list[str]:
    problems: list[str] = []
    for call in sent:
        body = call.body
        if call.method.startswith("views."):
            view = body.get("view")
            _check(
                problems, call.method, assert_valid_view, json.loads(view) if isinstance(view, str) else view
            )
        elif call.method in ("chat.startStream", "chat.appendStream"):  # the streamed text is markdown_text
            _check(problems, call.method, assert_valid_message, body.get("markdown_text"))
        elif call.method == "chat.stopStream":  # the footer's blocks, if any, close the streamed message
            if body.get("blocks") or body.get("markdown_text"):
                _check(
                    problems,
                    call.method,
                    assert_valid_message,
                    body.get("markdown_text"),
                    _blocks(body.get("blocks")),
                )
        else:
            _check(problems, call.method, assert_valid_message, body.get("text"), _blocks(body.get("blocks")))
    for body in posted:
        if not body.get("delete_original"):
            _check(
                problems, "response_url", assert_valid_message, body.get("text"), _blocks(body.get("blocks"))
            )
    if isinstance(ack, dict):
        if isinstance(ack.get("view"), dict):
            _check(problems, "ack view", assert_valid_view, ack["view"])
        if "text" in ack or "blocks" in ack:
            _check(problems, "ack", assert_valid_message, ack.get("text"), _blocks(ack.get("blocks")))
        for option in ack.get("options") or []:
            if len(option.get("text", {}).get("text", "")) > 75 or len(option.get("value", "")) > 150:
                problems.append(f"ack options: {option}"[:300])
        if len(ack.get("options") or []) > 100:
            problems.append("ack options: more than 100")
        for block_id, message in (ack.get("errors") or {}).items():
            if not isinstance(message, str) or not message or len(message) > 2000:
                problems.append(f"ack errors[{block_id}]: {message!r}"[:300])
    return problems


# --- what the app handles, and whether it answered -------------------------------------------------


def _last(value: Any) -> Any:
    """A form field sent twice: the app (Bolt's parse_body) reads the last."""
    return value[-1] if isinstance(value, list) and value else value


def _among(value: Any, names: set[str]) -> bool:
    return isinstance(value, str) and value in names


def _handled(scene: Scene, req: Request) -> bool:
    data = req.data
    if data is None:
        return False
    handled = scene.handled
    if req.kind == "form":
        return _among(_last(data.get("command")), handled["command"])
    kind = data.get("type")
    actions = data.get("actions")
    if kind == "block_actions":
        first = actions[0] if isinstance(actions, list) and actions else None
        return isinstance(first, dict) and _among(first.get("action_id"), handled["action"])
    view = data.get("view")
    if kind == "view_submission":
        return (
            isinstance(view, dict)
            and view.get("type") == "modal"  # not a workflow_step or home view
            and _among(view.get("callback_id"), handled["view"])
        )
    if kind == "block_suggestion":
        return _among(data.get("action_id"), handled["options"])
    return False


def _reachable_later(scene: Scene, req: Request) -> bool:
    """Whether an answer after the ack can reach the user: by the response_url, or by an ephemeral to a
    valid user in a valid channel."""
    data = req.data or {}
    if req.kind == "form":
        url, user, channel = (_last(data.get(k)) for k in ("response_url", "user_id", "channel_id"))
    else:
        url = data.get("response_url")
        user = data["user"].get("id") if isinstance(data.get("user"), dict) else None
        channel = data["channel"].get("id") if isinstance(data.get("channel"), dict) else None
        if channel is None and isinstance(data.get("container"), dict):
            channel = data["container"].get("channel_id")
    if isinstance(url, str) and url.startswith(scene.world.fake.base_url + "/response/"):
        return True
    valid_user = isinstance(user, str) and USER_ID.match(user)
    return bool(valid_user and isinstance(channel, str) and CHANNEL_ID.match(channel))


def _answerable(scene: Scene, req: Request) -> bool:
    """Whether any answer could reach the user: the ack of a command, a view submission or a suggestion
    always can; a click only by what ``_reachable_later`` says."""
    data = req.data or {}
    if req.kind == "payload" and data.get("type") == "block_actions":
        return _reachable_later(scene, req)
    return True


def _answered(
    later: bool,
    req: Request,
    ack: Any,
    sent: list[Any],
    posted: list[dict[str, Any]],
    views: dict[str, Any],
    opened: bool,
    outbox_grew: bool,
) -> bool:
    data = req.data or {}
    updated = any(c.method == "views.update" and _among(c.body.get("view_id"), set(views)) for c in sent)
    told = any(c.method in ("chat.postEphemeral", "chat.postMessage", "chat.startStream") for c in sent)
    # the message clicked, edited in place (Acknowledge on an on-call page says who took it there)
    clicked = _clicked(data)
    told = told or any(
        c.method == "chat.update" and (c.body.get("channel"), c.body.get("ts")) == clicked for c in sent
    )
    # a modal it tried to open: Slack refusing the trigger_id (expired, used) ends quietly by design
    tried = any(c.method == "views.open" for c in sent)
    if posted or told or opened or tried or updated or outbox_grew:
        return True
    if not isinstance(ack, dict):
        return False
    if data.get("type") == "block_suggestion":
        return "options" in ack or "option_groups" in ack
    if data.get("type") == "view_submission":
        view = ack.get("view") if isinstance(ack.get("view"), dict) else {}
        loading = ack.get("response_action") == "update" and view.get("callback_id") == Callback.LOADING
        if loading:  # "Loading…" must be followed by the next screen, unless Slack knows no such view
            return not _among(_view_id(data), set(views))
        return ack.get("response_action") in ("errors", "update", "push", "clear")
    if data.get("type") == "block_actions":
        return False  # Slack shows nothing of a click's ack body
    if ":warning:" in json.dumps(ack) or "blocks" in ack:  # a command's final answer
        return True
    # "One moment…": the answer must follow, unless nothing after the ack can reach the user (then one
    # warning line in the log is all the app can do)
    return bool(ack.get("text")) and not later


def _clicked(data: dict[str, Any]) -> tuple[Any, Any] | None:
    """The channel and ts of the message a click came from, as its container names them."""
    container = data.get("container")
    if data.get("type") != "block_actions" or not isinstance(container, dict):
        return None
    return container.get("channel_id"), container.get("message_ts")


def _view_id(data: dict[str, Any]) -> Any:
    view = data.get("view")
    return view.get("id") if isinstance(view, dict) else None
