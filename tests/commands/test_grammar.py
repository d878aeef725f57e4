from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from commands import grammar as g
from commands.errors import UsageError
from commands.models import Hyperparameters, Method, Task


@pytest.mark.parametrize(
    "text, expected",
    [
        ("", g.OpenWizard()),
        ("   ", g.OpenWizard()),
        ("help", g.Help()),
        ("HELP", g.Help()),
        ("status", g.Status()),
        ("status ftbot-phi-abc123", g.Status(job="ftbot-phi-abc123")),
        ("list", g.ListJobs()),
        ("models", g.ListModels()),
        ("endpoints", g.ListEndpoints()),
        ("deploy ftbot-x", g.Deploy(job="ftbot-x")),
        ("cancel ftbot-x", g.Cancel(job="ftbot-x")),
        ("teardown ep-1", g.Teardown(endpoint="ep-1")),
        (
            "validate https://a.blob.core.windows.net/c/t.jsonl?sv=1&sig=x",
            g.Validate(url="https://a.blob.core.windows.net/c/t.jsonl?sv=1&sig=x"),
        ),
        ("chat ep-1 what's the refund policy?", g.Chat(endpoint="ep-1", prompt="what's the refund policy?")),
    ],
)
def test_parses_each_subcommand(text: str, expected: g.Command) -> None:
    assert g.parse(text) == expected


def test_submit_with_every_flag() -> None:
    cmd = g.parse(
        "submit --model Phi-4-mini-instruct --data https://x/t.jsonl --split 0.2 --epochs 3 "
        "--batch-size 8 --learning-rate-multiplier=0.1 --suffix support-v2 --task text_completion"
    )
    assert cmd == g.Submit(
        model="Phi-4-mini-instruct",
        data="https://x/t.jsonl",
        split=0.2,
        hyperparameters=Hyperparameters(n_epochs=3, batch_size=8, learning_rate_multiplier=0.1),
        suffix="support-v2",
        task=Task.TEXT_COMPLETION,
    )


@pytest.mark.parametrize(
    "text, fragment, field",
    [
        ("submit --data u", "--model is required", "--model"),
        ("submit --model m", "--data is required", "--data"),
        ("submit --model m --data u --epochs two", "--epochs must be a whole number", "--epochs"),
        ("submit --model m --data u --epochs 0", "--epochs", "--epochs"),
        ("submit --model m --data u --epochs 51", "--epochs", "--epochs"),
        ("submit --model m --data u --batch-size -1", "--batch-size", "--batch-size"),
        ("submit --model m --data u --learning-rate-multiplier nan", "finite", "--learning-rate-multiplier"),
        (
            "submit --model m --data u --learning-rate-multiplier 0",
            "--learning-rate-multiplier",
            "--learning-rate-multiplier",
        ),
        ("submit --model m --data u --split 1.5", "between 0 and 1", "--split"),
        ("submit --model m --data u --split 0.1 --validation v", "either", "--split"),
        ("submit --model m --data u --epoch 2", "Did you mean --epochs", "--epoch"),
        ("submit --model m --data u --epochs", "needs a value", "--epochs"),
        ("submit --model m --data u --model n", "given twice", "--model"),
        ("submit --model m --data u --suffix ../../etc", "--suffix", "--suffix"),
        ("submit --model ../x --data u", "not a valid --model name", "--model"),
        ("submit --model m --data u --task vision", "--task", "--task"),
    ],
)
def test_submit_errors_name_the_flag_and_why(text: str, fragment: str, field: str) -> None:
    with pytest.raises(UsageError) as e:
        g.parse(text)
    assert fragment in e.value.message
    assert "`" not in e.value.template  # names are placeholders, shown as code where the surface can
    assert e.value.field == field
    assert e.value.hint and e.value.hint.startswith("/finetune submit")


def test_unknown_subcommand_names_the_closest() -> None:
    with pytest.raises(UsageError) as e:
        g.parse("deplyo ftbot-x")
    assert "/finetune deploy" in e.value.message and "/finetune help" in e.value.message


def test_unknown_subcommand_without_a_close_match_points_to_help() -> None:
    with pytest.raises(UsageError) as e:
        g.parse("xyzzy")
    assert "Did you mean" not in e.value.message and "/finetune help" in e.value.message


@pytest.mark.parametrize(
    "text",
    [
        "deploy",
        "deploy a b",
        "cancel",
        "teardown",
        "chat ep",
        "chat",
        "list x",
        "validate",
        'submit --model "unclosed',
        "status a b",
        "deploy <!channel>",
    ],
)
def test_bad_arity_and_input_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError):
        g.parse(text)


def test_overlong_text_is_refused() -> None:
    with pytest.raises(UsageError, match="too long"):
        g.parse("chat ep " + "x" * 10_000)


