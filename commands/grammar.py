"""The `/finetune` text grammar, parsed into typed commands.

/finetune                       open the wizard
/finetune help
/finetune submit --model M --data URL [--validation URL | --split F] [--epochs N]
                 [--batch-size N] [--learning-rate-multiplier X] [--suffix S] [--task T]
                 [--method supervised|dpo] [--beta X] [--training-type T]
/finetune validate [--method dpo] URL
/finetune status [JOB]
/finetune list | models | endpoints
/finetune deploy JOB [--checkpoint N] [--sku S]
/finetune pause JOB | resume JOB | cancel JOB | teardown ENDPOINT
/finetune chat ENDPOINT PROMPT...
/finetune doctor
"""

from __future__ import annotations

import difflib
import re
import shlex
from dataclasses import dataclass, field
from typing import Final, TypeVar

from pydantic import ValidationError

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
        "Validate a dataset and start a fine-tuning job in one line (DPO: preference data, --method dpo).",
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
        "/finetune deploy JOB [--checkpoint N] [--sku S]",
        "Deploy a succeeded job's model, or checkpoint N as its thread lists them; --sku where the backend "
        "has SKUs (approvers; others request approval).",
    ),
    Subcommand("chat", "/finetune chat ENDPOINT PROMPT", "Send a prompt to a deployed endpoint."),
    Subcommand("teardown", "/finetune teardown ENDPOINT", "Delete an endpoint (approvers). The model stays."),
    Subcommand("cancel", "/finetune cancel JOB", "Cancel a queued, running or paused job."),
    Subcommand(
        "pause", "/finetune pause JOB", "Pause a running job (submitter or approver; where the backend can)."
    ),
    Subcommand("resume", "/finetune resume JOB", "Resume a paused job (submitter or approver)."),
    Subcommand(
        "doctor", "/finetune doctor", "Check ftbot's setup: each prerequisite, with its fix (approvers)."
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
)


# --- parsing ------------------------------------------------------------------------------------


def closest_subcommand(word: str) -> str | None:
    match = difflib.get_close_matches(word.lower(), NAMES, n=1, cutoff=0.5)
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
            close = difflib.get_close_matches(flag, list(SUBMIT_FLAGS), n=1, cutoff=0.6)
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
    if isinstance(value, float) and not (value == value and abs(value) != float("inf")):
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
    plain, values = _positional_and_flags("deploy", args, ("--checkpoint", "--sku"))
    job = _one_arg("deploy", plain, "job")
    checkpoint = None
    if "--checkpoint" in values:
        raw = values["--checkpoint"]
        if not raw.isascii() or not raw.isdigit() or len(raw) > 9:
            raise UsageError(
                "{flag} is a checkpoint's number as the job's thread lists it, got {value}.",
                field="--checkpoint",
                hint=usage,
                flag="--checkpoint",
                value=_clip(raw),
            )
        checkpoint = int(raw)
    sku = values.get("--sku")
    if sku is not None and not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]{0,39}", sku):
        raise UsageError(
            "{flag} is a deployment SKU's name, e.g. {example}.",
            field="--sku",
            hint=usage,
            flag="--sku",
            example="Standard",
        )
    return Deploy(job=job, checkpoint=checkpoint, sku=sku)


def parse(text: str) -> Command:
    """Parse the text after `/finetune`. Raises ``UsageError`` with a hint on anything it cannot read."""
    if len(text) > MAX_TEXT:
        raise UsageError(f"The command is too long ({len(text)} characters; at most {MAX_TEXT}).")
    text = text.strip()
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
        case "teardown":
            return Teardown(endpoint=_one_arg("teardown", args, "endpoint"))
        case _:
            raise _unknown(head)
