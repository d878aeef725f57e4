"""`rerun`, `eval`, `compare`, `costs`, `config` and `deploy --target`: what each parses into, and every
way each can fail with what the user sees (the sentence, the field, the hint and the names)."""

from __future__ import annotations

from typing import Any

import pytest

from commands import grammar
from commands.errors import UsageError
from commands.grammar import (
    SUBCOMMANDS,
    Compare,
    Config,
    Costs,
    Deploy,
    Evaluate,
    Rerun,
    parse,
)
from commands.models import Hyperparameters

USAGE = {s.name: s.usage for s in SUBCOMMANDS}
ID_NAMES = {"dot": ".", "underscore": "_", "dash": "-"}
NOT_A_USER = (
    "{value} is not a user: mention them (@name, picked from Slack's list) or give their id (U…), "
    "or a user group (S…)."
)
NOT_A_CHANNEL = (
    "{value} is not a channel: mention it (#channel, picked from Slack's list) or give its id (C…)."
)
CONFIG_SHAPE = "config takes approvers or channels, add or remove, and one mention."
EXAMPLES = "--examples is how many examples to ask, a whole number from 1, got {value}."
TARGET = "--target is a deploy target's name from FTBOT_DEPLOY_TARGETS, e.g. home."


def _error(text: str) -> UsageError:
    with pytest.raises(UsageError) as e:
        parse(text)
    return e.value


def _bad_id(text: str, value: str, field: str, hint: str) -> tuple[str, str, str, str, dict[str, Any]]:
    message = f"{value} is not a valid {field} name: use letters, digits, ., _ and -."
    return (text, message, field, hint, {"value": value, **ID_NAMES})


def _examples(raw: str) -> tuple[str, str, str, str, dict[str, Any]]:
    names = {"flag": "--examples", "value": raw}
    return (f"eval j --examples {raw}", EXAMPLES.format(value=raw), "--examples", USAGE["eval"], names)


def _config_shape(text: str) -> tuple[str, str, None, str, dict[str, Any]]:
    return (text, CONFIG_SHAPE, None, USAGE["config"], {"command": "config"})


RERUN, EVAL, COMPARE, COSTS, CONFIG = (USAGE[n] for n in ("rerun", "eval", "compare", "costs", "config"))

