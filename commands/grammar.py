"""The `/finetune` text grammar, parsed into typed commands.

/finetune                       open the wizard
/finetune help
/finetune submit --model M --data URL [--validation URL | --split F] [--epochs N]
                 [--batch-size N] [--learning-rate-multiplier X] [--suffix S] [--task T]
                 [--method supervised|dpo] [--beta X] [--training-type T]
/finetune validate [--method dpo] URL
/finetune status [JOB]
/finetune list | models | endpoints
/finetune deploy JOB [--checkpoint N] [--sku S] [--target NAME]
/finetune pause JOB | resume JOB | cancel JOB | teardown ENDPOINT
/finetune chat ENDPOINT PROMPT...
/finetune doctor
/finetune rerun JOB [--epochs N] [--batch-size N] [--learning-rate-multiplier X] [--suffix S]
/finetune eval JOB [--examples N] [--endpoint ENDPOINT | --checkpoint N]
/finetune compare JOB1 JOB2
/finetune costs [--month YYYY-MM] [--channel #channel]
/finetune config | config approvers add|remove @user | config channels add|remove #channel
"""

from __future__ import annotations

import difflib
import re
import shlex
from dataclasses import dataclass, field
from typing import Final, TypeVar

from pydantic import ValidationError

from commands.dataset.service_refs import malformed_ref
from commands.errors import UsageError
from commands.models import Hyperparameters, Method, Task

MAX_TEXT = 4000  # Slack slash-command text is at most 4,000 characters


@dataclass(frozen=True)
class Subcommand:
    name: str
    usage: str
    summary: str


SUBCOMMANDS: Final[tuple[Subcommand, ...]] = (
    Subcommand("help", "/finetune help", "Show this help."),
    Subcommand("", "/finetune", "Open the fine-tuning wizard: base model, data, parameters, review, start."),
    Subcommand(
        "submit",
        "/finetune submit --model M --data URL [--validation URL | --split F] [--epochs N] "
        "[--batch-size N] [--learning-rate-multiplier X] [--suffix S] [--method supervised|dpo] "
        "[--beta X] [--training-type T]",
        "Validate a dataset and start a fine-tuning job in one line (DPO: preference data, --method dpo). "
        "--data and --validation also take a project data asset, azureml:NAME:VERSION (azure), or a file "
        "uploaded with purpose fine-tune, file-… (foundry).",
    ),
    Subcommand(
        "validate",
        "/finetune validate [--method dpo] URL",
        "Check a JSONL dataset (chat, or preference data for DPO) and estimate tokens and cost.",
    ),
    Subcommand("status", "/finetune status [JOB]", "Show a job's state, or your recent jobs."),
    Subcommand("list", "/finetune list", "List this channel's jobs."),
    Subcommand("models", "/finetune models", "List the base models you can fine-tune."),
    Subcommand("endpoints", "/finetune endpoints", "List live endpoints and how long they have been up."),
    Subcommand(
        "deploy",
        "/finetune deploy JOB [--checkpoint N] [--sku S] [--target NAME]",
        "Deploy a succeeded job's model, or checkpoint N as its thread lists them; --sku where the backend "
        "has SKUs (approvers; others request approval); --target one of FTBOT_DEPLOY_TARGETS "
        "(default: home).",
    ),
    Subcommand("chat", "/finetune chat ENDPOINT PROMPT", "Send a prompt to a deployed endpoint."),
    Subcommand("teardown", "/finetune teardown ENDPOINT", "Delete an endpoint (approvers). The model stays."),
    Subcommand("cancel", "/finetune cancel JOB", "Cancel a queued, running or paused job."),
    Subcommand(
        "pause", "/finetune pause JOB", "Pause a running job (submitter or approver; where the backend can)."
    ),
    Subcommand("resume", "/finetune resume JOB", "Resume a paused job (submitter or approver)."),
    Subcommand(
        "rerun",
        "/finetune rerun JOB [--epochs N] [--batch-size N] [--learning-rate-multiplier X] [--suffix S]",
        "Run a finished job again on the same data and choices, with these changed.",
    ),
    Subcommand(
        "eval",
        "/finetune eval JOB [--examples N] [--endpoint ENDPOINT | --checkpoint N]",
        "Evaluate a succeeded job's model against its base model on held-out examples (default 40); "
        "--checkpoint: the live endpoint serving checkpoint N as its thread lists them.",
    ),
    Subcommand(
        "compare", "/finetune compare JOB1 JOB2", "Two jobs side by side, with their losses overlaid."
    ),
    Subcommand(
        "doctor", "/finetune doctor", "Check ftbot's setup: each prerequisite, with its fix (approvers)."
    ),
    Subcommand(
        "costs",
        "/finetune costs [--month YYYY-MM] [--channel #channel]",
        "What was spent this month (or another) by channel and user; live endpoints' hourly burn.",
    ),
    Subcommand(
        "config",
        "/finetune config [approvers|channels add|remove @user|#channel]",
        "This workspace's approvers and allowed channels: show them, or change them (approvers).",
    ),
)
NAMES: Final[tuple[str, ...]] = tuple(s.name for s in SUBCOMMANDS if s.name)

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


