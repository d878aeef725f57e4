"""Every way `/finetune` text can fail to parse, with what the user sees: the sentence, the field the
error points at, the hint (what to try instead) and the names that ``bot/ui`` renders as code spans."""

from __future__ import annotations

from typing import Any

import pytest

from commands.errors import UsageError
from commands.grammar import (
    MAX_TEXT,
    SUBCOMMANDS,
    Chat,
    Deploy,
    Doctor,
    Help,
    ListEndpoints,
    ListJobs,
    ListModels,
    OpenWizard,
    Status,
    Submit,
    Validate,
    parse,
)
from commands.models import Method, Task

USAGE = {s.name: s.usage for s in SUBCOMMANDS}
SUBMIT = USAGE["submit"]
ID_NAMES = {"dot": ".", "underscore": "_", "dash": "-"}
OK = "submit --model m --data d "


def _error(text: str) -> UsageError:
    with pytest.raises(UsageError) as e:
        parse(text)
    return e.value


def _seen(err: UsageError) -> tuple[str, str | None, str | None, dict[str, Any]]:
    return str(err), err.field, err.hint, err.names


ERRORS: list[tuple[str, str, str | None, str | None, dict[str, Any]]] = [
    (
        'submit --model "abc',
        "Could not read the command: No closing quotation. Check your quotes.",
        None,
        "/finetune help",
        {},
    ),
    (
        "status bad/id",
        "bad/id is not a valid job name: use letters, digits, ., _ and -.",
        "job",
        "/finetune status [JOB]",
        {"value": "bad/id", **ID_NAMES},
    ),
    ("status a b", "status takes at most one job.", None, "/finetune status [JOB]", {"command": "status"}),
    ("cancel", "cancel takes exactly one job.", "job", "/finetune cancel JOB", {"command": "cancel"}),
    (
        "cancel a b",
        "cancel takes exactly one job, got 2.",
        "job",
        "/finetune cancel JOB",
        {"command": "cancel"},
    ),
    (
        "cancel a/b",
        "a/b is not a valid job name: use letters, digits, ., _ and -.",
        "job",
        "/finetune cancel JOB",
        {"value": "a/b", **ID_NAMES},
    ),
    (
        "teardown",
        "teardown takes exactly one endpoint.",
        "endpoint",
        "/finetune teardown ENDPOINT",
        {"command": "teardown"},
    ),
    (
        "teardown a b c",
        "teardown takes exactly one endpoint, got 3.",
        "endpoint",
        "/finetune teardown ENDPOINT",
        {"command": "teardown"},
    ),
    ("pause", "pause takes exactly one job.", "job", "/finetune pause JOB", {"command": "pause"}),
    (
        "resume x y",
        "resume takes exactly one job, got 2.",
        "job",
        "/finetune resume JOB",
        {"command": "resume"},
    ),
    ("deploy", "deploy takes exactly one job.", "job", USAGE["deploy"], {"command": "deploy"}),
    ("submit foo", "Unexpected foo: every value follows a flag.", None, SUBMIT, {"value": "foo"}),
    (
        "submit --modle m",
        "Unknown flag --modle. Did you mean --model?",
        "--modle",
        SUBMIT,
        {"flag": "--modle", "suggestion": "--model"},
    ),
    ("submit --zzz 1", "Unknown flag --zzz.", "--zzz", SUBMIT, {"flag": "--zzz"}),
    ("submit --model", "--model needs a value.", "--model", SUBMIT, {"flag": "--model"}),
    ("submit --model --data x", "--model needs a value.", "--model", SUBMIT, {"flag": "--model"}),
    (
        "submit --model a --model b --data d",
        "--model is given twice.",
        "--model",
        SUBMIT,
        {"flag": "--model"},
    ),
    (
        "submit --model=a --data d --model=b",
        "--model is given twice.",
        "--model",
        SUBMIT,
        {"flag": "--model"},
    ),
    ("submit --data d", "--model is required.", "--model", SUBMIT, {"flag": "--model"}),
    ("submit --model m", "--data is required.", "--data", SUBMIT, {"flag": "--data"}),
    (
        OK + "--validation v --split 0.1",
        "Give either --validation URL or --split F, not both.",
        "--split",
        SUBMIT,
        {"flag": "--split", "validation": "--validation URL", "split": "--split F"},
    ),
    (
        OK + "--split 0",
        "--split is the fraction held out for validation, between 0 and 1 (e.g. 0.1).",
        "--split",
        SUBMIT,
        {"flag": "--split"},
    ),
    (
        OK + "--split 1",
        "--split is the fraction held out for validation, between 0 and 1 (e.g. 0.1).",
        "--split",
        SUBMIT,
        {"flag": "--split"},
    ),
    (
        OK + "--split -0.5",
        "--split is the fraction held out for validation, between 0 and 1 (e.g. 0.1).",
        "--split",
        SUBMIT,
        {"flag": "--split"},
    ),
    (
        OK + "--split abc",
        "--split must be a number, got abc.",
        "--split",
        SUBMIT,
        {"flag": "--split", "value": "abc"},
    ),
    (OK + "--split nan", "--split must be a finite number.", "--split", SUBMIT, {"flag": "--split"}),
    (OK + "--split inf", "--split must be a finite number.", "--split", SUBMIT, {"flag": "--split"}),
    (OK + "--split -inf", "--split must be a finite number.", "--split", SUBMIT, {"flag": "--split"}),
    (
        OK + "--epochs 1.5",
        "--epochs must be a whole number, got 1.5.",
        "--epochs",
        SUBMIT,
        {"flag": "--epochs", "value": "1.5"},
    ),
    (
        OK + "--epochs 0",
        "--epochs: input should be greater than or equal to 1.",
        "--epochs",
        SUBMIT,
        {"flag": "--epochs"},
    ),
    (
        OK + "--epochs 51",
        "--epochs: input should be less than or equal to 50.",
        "--epochs",
        SUBMIT,
        {"flag": "--epochs"},
    ),
    (
        OK + "--batch-size x",
        "--batch-size must be a whole number, got x.",
        "--batch-size",
        SUBMIT,
        {"flag": "--batch-size", "value": "x"},
    ),
    (
        OK + "--batch-size 257",
        "--batch-size: input should be less than or equal to 256.",
        "--batch-size",
        SUBMIT,
        {"flag": "--batch-size"},
    ),
    (
        OK + "--learning-rate-multiplier x",
        "--learning-rate-multiplier must be a number, got x.",
        "--learning-rate-multiplier",
        SUBMIT,
        {"flag": "--learning-rate-multiplier", "value": "x"},
    ),
    (
        OK + "--learning-rate-multiplier 0",
        "--learning-rate-multiplier: input should be greater than 0.",
        "--learning-rate-multiplier",
        SUBMIT,
        {"flag": "--learning-rate-multiplier"},
    ),
    (
        OK + "--method dpo --beta x",
        "--beta must be a number, got x.",
        "--beta",
        SUBMIT,
        {"flag": "--beta", "value": "x"},
    ),
    (
        OK + "--method dpo --beta 2.5",
        "--beta: input should be less than or equal to 2.",
        "--beta",
        SUBMIT,
        {"flag": "--beta"},
    ),
    (
        OK + "--task foo",
        "--task is chat_completion or text_completion, not foo.",
        "--task",
        SUBMIT,
        {"flag": "--task", "chat": "chat_completion", "text": "text_completion", "value": "foo"},
    ),
    (
        OK + "--method rl",
        "--method is supervised or dpo, not rl.",
        "--method",
        SUBMIT,
        {"flag": "--method", "supervised": "supervised", "dpo": "dpo", "value": "rl"},
    ),
    (
        OK + "--training-type 1abc",
        "--training-type is a training tier's name, e.g. Standard.",
        "--training-type",
        SUBMIT,
        {"flag": "--training-type", "example": "Standard"},
    ),
    (
        OK + "--training-type " + "a" * 41,
        "--training-type is a training tier's name, e.g. Standard.",
        "--training-type",
        SUBMIT,
        {"flag": "--training-type", "example": "Standard"},
    ),
    (
        OK + "--suffix -abc",
        "--suffix is up to 40 letters, digits and dashes, starting with a letter or digit.",
        "--suffix",
        SUBMIT,
        {"flag": "--suffix"},
    ),
    (
        OK + "--suffix " + "a" * 41,
        "--suffix is up to 40 letters, digits and dashes, starting with a letter or digit.",
        "--suffix",
        SUBMIT,
        {"flag": "--suffix"},
    ),
    (
        OK + "--beta 0.5",
        "--beta is a DPO setting; add --method dpo.",
        "--beta",
        SUBMIT,
        {"flag": "--beta", "dpo": "--method dpo"},
    ),
    (
        OK + "--method dpo --task text_completion",
        "--method trains chat models only; leave out --task.",
        "--method",
        SUBMIT,
        {"flag": "--method", "task": "--task"},
    ),
    (
        "submit --model bad/m --data d",
        "bad/m is not a valid --model name: use letters, digits, ., _ and -.",
        "--model",
        SUBMIT,
        {"value": "bad/m", **ID_NAMES},
    ),
    (
        "sumbit",
        "Unknown subcommand sumbit. Did you mean /finetune submit? See /finetune help.",
        None,
        "/finetune submit",
        {"command": "sumbit", "suggestion": "/finetune submit", "help": "/finetune help"},
    ),
    (
        "zzzz",
        "Unknown subcommand zzzz. See /finetune help.",
        None,
        "/finetune help",
        {"command": "zzzz", "help": "/finetune help"},
    ),
    (
        "chat",
        "chat needs an endpoint and a prompt.",
        None,
        "/finetune chat ENDPOINT PROMPT",
        {"command": "chat"},
    ),
    (
        "chat ep",
        "chat needs an endpoint and a prompt.",
        None,
        "/finetune chat ENDPOINT PROMPT",
        {"command": "chat"},
    ),
    (
        "chat bad/ep hello",
        "bad/ep is not a valid endpoint name: use letters, digits, ., _ and -.",
        "endpoint",
        "/finetune chat ENDPOINT PROMPT",
        {"value": "bad/ep", **ID_NAMES},
    ),
    (
        "validate --foo x url",
        "validate has no flag --foo.",
        "--foo",
        USAGE["validate"],
        {"command": "validate", "flag": "--foo"},
    ),
    ("validate url --method", "--method needs a value.", "--method", USAGE["validate"], {"flag": "--method"}),
    (
        "validate --method --x url",
        "--method needs a value.",
        "--method",
        USAGE["validate"],
        {"flag": "--method"},
    ),
    (
        "validate --method dpo --method dpo url",
        "--method is given twice.",
        "--method",
        USAGE["validate"],
        {"flag": "--method"},
    ),
    ("validate a b", "validate takes one URL.", None, USAGE["validate"], {"command": "validate"}),
    ("validate", "validate takes one URL.", None, USAGE["validate"], {"command": "validate"}),
    (
        "validate --method rl url",
        "--method is supervised or dpo, not rl.",
        "--method",
        USAGE["validate"],
        {"flag": "--method", "supervised": "supervised", "dpo": "dpo", "value": "rl"},
    ),
    (
        "deploy j --checkpoint abc",
        "--checkpoint is a checkpoint's number as the job's thread lists it, got abc.",
        "--checkpoint",
        USAGE["deploy"],
        {"flag": "--checkpoint", "value": "abc"},
    ),
    (
        "deploy j --checkpoint 1234567890",
        "--checkpoint is a checkpoint's number as the job's thread lists it, got 1234567890.",
        "--checkpoint",
        USAGE["deploy"],
        {"flag": "--checkpoint", "value": "1234567890"},
    ),
    (
        "deploy j --checkpoint \u0663",
        "--checkpoint is a checkpoint's number as the job's thread lists it, got \u0663.",
        "--checkpoint",
        USAGE["deploy"],
        {"flag": "--checkpoint", "value": "\u0663"},
    ),
    (
        "deploy j --checkpoint -1",
        "--checkpoint is a checkpoint's number as the job's thread lists it, got -1.",
        "--checkpoint",
        USAGE["deploy"],
        {"flag": "--checkpoint", "value": "-1"},
    ),
    (
        "deploy j --sku 1x",
        "--sku is a deployment SKU's name, e.g. Standard.",
        "--sku",
        USAGE["deploy"],
        {"flag": "--sku", "example": "Standard"},
    ),
    (
        "deploy j --sku " + "S" * 41,
        "--sku is a deployment SKU's name, e.g. Standard.",
        "--sku",
        USAGE["deploy"],
        {"flag": "--sku", "example": "Standard"},
    ),
    ("deploy j --sku", "--sku needs a value.", "--sku", USAGE["deploy"], {"flag": "--sku"}),
    (
        "deploy j --zone x",
        "deploy has no flag --zone.",
        "--zone",
        USAGE["deploy"],
        {"command": "deploy", "flag": "--zone"},
    ),
    ("deploy j --sku=a --sku=b", "--sku is given twice.", "--sku", USAGE["deploy"], {"flag": "--sku"}),
    (
        "deploy a/b",
        "a/b is not a valid job name: use letters, digits, ., _ and -.",
        "job",
        USAGE["deploy"],
        {"value": "a/b", **ID_NAMES},
    ),
    ("list x", "list takes no arguments.", None, "/finetune list", {"command": "list"}),
    ("models x", "models takes no arguments.", None, "/finetune models", {"command": "models"}),
    ("endpoints x", "endpoints takes no arguments.", None, "/finetune endpoints", {"command": "endpoints"}),
    ("doctor x", "doctor takes no arguments.", None, "/finetune doctor", {"command": "doctor"}),
]


