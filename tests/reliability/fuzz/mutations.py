"""Hypothesis strategies that take a real request and break it the ways a buggy proxy, an attacker with
the signing secret, or Slack itself sending a shape ftbot never registered would: drop keys, retype
values, nest, oversize, inject markup and control characters, odd digits, malformed URLs, a missing or
strange ``response_url``, unknown payload and event types, swapped ids, and bodies that cannot parse.

A mutated request is a ``Request``: the raw body, its content type, and the JSON or form it came from."""

from __future__ import annotations

import copy
import itertools
import json
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from commands import grammar
from tests.reliability.fuzz.shapes import Seed

Path = tuple[str | int, ...]
Draw = Callable[[st.SearchStrategy[Any]], Any]

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"

MARKUP = [
    "<!channel>",
    "<!here>",
    "<!everyone>",
    "<@U1>",
    "<@UAPPROVER1>",
    "<#C1|general>",
    "<!subteam^S1>",
    "<https://evil.example|click me>",
    "*bold* _it_ ~s~ `c` ```block```",
    "&lt;&gt;&amp;",
    "> quote",
    ":warning:",
    "{job_id}",
    "%s%n",
    "${jndi:x}",
    "' OR 1=1 --",
]
CONTROL = [
    "\x00",
    "\x07",
    "\x1b[31m",
    "\r\n",
    "\n" * 50,
    "\u202e",
    "\u2066",
    "\u200b",
    "\ufeff",
    "\ud800",
    "\udcff",
    "\U0001f600",
    "e\u0301",
    "\uffff",
    "\t",
    "\u0085",
    "\u2028",
]
DIGITS = {"arabic-indic": 0x0660, "full-width": 0xFF10, "devanagari": 0x0966, "mathematical": 0x1D7CE}
SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")
URLS = [
    "http://[::1/train.jsonl",
    "javascript:alert(1)",
    "file:///etc/passwd",
    "ftp://127.0.0.1/x.jsonl",
    "http://",
    "https://:0/",
    "http://127.0.0.1:9/none",
    "//127.0.0.1/x",
    " http://127.0.0.1/x",
    "http://a b/c",
    "http://127.0.0.1:99999/",
    "HTTP://127.0.0.1/",
    "data:text/plain,x",
    "http://user:pw@[::1]:x/",
    "https://files.slack.com/" + "a/" * 1500,
    "http://127.0.0.1/%zz",
    "http://\u0660.com/",
    "xx://",
    "?",
]
UNKNOWN_TYPES = [
    "workflow_step_edit", "interactive_message", "message_action", "shortcut", "dialog_submission",
    "dialog_suggestion", "dialog_cancellation", "workflow_step_execute", "view_closed", "view_submission",
    "block_actions", "block_suggestion", "BLOCK_ACTIONS", "", "event_callback", "url_verification",
    "app_rate_limited", "message_actions",
]  # fmt: skip
EVENT_TYPES = [
    "app_home_opened",
    "app_mention",
    "message",
    "app_uninstalled",
    "tokens_revoked",
    "team_join",
    "reaction_added",
    "",
    "app_home_opened ",
]
VIEW_TYPES = ["modal", "home", "workflow_step", "", "MODAL"]