# --- typed commands -----------------------------------------------------------------------------


@dataclass(frozen=True)
class OpenWizard:
    pass


@dataclass(frozen=True)
class Help:
    pass


@dataclass(frozen=True)
class Submit:
    model: str
    data: str
    validation: str | None = None
    split: float | None = None
    hyperparameters: Hyperparameters = field(default_factory=Hyperparameters)
    suffix: str | None = None
    task: Task = Task.CHAT_COMPLETION
    method: Method = Method.SUPERVISED
    training_type: str | None = None


@dataclass(frozen=True)
class Validate:
    url: str
    method: Method = Method.SUPERVISED


@dataclass(frozen=True)
class Status:
    job: str | None = None


@dataclass(frozen=True)
class ListJobs:
    pass


@dataclass(frozen=True)
class ListModels:
    pass


@dataclass(frozen=True)
class ListEndpoints:
    pass


@dataclass(frozen=True)
class Deploy:
    job: str
    checkpoint: int | None = None  # as the job's thread numbers them
    sku: str | None = None
    target: str | None = None  # a FTBOT_DEPLOY_TARGETS name; None: home, the training project


@dataclass(frozen=True)
class Chat:
    endpoint: str
    prompt: str


@dataclass(frozen=True)
class Teardown:
    endpoint: str


@dataclass(frozen=True)
class Cancel:
    job: str


@dataclass(frozen=True)
class Pause:
    job: str


@dataclass(frozen=True)
class Resume:
    job: str


@dataclass(frozen=True)
class Doctor:
    pass


@dataclass(frozen=True)
class Rerun:
    job: str
    hyperparameters: Hyperparameters = field(default_factory=Hyperparameters)  # only what changes
    suffix: str | None = None


@dataclass(frozen=True)
class Evaluate:
    job: str
    examples: int | None = None  # None: the default count
    endpoint: str | None = None  # None: the job's live endpoint
    checkpoint: int | None = None  # the live endpoint serving this checkpoint, as the thread numbers them


@dataclass(frozen=True)
class Compare:
    first: str
    second: str


@dataclass(frozen=True)
class Costs:
    month: str | None = None  # YYYY-MM; None: this month
    channel: str | None = None  # a channel id (from a mention or typed); None: every channel


@dataclass(frozen=True)
class Config:
    """``/finetune config``: show (``field`` None) or change a workspace setting."""

    field: str | None = None  # "approvers" or "channels"
    add: bool = True
    value: str = ""  # a user (U…/W…) or user-group (S…) id, or a channel id (C…/G…)


Command = (
    OpenWizard
    | Help
    | Submit
    | Validate
    | Status
    | ListJobs
    | ListModels
    | ListEndpoints
    | Deploy
    | Chat
    | Teardown
    | Cancel
    | Pause
    | Resume
    | Doctor
    | Rerun
    | Evaluate
    | Compare
    | Costs
    | Config
)


# --- parsing ------------------------------------------------------------------------------------