# ASCII ids: mutmut selects tests by id, and its second pytest session did not find an escaped one
ERROR_IDS = [e[0][:50].encode("ascii", "replace").decode() for e in ERRORS]


@pytest.mark.parametrize(("text", "message", "field", "hint", "names"), ERRORS, ids=ERROR_IDS)
def test_each_usage_error_says_what_and_hints_what_to_try(
    text: str, message: str, field: str | None, hint: str | None, names: dict[str, Any]
) -> None:
    assert _seen(_error(text)) == (message, field, hint, names)


def test_the_usage_hints_are_the_help_texts_usage_lines() -> None:
    assert USAGE["deploy"] == "/finetune deploy JOB [--checkpoint N] [--sku S] [--target NAME]"
    assert USAGE["validate"] == "/finetune validate [--method dpo] URL"
    assert SUBMIT.startswith("/finetune submit --model M --data URL [--validation URL | --split F]")


def test_text_longer_than_slack_allows_is_refused_before_parsing() -> None:
    err = _error("chat ep " + "x" * (MAX_TEXT - 7))
    assert _seen(err) == (
        f"The command is too long ({MAX_TEXT + 1} characters; at most 4000).",
        None,
        None,
        {},
    )
    assert MAX_TEXT == 4000
    prompt = "x" * (MAX_TEXT - 8)
    assert parse("chat ep " + prompt) == Chat(endpoint="ep", prompt=prompt)