LEAF = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
)
JSONISH = st.recursive(
    LEAF,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


@dataclass(frozen=True)
class Request:
    surface: str
    kind: str  # the seed's: form (a slash command), payload (interactivity) or event
    body: str | bytes
    content_type: str
    data: dict[str, Any] | None  # the JSON (payload or event) or form after mutation; None if not one
    ops: tuple[str, ...]

    def describe(self) -> str:
        shown = (
            json.dumps(self.data, default=repr)[:1500] if self.data is not None else repr(self.body[:1500])
        )
        return f"{self.surface} via {', '.join(self.ops) or 'no mutation'}: {shown}"


# --- paths in a JSON tree ---------------------------------------------------------------------------


def paths(tree: Any, prefix: Path = ()) -> list[Path]:
    out: list[Path] = []
    items: Sequence[tuple[str | int, Any]] = (
        list(tree.items())
        if isinstance(tree, dict)
        else list(enumerate(tree))
        if isinstance(tree, list)
        else []
    )
    for key, value in items:
        out.append((*prefix, key))
        out.extend(paths(value, (*prefix, key)))
    return out


def _hot(path: Path) -> bool:
    """Paths listener code reads, rather than the echoed message or view blocks."""
    return not (len(path) >= 2 and path[0] in ("message", "view") and path[1] == "blocks")


def get(tree: Any, path: Path) -> Any:
    for key in path:
        tree = tree[key]
    return tree


def put(tree: Any, path: Path, value: Any) -> None:
    get(tree, path[:-1])[path[-1]] = value


def drop(tree: Any, path: Path) -> None:
    parent = get(tree, path[:-1])
    del parent[path[-1]]


def _pick(draw: Draw, tree: Any, strings_only: bool = False) -> Path | None:
    every = paths(tree)
    if strings_only:
        every = [p for p in every if isinstance(get(tree, p), str)]
    if not every:
        return None
    hot = [p for p in every if _hot(p)]
    pool = hot if hot and draw(st.integers(0, 9)) < 8 else every
    return pool[draw(st.integers(0, len(pool) - 1))]


# --- values -----------------------------------------------------------------------------------------


def odd_digits(text: str, draw: Draw) -> str:
    style = draw(st.sampled_from([*DIGITS, "superscript"]))
    if style == "superscript":
        return text.translate(SUPERSCRIPT) if any(c.isdigit() for c in text) else "²"
    base = DIGITS[style]
    swapped = "".join(chr(base + int(c)) if c in "0123456789" else c for c in text)
    return swapped if swapped != text else chr(base + 7)


def hostile_text(draw: Draw, around: str = "") -> str:
    piece = draw(
        st.one_of(st.sampled_from(MARKUP), st.sampled_from(CONTROL), st.text(min_size=1, max_size=20))
    )
    where = draw(st.sampled_from(["replace", "prefix", "suffix", "inside"]))
    if where == "replace" or not around:
        return str(piece)
    if where == "prefix":
        return piece + around
    if where == "suffix":
        return around + piece
    cut = len(around) // 2
    return around[:cut] + piece + around[cut:]


def oversized(draw: Draw) -> Any:
    size = draw(st.sampled_from([256, 2001, 3001, 12_000, 150_000]))
    shape = draw(st.sampled_from(["string", "words", "nest", "list"]))
    if shape == "string":
        return draw(st.sampled_from(["x", "é", "\u202e", "<!channel>", "9"])) * size
    if shape == "words":
        return " ".join(["word"] * (size // 5))
    if shape == "nest":
        value: Any = "deep"
        for _ in range(draw(st.sampled_from([20, 200, 900]))):
            value = [value] if draw(st.booleans()) else {"k": value}
        return value
    return ["x"] * min(size, 5000)


# --- operations on a JSON payload -------------------------------------------------------------------


def _op_drop(draw: Draw, tree: dict[str, Any], known: list[str]) -> str:
    path = _pick(draw, tree)
    if path is None:
        return "drop(nothing)"
    drop(tree, path)
    return f"drop {_show(path)}"


def _op_retype(draw: Draw, tree: dict[str, Any], known: list[str]) -> str:
    path = _pick(draw, tree)
    if path is None:
        return "retype(nothing)"
    value = draw(JSONISH)
    put(tree, path, value)
    return f"retype {_show(path)} = {_short(value)}"


def _op_nest(draw: Draw, tree: dict[str, Any], known: list[str]) -> str:
    path = _pick(draw, tree)
    if path is None:
        return "nest(nothing)"
    old = get(tree, path)
    put(tree, path, draw(st.sampled_from([[old], {"value": old}, [old, old], {"0": [old]}])))
    return f"nest {_show(path)}"


def _op_oversize(draw: Draw, tree: dict[str, Any], known: list[str]) -> str:
    path = _pick(draw, tree)
    if path is None:
        return "oversize(nothing)"
    value = oversized(draw)
    put(tree, path, value)
    return f"oversize {_show(path)} ({_short(value)})"


def _op_text(draw: Draw, tree: dict[str, Any], known: list[str]) -> str:
    path = _pick(draw, tree, strings_only=True)
    if path is None:
        return "text(nothing)"
    kind = draw(st.sampled_from(["hostile", "digits", "url", "known", "empty", "space", "newline"]))
    old = get(tree, path)
    new = {
        "hostile": lambda: hostile_text(draw, old),
        "digits": lambda: odd_digits(old, draw),
        "url": lambda: draw(st.sampled_from(URLS)),
        "known": lambda: draw(st.sampled_from(known)) if known else "",
        "empty": lambda: "",
        "space": lambda: f"  {old}\n",
        "newline": lambda: f"{old}\n",  # ``$`` matches before a last newline; ``fullmatch`` does not
    }[kind]()
    put(tree, path, new)
    return f"{kind} {_show(path)} = {_short(new)}"


def _op_type(draw: Draw, tree: dict[str, Any], known: list[str]) -> str:
    if tree.get("type") == "event_callback" and isinstance(tree.get("event"), dict):
        tree["event"]["type"] = draw(st.sampled_from(EVENT_TYPES))
        return f"event.type = {tree['event']['type']!r}"
    if isinstance(tree.get("view"), dict) and draw(st.booleans()):
        tree["view"]["type"] = draw(st.sampled_from(VIEW_TYPES))
        return f"view.type = {tree['view']['type']!r}"
    tree["type"] = draw(st.sampled_from(UNKNOWN_TYPES))
    return f"type = {tree['type']!r}"


def _op_response_url(draw: Draw, tree: dict[str, Any], known: list[str]) -> str:
    choice = draw(st.sampled_from(["missing", "empty", "null", "url", "int"]))
    if choice == "missing":
        tree.pop("response_url", None)
    else:
        tree["response_url"] = (
            {"empty": "", "null": None, "int": 7}.get(choice)
            if choice != "url"
            else draw(st.sampled_from(URLS))
        )
    return f"response_url {choice} ({_short(tree.get('response_url'))})"


def _op_actions(draw: Draw, tree: dict[str, Any], known: list[str]) -> str:
    """The actions list itself: empty, many, or an action without its id or value."""
    actions = tree.get("actions")
    choice = draw(st.sampled_from(["empty", "many", "no_action_id", "no_value", "no_block_id", "swap"]))
    if not isinstance(actions, list) or not actions or not isinstance(actions[0], dict):
        tree["actions"] = [] if choice == "empty" else [{"type": "button"}]
        return f"actions = {_short(tree['actions'])}"
    first = actions[0]
    if choice == "empty":
        tree["actions"] = []
    elif choice == "many":
        tree["actions"] = [copy.deepcopy(first) for _ in range(draw(st.sampled_from([2, 30])))]
    elif choice == "swap":
        first["action_id"] = draw(st.sampled_from(known)) if known else "x"
    else:
        first.pop(choice.removeprefix("no_"), None)
    return f"actions {choice}"


def _op_metadata(draw: Draw, tree: dict[str, Any], known: list[str]) -> str:
    view = tree.get("view")
    if not isinstance(view, dict):
        return _op_retype(draw, tree, known)
    choice = draw(st.sampled_from(["huge", "json", "known", "hostile", "truncate"]))
    old = str(view.get("private_metadata") or "")
    view["private_metadata"] = {
        "huge": lambda: old + "x" * draw(st.sampled_from([3001, 20_000])),
        "json": lambda: json.dumps(draw(JSONISH)),
        "known": lambda: draw(st.sampled_from(known)) if known else "",
        "hostile": lambda: hostile_text(draw, old),
        "truncate": lambda: old[: len(old) // 2],
    }[choice]()
    return f"private_metadata {choice} ({_short(view['private_metadata'])})"


OPS = {
    "drop": _op_drop,
    "retype": _op_retype,
    "nest": _op_nest,
    "oversize": _op_oversize,
    "text": _op_text,
    "type": _op_type,
    "response_url": _op_response_url,
    "actions": _op_actions,
    "metadata": _op_metadata,
}
OP_WEIGHTS = [
    "drop",
    "drop",
    "retype",
    "retype",
    "nest",
    "oversize",
    "text",
    "text",
    "text",
    "type",
    "response_url",
    "actions",
    "metadata",
]


def _show(path: Path) -> str:
    return ".".join(str(p) for p in path)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:40]}…({len(text)} chars)"


# --- requests ---------------------------------------------------------------------------------------


def _envelope(draw: Draw, surface: str, tree: dict[str, Any], kind: str, ops: list[str]) -> Request:
    """How the mutated JSON travels, now and then itself broken: truncated, not UTF-8, a second copy."""
    text = json.dumps(tree, allow_nan=True)
    choice = draw(st.integers(0, 19))
    if kind == "event":
        if choice == 0:
            return Request(surface, kind, text[: len(text) // 2], JSON, None, (*ops, "truncated JSON"))
        if choice == 1:
            return Request(surface, kind, text.encode() + b"\xff\xfe", JSON, None, (*ops, "not UTF-8"))
        return Request(surface, kind, text, JSON, tree, tuple(ops))
    form: dict[str, Any] = {"payload": text}
    if choice == 0:
        form["payload"] = text[: len(text) // 2]
        return Request(surface, kind, urllib.parse.urlencode(form), FORM, None, (*ops, "truncated payload"))
    if choice == 1:
        body = urllib.parse.urlencode(form).encode() + b"%FF%FE\xff"
        return Request(surface, kind, body, FORM, None, (*ops, "not UTF-8"))
    if choice == 2:
        body = urllib.parse.urlencode([("payload", "{}"), ("payload", text)])  # the last one counts
        return Request(surface, kind, body, FORM, tree, (*ops, "payload twice"))
    if choice == 3:
        return Request(surface, kind, text, JSON, tree, (*ops, "payload sent as JSON"))
    return Request(surface, kind, urllib.parse.urlencode(form), FORM, tree, tuple(ops))


_TRIGGERS = itertools.count(1)


def _fresh(tree: dict[str, Any]) -> dict[str, Any]:
    """Slack sends a new trigger_id with every request (one works once, for 3 seconds)."""
    if "trigger_id" in tree:
        tree["trigger_id"] = f"trig-fuzz-{next(_TRIGGERS)}"
    return tree


@st.composite
def mutated_json(draw: Draw, seed: Seed, known: list[str]) -> Request:
    tree = _fresh(copy.deepcopy(seed.body))
    ops: list[str] = []
    for _ in range(draw(st.integers(1, 3))):
        name = draw(st.sampled_from(OP_WEIGHTS))
        ops.append(OPS[name](draw, tree, known))
    return _envelope(draw, seed.surface, tree, seed.kind, ops)


def _new_field(draw: Draw, choice: str, old: str, known: list[str]) -> str:
    if choice == "hostile":
        return hostile_text(draw, old)
    if choice == "digits":
        return odd_digits(old, draw)
    if choice == "url":
        return str(draw(st.sampled_from(URLS)))
    if choice == "known":
        return str(draw(st.sampled_from(known))) if known else ""
    if choice == "long":
        return str(oversized(draw))
    if choice == "newline":
        return f"{old}\n"
    return ""


#: words a /finetune text is made of: every subcommand and flag the grammar knows, and odd values
SLASH_WORDS = [
    *grammar.NAMES,
    *grammar.SUBMIT_FLAGS,
    *("--", "-", "0", "-1", "1e9", "nan", "inf", "payload", "٣", "３", "²"),
    *(
        "ftbot-tiny",
        "https://files.slack.com/a.jsonl",
        "<!channel>",
        "\x00",
        "\u202e",
        '"',
        "'",
        "`",
        "../",
        "🙂",
    ),
]


@st.composite
def mutated_form(draw: Draw, seed: Seed, known: list[str]) -> Request:
    """A slash command's fields: dropped, emptied, repeated, hostile, odd digits, strange URLs, and its
    text rebuilt from the grammar's words, real ids and hostile pieces."""
    form: dict[str, Any] = _fresh(dict(seed.body))
    ops: list[str] = []
    keys = sorted(form)
    for _ in range(draw(st.integers(1, 3))):
        key = draw(st.sampled_from(keys))
        choice = draw(
            st.sampled_from(
                [
                    "drop",
                    "empty",
                    "hostile",
                    "digits",
                    "url",
                    "known",
                    "long",
                    "newline",
                    "twice",
                    "text",
                    "text",
                    "text",
                ]
            )
        )
        if choice == "drop":
            form.pop(key, None)
        elif choice == "twice":
            form[key] = [str(form.get(key, "")), draw(st.sampled_from([*known, ""]))]
        elif choice == "text":
            key = "text"
            words = draw(
                st.lists(
                    st.one_of(
                        st.sampled_from(SLASH_WORDS),
                        st.sampled_from(known),
                        st.sampled_from(URLS),
                        st.sampled_from(MARKUP + CONTROL),
                    ),
                    max_size=8,
                )
            )
            form[key] = " ".join(words)
        else:
            form[key] = _new_field(draw, choice, str(form.get(key, "")), known)
        ops.append(f"{choice} {key}")
    pairs = [(k, v) for k, vs in form.items() for v in (vs if isinstance(vs, list) else [vs])]
    body = urllib.parse.urlencode(pairs, errors="surrogatepass")
    if draw(st.integers(0, 29)) == 0:
        return Request(
            seed.surface, seed.kind, body.encode() + b"&text=%FF\xff", FORM, None, (*ops, "not UTF-8")
        )
    return Request(seed.surface, seed.kind, body, FORM, form, tuple(ops))


def requests_for(seeds: Sequence[Seed], known: list[str]) -> st.SearchStrategy[Request]:
    """Mutations of any of ``seeds`` (one surface, usually)."""

    def one(seed: Seed) -> st.SearchStrategy[Request]:
        return mutated_form(seed, known) if seed.kind == "form" else mutated_json(seed, known)

    return st.sampled_from(list(seeds)).flatmap(one)