def closest_subcommand(word: str) -> str | None:
    match = difflib.get_close_matches(
        word.lower(),
        NAMES,
        n=1,  # pragma: no mutate (only match[0] is read, and n ranks the best first: n=2 reads the same)
        cutoff=0.5,
    )
    return match[0] if match else None


def _tokens(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError as e:  # unbalanced quotes
        raise UsageError(f"Could not read the command: {e}. Check your quotes.", hint="/finetune help") from e


def _identifier(value: str, what: str, usage: str) -> str:
    if not _ID.match(value):
        raise UsageError(
            f"{{value}} is not a valid {what} name: use letters, digits, "
            "{dot}, {underscore} and {dash}.",
            field=what,
            hint=usage,
            value=_clip(value),
            dot=".",
            underscore="_",
            dash="-",
        )
    return value


def _clip(value: str, limit: int = 60) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _one_arg(name: str, args: list[str], what: str) -> str:
    usage = next(s.usage for s in SUBCOMMANDS if s.name == name)
    if len(args) != 1:
        raise UsageError(
            f"{{command}} takes exactly one {what}" + (f", got {len(args)}." if args else "."),
            field=what,
            hint=usage,
            command=name,
        )
    return _identifier(args[0], what, usage)


SUBMIT_FLAGS: Final[dict[str, str]] = {
    "--model": "model",
    "--data": "data",
    "--validation": "validation",
    "--split": "split",
    "--epochs": "n_epochs",
    "--batch-size": "batch_size",
    "--learning-rate-multiplier": "learning_rate_multiplier",
    "--suffix": "suffix",
    "--task": "task",
    "--method": "method",
    "--beta": "beta",
    "--training-type": "training_type",
}
_SUBMIT_USAGE = next(s.usage for s in SUBCOMMANDS if s.name == "submit")


def _flag_error(message: str, flag: str, **names: str) -> UsageError:
    """A usage error about ``flag`` of `submit`; ``message`` names it as ``{flag}``."""
    return UsageError(message, field=flag, hint=_SUBMIT_USAGE, flag=flag, **names)


def _submit_values(args: list[str]) -> dict[str, str]:
    """``--flag value`` and ``--flag=value`` pairs, each flag known and given once."""
    values: dict[str, str] = {}
    i = 0
    while i < len(args):
        raw = args[i]
        flag, eq, inline = raw.partition("=")
        if not flag.startswith("--"):
            raise UsageError(
                "Unexpected {value}: every value follows a flag.", hint=_SUBMIT_USAGE, value=_clip(raw)
            )
        if flag not in SUBMIT_FLAGS:
            close = difflib.get_close_matches(
                flag,
                list(SUBMIT_FLAGS),
                n=1,  # pragma: no mutate (only close[0] is read, the best match whatever n)
                cutoff=0.6,  # pragma: no mutate (difflib's default: left out, it is the same)
            )
            if close:
                raise UsageError(
                    "Unknown flag {flag}. Did you mean {suggestion}?",
                    field=flag,
                    hint=_SUBMIT_USAGE,
                    flag=_clip(flag),
                    suggestion=close[0],
                )
            raise UsageError("Unknown flag {flag}.", field=flag, hint=_SUBMIT_USAGE, flag=_clip(flag))
        if eq:
            value = inline
            i += 1
        else:
            if i + 1 >= len(args) or args[i + 1].startswith("--"):
                raise _flag_error("{flag} needs a value.", flag)
            value = args[i + 1]
            i += 2
        if flag in values:
            raise _flag_error("{flag} is given twice.", flag)
        values[flag] = value
    for required in ("--model", "--data"):
        if required not in values:
            raise _flag_error("{flag} is required.", required)
    if "--validation" in values and "--split" in values:
        raise _flag_error(
            "Give either {validation} or {split}, not both.",
            "--split",
            validation="--validation URL",
            split="--split F",
        )
    return values


def _split(values: dict[str, str]) -> float | None:
    if "--split" not in values:
        return None
    split = _number(values["--split"], "--split", float)
    if not 0 < split < 1:
        raise _flag_error(
            "{flag} is the fraction held out for validation, between 0 and 1 (e.g. 0.1).", "--split"
        )
    return split


def _hyperparameters(values: dict[str, str]) -> Hyperparameters:
    hp: dict[str, float | int] = {}
    if "--epochs" in values:
        hp["n_epochs"] = _number(values["--epochs"], "--epochs", int)
    if "--batch-size" in values:
        hp["batch_size"] = _number(values["--batch-size"], "--batch-size", int)
    if "--learning-rate-multiplier" in values:
        hp["learning_rate_multiplier"] = _number(
            values["--learning-rate-multiplier"], "--learning-rate-multiplier", float
        )
    if "--beta" in values:
        hp["beta"] = _number(values["--beta"], "--beta", float)
    try:
        return Hyperparameters(**hp)
    except ValidationError as e:
        err = e.errors()[0]
        name = str(err["loc"][0])
        flag = next(f for f, n in SUBMIT_FLAGS.items() if n == name)
        raise _flag_error("{flag}: " + err["msg"].lower() + ".", flag) from e


def _task(values: dict[str, str]) -> Task:
    if "--task" not in values:
        return Task.CHAT_COMPLETION
    try:
        return Task(values["--task"])
    except ValueError as e:
        raise _flag_error(
            "{flag} is {chat} or {text}, not {value}.",
            "--task",
            chat="chat_completion",
            text="text_completion",
            value=_clip(values["--task"]),
        ) from e


def _method(raw: str | None, flag: str, hint: str) -> Method:
    if raw is None:
        return Method.SUPERVISED
    try:
        return Method(raw.lower())
    except ValueError as e:
        raise UsageError(
            "{flag} is {supervised} or {dpo}, not {value}.",
            field=flag,
            hint=hint,
            flag=flag,
            supervised="supervised",
            dpo="dpo",
            value=_clip(raw),
        ) from e


def _training_type(values: dict[str, str]) -> str | None:
    raw = values.get("--training-type")
    if raw is not None and not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]{0,39}", raw):
        raise _flag_error(
            "{flag} is a training tier's name, e.g. {example}.", "--training-type", example="Standard"
        )
    return raw