def test_long_values_are_clipped_in_the_message() -> None:
    value = "b/" * 40
    err = _error("status " + value)
    assert err.names["value"] == value[:59] + "…"
    assert str(err).startswith(value[:59] + "… is not a valid job name")
    sixty = "c/" * 30
    assert _error("status " + sixty).names["value"] == sixty  # at the limit: kept whole


def test_identifier_length_limit() -> None:
    assert parse("status " + "a" * 128) == Status(job="a" * 128)
    assert _error("status " + "a" * 129).field == "job"
    assert parse("status A.b_c-9") == Status(job="A.b_c-9")
    assert _error("status .a").field == "job"


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("", OpenWizard()),
        ("   ", OpenWizard()),
        ("help", Help()),
        ("HELP", Help()),
        ("-h", Help()),
        ("--help", Help()),
        ("status", Status()),
        ("Status j1", Status(job="j1")),
        ("list", ListJobs()),
        ("models", ListModels()),
        ("endpoints", ListEndpoints()),
        ("doctor", Doctor()),
        ("CHAT ep  hello 'there'  ", Chat(endpoint="ep", prompt="hello 'there'")),
        ("validate https://x/y.jsonl", Validate(url="https://x/y.jsonl")),
        ("validate --method DPO u", Validate(url="u", method=Method.DPO)),
        ("validate --method=dpo u", Validate(url="u", method=Method.DPO)),
        ("deploy j", Deploy(job="j")),
        ("deploy j --checkpoint 123456789", Deploy(job="j", checkpoint=123456789)),
        ("deploy j --checkpoint=0", Deploy(job="j", checkpoint=0)),
        ("deploy j --sku=Standard --checkpoint 3", Deploy(job="j", checkpoint=3, sku="Standard")),
        ("deploy --sku GlobalStandard j", Deploy(job="j", sku="GlobalStandard")),
        ("deploy j --sku " + "S" * 40, Deploy(job="j", sku="S" * 40)),
    ],
)
def test_commands_that_parse(text: str, command: object) -> None:
    assert parse(text) == command