def test_help_lists_every_subcommand() -> None:
    assert {s.name for s in g.SUBCOMMANDS} >= {
        "help",
        "submit",
        "validate",
        "status",
        "list",
        "models",
        "endpoints",
        "deploy",
        "chat",
        "teardown",
        "cancel",
    }


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=300))
def test_any_text_parses_or_raises_usage_error(text: str) -> None:
    try:
        result = g.parse(text)
    except UsageError as e:
        assert e.message
    else:
        assert isinstance(result, g.Command)  # one of the commands, whichever


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "--model",
                "--data",
                "--epochs",
                "--split",
                "--validation",
                "--suffix",
                "--batch-size",
                "--learning-rate-multiplier",
                "x",
                "0",
                "-1",
                "1e309",
                "0.5",
                "nan",
                "--",
                "=",
                "--epochs=3",
                "'",
                '"',
            ]
        ),
        max_size=12,
    )
)
def test_any_submit_flags_parse_or_raise_usage_error(tokens: list[str]) -> None:
    try:
        result = g.parse("submit " + " ".join(tokens))
    except UsageError as e:
        assert e.message
    else:
        assert isinstance(result, g.Submit)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("pause ftbot-x", g.Pause(job="ftbot-x")),
        ("resume ftbot-x", g.Resume(job="ftbot-x")),
        ("deploy ftbot-x --checkpoint 2", g.Deploy(job="ftbot-x", checkpoint=2)),
        (
            "deploy --checkpoint=3 ftbot-x --sku Developer",
            g.Deploy(job="ftbot-x", checkpoint=3, sku="Developer"),
        ),
        ("validate --method dpo https://x/p.jsonl", g.Validate(url="https://x/p.jsonl", method=Method.DPO)),
        ("validate https://x/p.jsonl --method=DPO", g.Validate(url="https://x/p.jsonl", method=Method.DPO)),
    ],
)
def test_parses_pause_resume_deploy_options_and_dpo_validation(text: str, expected: g.Command) -> None:
    assert g.parse(text) == expected


def test_submit_dpo_with_beta_and_training_type() -> None:
    cmd = g.parse(
        "submit --model gpt-4.1 --data https://x/p.jsonl --method dpo --beta 0.1 --training-type Developer"
    )
    assert isinstance(cmd, g.Submit)
    assert cmd.method is Method.DPO and cmd.hyperparameters.beta == 0.1 and cmd.training_type == "Developer"


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("submit --model m --data https://x --method rlhf", "--method is supervised or dpo"),
        ("submit --model m --data https://x --beta 0.1", "--beta is a DPO setting"),
        ("submit --model m --data https://x --method dpo --beta 5", "--beta"),
        ("submit --model m --data https://x --method dpo --task text_completion", "chat models only"),
        ("submit --model m --data https://x --training-type 'a b'", "training tier"),
        ("deploy ftbot-x --checkpoint two", "checkpoint's number"),
        ("deploy ftbot-x --region eu", "has no flag"),
        ("deploy ftbot-x --checkpoint", "needs a value"),
        ("validate --method sft https://x", "--method is supervised or dpo"),
        ("validate a b", "takes one URL"),
        ("pause", "takes exactly one job"),
    ],
)
def test_bad_new_flags_say_what_is_wrong(text: str, fragment: str) -> None:
    with pytest.raises(UsageError) as e:
        g.parse(text)
    assert fragment in e.value.message


def test_help_lists_pause_resume_and_the_new_flags() -> None:
    usages = " ".join(s.usage for s in g.SUBCOMMANDS)
    for word in (
        "/finetune pause JOB",
        "/finetune resume JOB",
        "--checkpoint N",
        "--method",
        "--training-type",
    ):
        assert word in usages


@pytest.mark.parametrize(
    "text, expected",
    [
        ("eval ftbot-x --checkpoint 2", g.Evaluate(job="ftbot-x", checkpoint=2)),
        (
            "evaluate --checkpoint=10 ftbot-x --examples 5",
            g.Evaluate(job="ftbot-x", examples=5, checkpoint=10),
        ),
        ("eval ftbot-x --checkpoint 0", g.Evaluate(job="ftbot-x", checkpoint=0)),
    ],
)
def test_eval_takes_a_checkpoint_as_the_thread_numbers_them(text: str, expected: g.Command) -> None:
    assert g.parse(text) == expected


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "eval ftbot-x --checkpoint two",
            "--checkpoint is a checkpoint's number as the job's thread lists it, got two.",
        ),
        (
            "eval ftbot-x --checkpoint=-1",
            "--checkpoint is a checkpoint's number as the job's thread lists it, got -1.",
        ),
        ("eval ftbot-x --checkpoint", "--checkpoint needs a value."),
        (
            "eval ftbot-x --endpoint ep-1 --checkpoint 2",
            "Give --endpoint or --checkpoint, not both: --checkpoint finds the endpoint serving it.",
        ),
    ],
)
def test_eval_checkpoint_errors_say_what_is_wrong_with_the_usage(text: str, message: str) -> None:
    with pytest.raises(UsageError) as e:
        g.parse(text)
    assert e.value.message == message
    assert e.value.field == "--checkpoint"
    assert e.value.hint == "/finetune eval JOB [--examples N] [--endpoint ENDPOINT | --checkpoint N]"