def _suffix(values: dict[str, str]) -> str | None:
    suffix = values.get("--suffix")
    if suffix is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]{0,39}", suffix):
        raise _flag_error(
            "{flag} is up to 40 letters, digits and dashes, starting with a letter or digit.", "--suffix"
        )
    return suffix


def _parse_submit(args: list[str]) -> Submit:
    values = _submit_values(args)
    split = _split(values)
    hyperparameters = _hyperparameters(values)
    task = _task(values)
    suffix = _suffix(values)
    method = _method(values.get("--method"), "--method", _SUBMIT_USAGE)
    if hyperparameters.beta is not None and method is not Method.DPO:
        raise _flag_error("{flag} is a DPO setting; add {dpo}.", "--beta", dpo="--method dpo")
    if method is Method.DPO and task is not Task.CHAT_COMPLETION:
        raise _flag_error("{flag} trains chat models only; leave out {task}.", "--method", task="--task")
    model = _identifier(values["--model"], "--model", _SUBMIT_USAGE)
    for flag in ("--data", "--validation"):
        # a flag not given reads as "": any other default that is no service id reads the same
        why = malformed_ref(values.get(flag, ""))  # pragma: no mutate (equivalent, see above)
        if why is not None:
            raise _flag_error(f"{{flag}}: {why}.", flag)
    return Submit(
        model=model,
        data=values["--data"],
        validation=values.get("--validation"),
        split=split,
        hyperparameters=hyperparameters,
        suffix=suffix,
        task=task,
        method=method,
        training_type=_training_type(values),
    )


_Num = TypeVar("_Num", int, float)


def _number(raw: str, flag: str, kind: type[_Num]) -> _Num:
    try:
        value = kind(raw)
    except ValueError:
        word = "a whole number" if kind is int else "a number"
        raise _flag_error("{flag} must be " + word + ", got {value}.", flag, value=_clip(raw)) from None
    infinity = float("inf")  # pragma: no mutate (float() reads "INF" as the same infinity)
    if isinstance(value, float) and not (value == value and abs(value) != infinity):
        raise _flag_error("{flag} must be a finite number.", flag)
    return value