ERRORS: list[tuple[str, str, str | None, str | None, dict[str, Any]]] = [
    ("rerun", "rerun takes exactly one job.", "job", RERUN, {"command": "rerun"}),
    ("rerun a b", "rerun takes exactly one job, got 2.", "job", RERUN, {"command": "rerun"}),
    _bad_id("rerun a/b", "a/b", "job", RERUN),
    (
        "rerun j --epochs x",
        "--epochs must be a whole number, got x.",
        "--epochs",
        RERUN,
        {"flag": "--epochs", "value": "x"},
    ),
    (
        "rerun j --epochs 0",
        "--epochs: input should be greater than or equal to 1.",
        "--epochs",
        RERUN,
        {"flag": "--epochs"},
    ),
    (
        "rerun j --batch-size 0",
        "--batch-size: input should be greater than or equal to 1.",
        "--batch-size",
        RERUN,
        {"flag": "--batch-size"},
    ),
    (
        "rerun j --learning-rate-multiplier nan",
        "--learning-rate-multiplier must be a finite number.",
        "--learning-rate-multiplier",
        RERUN,
        {"flag": "--learning-rate-multiplier"},
    ),
    (
        "rerun j --suffix -x",
        "--suffix is up to 40 letters, digits and dashes, starting with a letter or digit.",
        "--suffix",
        RERUN,
        {"flag": "--suffix"},
    ),
    (
        "rerun j --method dpo",
        "rerun has no flag --method.",
        "--method",
        RERUN,
        {"command": "rerun", "flag": "--method"},
    ),
    (
        "rerun j --beta 1",
        "rerun has no flag --beta.",
        "--beta",
        RERUN,
        {"command": "rerun", "flag": "--beta"},
    ),
    ("eval", "eval takes exactly one job.", "job", EVAL, {"command": "eval"}),
    ("evaluate a b", "eval takes exactly one job, got 2.", "job", EVAL, {"command": "eval"}),
    _bad_id("eval a/b", "a/b", "job", EVAL),
    _examples("0"),
    _examples("abc"),
    _examples("1234567890"),
    _examples("\u0663"),  # an Arabic-Indic three: a digit to str.isdigit, not to the user
    _examples("-1"),
    _bad_id("eval j --endpoint bad/ep", "bad/ep", "endpoint", EVAL),
    ("eval j --examples", "--examples needs a value.", "--examples", EVAL, {"flag": "--examples"}),
    ("compare", "compare takes two jobs.", None, COMPARE, {"command": "compare"}),
    ("compare a", "compare takes two jobs.", None, COMPARE, {"command": "compare"}),
    ("compare a b c", "compare takes two jobs.", None, COMPARE, {"command": "compare"}),
    _bad_id("compare a b/c", "b/c", "job", COMPARE),
    _bad_id("compare a/x b", "a/x", "job", COMPARE),
    ("costs x", "costs takes only --month and --channel.", None, COSTS, {"command": "costs"}),
    ("costs --month 2026 x", "costs takes only --month and --channel.", None, COSTS, {"command": "costs"}),
    (
        "costs --month 2026-3",
        "--month is a month as YYYY-MM, e.g. 2026-03.",
        "--month",
        COSTS,
        {"flag": "--month", "example": "2026-03"},
    ),
    (
        "costs --month 26-03",
        "--month is a month as YYYY-MM, e.g. 2026-03.",
        "--month",
        COSTS,
        {"flag": "--month", "example": "2026-03"},
    ),
    *(
        (
            f"costs --channel {channel}",
            "--channel is a channel as a mention (#channel) or its id (C…).",
            "--channel",
            COSTS,
            {"flag": "--channel"},
        )
        for channel in ("general", "C1", "c123", "U123", "#general")
    ),
    ("costs --month", "--month needs a value.", "--month", COSTS, {"flag": "--month"}),
    ("costs --zone x", "costs has no flag --zone.", "--zone", COSTS, {"command": "costs", "flag": "--zone"}),
    _config_shape("config approvers"),
    _config_shape("config approvers add"),
    _config_shape("config approvers add U123 U456"),
    _config_shape("config admins add U123"),
    _config_shape("config approvers put U123"),
    _config_shape("config add approvers U123"),
    *(
        (
            f"config approvers add {raw}",
            NOT_A_USER.format(value=raw),
            "approvers",
            CONFIG,
            {"value": raw},
        )
        for raw in ("@alice", "C123", "U1", "u123")
    ),
    *(
        (
            f"config channels remove {raw}",
            NOT_A_CHANNEL.format(value=raw),
            "channels",
            CONFIG,
            {"value": raw},
        )
        for raw in ("general", "U123", "S123", "C1")
    ),
    *(
        (
            f"deploy j --target {raw}",
            TARGET,
            "--target",
            USAGE["deploy"],
            {"flag": "--target", "example": "home"},
        )
        for raw in ("1x", "t" * 41, "a.b")
    ),
]


@pytest.mark.parametrize(
    ("text", "message", "field", "hint", "names"),
    ERRORS,
    ids=[e[0][:50].encode("ascii", "replace").decode() for e in ERRORS],  # ASCII: mutmut selects by id
)
def test_each_usage_error_says_what_and_hints_what_to_try(
    text: str, message: str, field: str | None, hint: str | None, names: dict[str, Any]
) -> None:
    err = _error(text)
    assert (str(err), err.field, err.hint, err.names) == (message, field, hint, names)