def test_submit_reads_every_flag() -> None:
    got = parse(
        "submit --model gpt-4o --data https://d --split 0.25 --epochs 50 --batch-size 256 "
        "--learning-rate-multiplier 10 --suffix ABC-1 --task chat_completion --method DPO --beta 2 "
        "--training-type GlobalStandard"
    )
    assert isinstance(got, Submit)
    assert (got.model, got.data, got.validation, got.split) == ("gpt-4o", "https://d", None, 0.25)
    hp = got.hyperparameters
    assert (hp.n_epochs, hp.batch_size, hp.learning_rate_multiplier, hp.beta) == (50, 256, 10.0, 2.0)
    assert (got.suffix, got.task, got.method, got.training_type) == (
        "ABC-1",
        Task.CHAT_COMPLETION,
        Method.DPO,
        "GlobalStandard",
    )


def test_submit_defaults_and_bounds_inside() -> None:
    got = parse("submit --model=m --data=d --validation=v")
    assert got == Submit(model="m", data="d", validation="v")
    assert got.hyperparameters.is_default and got.method is Method.SUPERVISED and got.split is None
    assert parse(OK + "--split 1e-9").split == 1e-9  # type: ignore[union-attr]
    assert parse(OK + "--split 0.999").split == 0.999  # type: ignore[union-attr]
    assert parse(OK + "--epochs 1 --batch-size 1").hyperparameters.n_epochs == 1  # type: ignore[union-attr]
    text = parse(OK + "--task text_completion --suffix " + "z" * 40)
    assert (text.task, text.suffix) == (Task.TEXT_COMPLETION, "z" * 40)  # type: ignore[union-attr]
    assert parse(OK + "--training-type " + "T" * 40).training_type == "T" * 40  # type: ignore[union-attr]