def _unknown(head: str) -> UsageError:
    close = closest_subcommand(head)
    if close:
        return UsageError(
            "Unknown subcommand {command}. Did you mean {suggestion}? See {help}.",
            hint=f"/finetune {close}",
            command=_clip(head),
            suggestion=f"/finetune {close}",
            help="/finetune help",
        )
    return UsageError(
        "Unknown subcommand {command}. See {help}.",
        hint="/finetune help",
        command=_clip(head),
        help="/finetune help",
    )


def _chat(rest: str) -> Chat:
    """``chat ENDPOINT PROMPT``: a prompt is free text, so apostrophes are not shell quotes."""
    parts = rest.strip().split(None, 1)
    if len(parts) < 2:
        raise UsageError(
            "{command} needs an endpoint and a prompt.", hint="/finetune chat ENDPOINT PROMPT", command="chat"
        )
    endpoint = _identifier(parts[0], "endpoint", "/finetune chat ENDPOINT PROMPT")
    return Chat(endpoint=endpoint, prompt=parts[1].strip())


def _positional_and_flags(
    name: str, args: list[str], flags: tuple[str, ...]
) -> tuple[list[str], dict[str, str]]:
    """The plain arguments of ``name`` and its ``--flag value`` (or ``--flag=value``) options."""
    usage = next(s.usage for s in SUBCOMMANDS if s.name == name)
    plain: list[str] = []
    values: dict[str, str] = {}
    i = 0
    while i < len(args):
        flag, eq, inline = args[i].partition("=")
        if not flag.startswith("--"):
            plain.append(args[i])
            i += 1
            continue
        if flag not in flags:
            raise UsageError(
                "{command} has no flag {flag}.", field=flag, hint=usage, command=name, flag=_clip(flag)
            )
        if eq:
            value, i = inline, i + 1
        elif i + 1 < len(args) and not args[i + 1].startswith("--"):
            value, i = args[i + 1], i + 2
        else:
            raise UsageError("{flag} needs a value.", field=flag, hint=usage, flag=flag)
        if flag in values:
            raise UsageError("{flag} is given twice.", field=flag, hint=usage, flag=flag)
        values[flag] = value
    return plain, values


def _validate(args: list[str]) -> Validate:
    usage = "/finetune validate [--method dpo] URL"
    plain, values = _positional_and_flags("validate", args, ("--method",))
    if len(plain) != 1:
        raise UsageError("{command} takes one URL.", hint=usage, command="validate")
    return Validate(url=plain[0], method=_method(values.get("--method"), "--method", usage))


def _deploy(args: list[str]) -> Deploy:
    usage = next(s.usage for s in SUBCOMMANDS if s.name == "deploy")
    plain, values = _positional_and_flags("deploy", args, ("--checkpoint", "--sku", "--target"))
    job = _one_arg("deploy", plain, "job")
    checkpoint = _checkpoint(values.get("--checkpoint"), usage)
    sku = values.get("--sku")
    if sku is not None and not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]{0,39}", sku):
        raise UsageError(
            "{flag} is a deployment SKU's name, e.g. {example}.",
            field="--sku",
            hint=usage,
            flag="--sku",
            example="Standard",
        )
    target = values.get("--target")
    if target is not None and not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]{0,39}", target):
        raise UsageError(
            "{flag} is a deploy target's name from FTBOT_DEPLOY_TARGETS, e.g. {example}.",
            field="--target",
            hint=usage,
            flag="--target",
            example="home",
        )
    return Deploy(job=job, checkpoint=checkpoint, sku=sku, target=target)


def _checkpoint(raw: str | None, usage: str) -> int | None:
    """``--checkpoint N``: a checkpoint's number as the job's thread lists it (None: not given)."""
    if raw is None:
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > 9:
        raise UsageError(
            "{flag} is a checkpoint's number as the job's thread lists it, got {value}.",
            field="--checkpoint",
            hint=usage,
            flag="--checkpoint",
            value=_clip(raw),
        )
    return int(raw)