PARSED: list[tuple[str, object]] = [
    ("rerun j", Rerun(job="j")),
    ("RERUN j", Rerun(job="j")),
    (
        "rerun j --epochs 3 --batch-size=8 --learning-rate-multiplier 0.5 --suffix v2",
        Rerun(
            job="j",
            hyperparameters=Hyperparameters(n_epochs=3, batch_size=8, learning_rate_multiplier=0.5),
            suffix="v2",
        ),
    ),
    ("eval j", Evaluate(job="j")),
    ("Evaluate j", Evaluate(job="j")),
    ("eval j --examples 1", Evaluate(job="j", examples=1)),
    ("eval j --examples 999999999", Evaluate(job="j", examples=999999999)),
    ("eval --examples=07 j", Evaluate(job="j", examples=7)),
    ("eval j --endpoint ep-1.a_b", Evaluate(job="j", endpoint="ep-1.a_b")),
    ("eval j --endpoint ep-1 --examples 5", Evaluate(job="j", examples=5, endpoint="ep-1")),
    ("compare a b", Compare(first="a", second="b")),
    ("COMPARE b.1 a_2", Compare(first="b.1", second="a_2")),
    ("costs", Costs()),
    ("Costs --month 2026-03", Costs(month="2026-03")),
    ("costs --channel C123", Costs(channel="C123")),
    ("costs --channel <#G42ABC|ml-jobs> --month=1999-12", Costs(month="1999-12", channel="G42ABC")),
    ("costs --channel D12", Costs(channel="D12")),
    ("config", Config()),
    ("CONFIG", Config()),
    ("config approvers add U123", Config(field="approvers", add=True, value="U123")),
    ("config Approvers REMOVE <@W42|alice>", Config(field="approvers", add=False, value="W42")),
    ("config approvers ADD <!subteam^S7AB|@ops>", Config(field="approvers", add=True, value="S7AB")),
    ("config approvers remove S12", Config(field="approvers", add=False, value="S12")),
    ("config CHANNELS add <#C9Z|general>", Config(field="channels", add=True, value="C9Z")),
    ("config channels Remove G456", Config(field="channels", add=False, value="G456")),
    ("deploy j --target eu-west_2", Deploy(job="j", target="eu-west_2")),
    ("deploy j --target Home", Deploy(job="j", target="Home")),
    ("deploy j --target " + "T" * 40, Deploy(job="j", target="T" * 40)),
    ("deploy j --target=x --sku S --checkpoint 4", Deploy(job="j", checkpoint=4, sku="S", target="x")),
]


@pytest.mark.parametrize(("text", "command"), PARSED, ids=[p[0][:50] for p in PARSED])
def test_commands_that_parse(text: str, command: object) -> None:
    assert parse(text) == command


def test_a_rerun_error_keeps_the_submit_rule_it_broke_as_its_cause() -> None:
    err = _error("rerun j --epochs 0")
    assert isinstance(err.__cause__, UsageError)
    assert (err.__cause__.template, err.__cause__.field) == (err.template, err.field)
    assert err.__cause__.hint == USAGE["submit"]  # the shared rule's own hint, replaced by rerun's


@pytest.mark.parametrize(
    ("args", "channel"),
    [
        (["--channel", "<#C123|general>"], "C123"),  # a mention parse() had not unescaped already
        (["--channel", "<#G45>"], "G45"),
        (["--channel", "D678"], "D678"),
    ],
)
def test_costs_reads_a_channel_mention_or_a_bare_id(args: list[str], channel: str) -> None:
    assert grammar._costs(args) == Costs(channel=channel)


@pytest.mark.parametrize(
    ("raw", "value"),
    [("<@U123|alice>", "U123"), ("<@W9Z>", "W9Z"), ("<!subteam^S42|@ops>", "S42"), ("S42", "S42")],
)
def test_config_reads_a_user_or_group_mention_or_a_bare_id(raw: str, value: str) -> None:
    assert grammar._config(["approvers", "add", raw]) == Config(field="approvers", value=value)


@pytest.mark.parametrize(
    ("word", "suggestion"),
    [
        ("hexx", "/finetune help"),  # similarity 0.5 to `help`: at the cutoff, still suggested
        ("HEXX", "/finetune help"),
        ("modxxx", "/finetune models"),  # 0.5 to `models`
        ("cnfg", "/finetune config"),
    ],
)
def test_a_mistyped_subcommand_is_suggested_down_to_half_alike(word: str, suggestion: str) -> None:
    err = _error(word)
    assert (err.hint, err.names["suggestion"]) == (suggestion, suggestion)
    assert grammar.closest_subcommand(word) == suggestion.removeprefix("/finetune ")


def test_a_word_less_than_half_alike_gets_no_suggestion() -> None:
    assert grammar.closest_subcommand("abcd") is None  # 0.4 to `cancel`
    assert _error("abcd").hint == "/finetune help"