_RERUN_FLAGS = ("--epochs", "--batch-size", "--learning-rate-multiplier", "--suffix")


def _rerun(args: list[str]) -> Rerun:
    usage = next(s.usage for s in SUBCOMMANDS if s.name == "rerun")
    plain, values = _positional_and_flags("rerun", args, _RERUN_FLAGS)
    job = _one_arg("rerun", plain, "job")
    try:
        hyperparameters, suffix = _hyperparameters(values), _suffix(values)
    except UsageError as e:  # the same rules as submit, with rerun's usage as the hint
        raise UsageError(e.template, field=e.field, hint=usage, **e.names) from e
    return Rerun(job=job, hyperparameters=hyperparameters, suffix=suffix)


def _evaluate(args: list[str]) -> Evaluate:
    usage = next(s.usage for s in SUBCOMMANDS if s.name == "eval")
    plain, values = _positional_and_flags("eval", args, ("--examples", "--endpoint", "--checkpoint"))
    job = _one_arg("eval", plain, "job")
    examples = None
    if "--examples" in values:
        raw = values["--examples"]
        if not raw.isascii() or not raw.isdigit() or len(raw) > 9 or int(raw) < 1:
            raise UsageError(
                "{flag} is how many examples to ask, a whole number from 1, got {value}.",
                field="--examples",
                hint=usage,
                flag="--examples",
                value=_clip(raw),
            )
        examples = int(raw)
    endpoint = values.get("--endpoint")
    if endpoint is not None:
        endpoint = _identifier(endpoint, "endpoint", usage)
    checkpoint = _checkpoint(values.get("--checkpoint"), usage)
    if endpoint is not None and checkpoint is not None:
        raise UsageError(
            "Give {endpoint} or {checkpoint}, not both: {checkpoint} finds the endpoint serving it.",
            field="--checkpoint",
            hint=usage,
            endpoint="--endpoint",
            checkpoint="--checkpoint",
        )
    return Evaluate(job=job, examples=examples, endpoint=endpoint, checkpoint=checkpoint)


def _compare(args: list[str]) -> Compare:
    usage = next(s.usage for s in SUBCOMMANDS if s.name == "compare")
    if len(args) != 2:
        raise UsageError("{command} takes two jobs.", hint=usage, command="compare")
    first, second = (_identifier(a, "job", usage) for a in args)
    return Compare(first=first, second=second)


_MONTH = re.compile(r"^\d{4}-\d{2}$")
#: a channel as Slack escapes a mention (<#C123|name> or <#C123>), or a bare id
_CHANNEL_ARG = re.compile(r"^(?:<#([CGD][A-Z0-9]{2,})(?:\|[^>]*)?>|([CGD][A-Z0-9]{2,}))$")


def _costs(args: list[str]) -> Costs:
    usage = next(s.usage for s in SUBCOMMANDS if s.name == "costs")
    plain, values = _positional_and_flags("costs", args, ("--month", "--channel"))
    if plain:
        raise UsageError("{command} takes only --month and --channel.", hint=usage, command="costs")
    month = values.get("--month")
    if month is not None and not _MONTH.match(month):
        raise UsageError(
            "{flag} is a month as YYYY-MM, e.g. {example}.",
            field="--month",
            hint=usage,
            flag="--month",
            example="2026-03",
        )
    channel = values.get("--channel")
    if channel is not None:
        found = _CHANNEL_ARG.match(channel)
        if found is None:
            raise UsageError(
                "{flag} is a channel as a mention (#channel) or its id (C…).",
                field="--channel",
                hint=usage,
                flag="--channel",
            )
        channel = found.group(1) or found.group(2)
    return Costs(month=month, channel=channel)


_USER_ARG = re.compile(r"^(?:<@)?([UW][A-Z0-9]{2,})(?:\|[^>]*)?>?$")
_GROUP_ARG = re.compile(r"^(?:<!subteam\^)?(S[A-Z0-9]{2,})(?:\|[^>]*)?>?$")


def _config(args: list[str]) -> Config:
    usage = next(s.usage for s in SUBCOMMANDS if s.name == "config")
    if not args:
        return Config()
    if (
        len(args) != 3
        or args[0].lower() not in ("approvers", "channels")
        or args[1].lower()
        not in (
            "add",
            "remove",
        )
    ):
        raise UsageError(
            "{command} takes approvers or channels, add or remove, and one mention.",
            hint=usage,
            command="config",
        )
    field, add, raw = args[0].lower(), args[1].lower() == "add", args[2]
    if field == "approvers":
        found = _USER_ARG.match(raw) or _GROUP_ARG.match(raw)
        if found is None:
            raise UsageError(
                "{value} is not a user: mention them (@name, picked from Slack's list) or give their "
                "id (U…), or a user group (S…).",
                field="approvers",
                hint=usage,
                value=_clip(raw),
            )
    else:
        found = _CHANNEL_ARG.match(raw)
        if found is None:
            raise UsageError(
                "{value} is not a channel: mention it (#channel, picked from Slack's list) or give its "
                "id (C…).",
                field="channels",
                hint=usage,
                value=_clip(raw),
            )
    value = next(g for g in found.groups() if g)
    return Config(field=field, add=add, value=value)


#: what Slack sends for a link, a user and a channel when the command has ``should_escape: true``
_ESCAPED = (
    (re.compile(r"<((?:https?|s3|gs|azureml)://[^|>\s]+)(?:\|[^>]*)?>"), r"\1"),
    (re.compile(r"<@([UW][A-Z0-9]{2,})(?:\|[^>]*)?>"), r"\1"),
    (re.compile(r"<#([CGD][A-Z0-9]{2,})(?:\|[^>]*)?>"), r"\1"),
)


def unescape(text: str) -> str:
    """Command text as typed, whether Slack escaped it (``should_escape: true``: ``<https://…|…>``,
    ``<@U…|name>``, ``<#C…|name>``, ``&amp;``) or not: links become their URL, mentions their id."""
    for pattern, plain in _ESCAPED:
        text = pattern.sub(plain, text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def parse(text: str) -> Command:
    """Parse the text after `/finetune`. Raises ``UsageError`` with a hint on anything it cannot read."""
    if len(text) > MAX_TEXT:
        raise UsageError(f"The command is too long ({len(text)} characters; at most {MAX_TEXT}).")
    text = unescape(text).strip()
    head_raw, _, rest = text.partition(" ")
    if head_raw.lower() == "chat":
        return _chat(rest)
    tokens = _tokens(text)
    if not tokens:
        return OpenWizard()
    head, args = tokens[0].lower(), tokens[1:]
    match head:
        case "help" | "-h" | "--help":
            return Help()
        case "submit":
            return _parse_submit(args)
        case "validate":
            return _validate(args)
        case "status":
            if len(args) > 1:
                raise UsageError(
                    "{command} takes at most one job.", hint="/finetune status [JOB]", command="status"
                )
            return Status(job=_identifier(args[0], "job", "/finetune status [JOB]") if args else None)
        case "list" | "models" | "endpoints":
            if args:
                raise UsageError("{command} takes no arguments.", hint=f"/finetune {head}", command=head)
            return ListJobs() if head == "list" else ListModels() if head == "models" else ListEndpoints()
        case "deploy":
            return _deploy(args)
        case "pause":
            return Pause(job=_one_arg("pause", args, "job"))
        case "resume":
            return Resume(job=_one_arg("resume", args, "job"))
        case "doctor":
            if args:
                raise UsageError("{command} takes no arguments.", hint="/finetune doctor", command="doctor")
            return Doctor()
        case "cancel":
            return Cancel(job=_one_arg("cancel", args, "job"))
        case "rerun":
            return _rerun(args)
        case "eval" | "evaluate":
            return _evaluate(args)
        case "compare":
            return _compare(args)
        case "costs":
            return _costs(args)
        case "config":
            return _config(args)
        case "teardown":
            return Teardown(endpoint=_one_arg("teardown", args, "endpoint"))
        case _:
            raise _unknown(head)
