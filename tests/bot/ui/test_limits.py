"""Every builder, fed hostile input (10,000-character names, URLs and model replies, control characters,
``<!channel>``), still makes valid Block Kit: each text within its field's limit, markup escaped, no
control character, block counts and block ids as Slack takes them (``tests/support/blockkit.py``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from slack_sdk.models.blocks import ActionsBlock, ButtonElement, DividerBlock, SectionBlock
from slack_sdk.models.views import View

from bot.ui import buttons as ui_buttons
from bot.ui.blocks import fields_section, section
from bot.ui.card import job_card
from bot.ui.help import help_blocks
from bot.ui.home import home_view
from bot.ui.limits import BUTTON_VALUE_MAX, message_problems, view_problems
from bot.ui.lists import endpoints_list, job_status, jobs_list, models_list
from bot.ui.review import review_view, submitted_view
from bot.ui.text import escape, escape_clip, link, mention, plain
from bot.ui.thread import thread_post
from bot.ui.validation import validation_report_blocks
from bot.ui.wizard import loading_view, options_for_models, wizard_view
from bot.ui.wizard_input import DataSource, WizardInput
from commands.dataset.report import DatasetStats, Issue, TokenStats, ValidationReport
from commands.models import BaseModelInfo, EndpointState, Hyperparameters, JobState, Task
from commands.records import DatasetSummary, JobCard, PostKind, ThreadPost
from tests.bot.ui.helpers import NOW, all_text, make_approval, make_endpoint, make_job
from tests.support.blockkit import assert_valid_blocks, assert_valid_message, assert_valid_view

CONTROL = "\x00\x07\x08\x1b[31m\x7f"
#: markup, controls and entities, repeated past every limit Slack has (10,000+ characters)
EVIL = ("<!channel> <!here|here> <@U0HOSTILE> <http://evil.example|click> & " + CONTROL + " é ") * 160
LONG_URL = "https://evil.example/" + "a" * 10_000 + "?sig=" + "s" * 200
BAD_USER = "<!everyone>" + "U" * 10_000
SHOWN_MARKUP = ("<!channel>", "<!here", "<@U0HOSTILE>", "<http://evil.example", "<!everyone>")


def assert_escaped(texts: str) -> None:
    for bad in SHOWN_MARKUP:
        assert bad not in texts, f"unescaped {bad!r}"
    for ch in CONTROL[:3]:
        assert ch not in texts


def hostile_summary() -> DatasetSummary:
    return DatasetSummary(
        training_name=EVIL,
        examples=10**12,
        total_tokens=10**15,
        billed_tokens_estimate=10**16,
        epochs=50,
        approximate_tokens=True,
        warnings=10**9,
        validation_name=EVIL,
        validation_examples=10**9,
    )


def hostile_job(state: JobState, **changes: Any) -> Any:
    job = make_job(
        state,
        base_model=EVIL,
        training_name=EVIL,
        user_id=BAD_USER,
        error=EVIL,
        suffix="s" * 40,
        summary=hostile_summary(),
        studio_url=LONG_URL,
        output_model=EVIL,
        age=timedelta(days=10_000),
    )
    return job.model_copy(update={"id": EVIL, "service_status": EVIL, **changes})


def hostile_endpoint(state: EndpointState = EndpointState.READY, name: str = EVIL) -> Any:
    endpoint = make_endpoint(state, name=name, job_id=EVIL, error=EVIL)
    return endpoint.model_copy(update={"model": EVIL, "requested_by": BAD_USER})


# --- cards and lists ------------------------------------------------------------------------------


@pytest.mark.parametrize("state", list(JobState))
@pytest.mark.parametrize("endpoint_state", [None, *EndpointState])
def test_a_card_of_hostile_values_is_valid_and_escaped(
    state: JobState, endpoint_state: EndpointState | None
) -> None:
    endpoint = hostile_endpoint(endpoint_state) if endpoint_state else None
    approval = make_approval().model_copy(update={"requested_by": BAD_USER})
    card = JobCard(job=hostile_job(state), endpoint=endpoint, pending_approval=approval)
    text, blocks = job_card(card, NOW)
    assert_valid_message(text, blocks)
    assert_escaped(all_text(blocks) + text)
    for d in [b.to_dict() for b in blocks if isinstance(b, ActionsBlock)]:
        for button in d["elements"]:
            assert len(button["value"]) <= BUTTON_VALUE_MAX


def test_lists_and_status_of_hostile_records_are_valid() -> None:
    jobs = [hostile_job(JobState.RUNNING) for _ in range(200)]  # ids alike past any block id's length
    endpoints = [hostile_endpoint(name=EVIL + str(i)) for i in range(200)]
    models = [
        BaseModelInfo(
            name=EVIL + str(i),
            version=EVIL,
            source=EVIL,
            description=EVIL,
            deploy_regions=(EVIL,) * 1000,
            needs_subscription=True,
        )
        for i in range(200)
    ]
    for text, blocks in (
        jobs_list(jobs, NOW),
        endpoints_list(endpoints, NOW),
        models_list(models, EVIL),
        job_status(JobCard(job=jobs[0], endpoint=endpoints[0]), NOW),
    ):
        assert_valid_message(text, blocks)
        assert_escaped(all_text(blocks) + text)


def test_app_home_of_hostile_records_is_valid() -> None:
    jobs = [hostile_job(JobState.SUCCEEDED) for _ in range(100)]
    endpoints = [hostile_endpoint() for _ in range(100)]  # one name, many times
    view = home_view(jobs, endpoints, NOW)
    assert_valid_view(view)
    assert_escaped(all_text(view.blocks or []))


# --- thread messages ------------------------------------------------------------------------------


def hostile_data(kind: PostKind) -> dict[str, object]:
    data: dict[str, object] = {
        key: EVIL
        for key in ("endpoint", "by", "reason", "model", "action", "prompt", "system", "reply", "epoch")
    }
    data |= {
        "decided_by": BAD_USER,
        "requested_by": BAD_USER,
        "metrics_note": EVIL,
        "finish_reason": EVIL,
        "output_model": EVIL,
        "idle_hours": 1e300,
        "ttl_hours": -1e300,
        "approved": True,
        "stopped": True,
        "content_filter": {EVIL + str(i): {"filtered": True, "severity": EVIL} for i in range(50)},
        "usage": {"prompt_tokens": 10**12, "completion_tokens": 10**12, "total_tokens": 2 * 10**12},
    }
    if kind is PostKind.APPROVAL_REQUEST:
        data |= {"approval_id": "9" * 18, "approvers": [BAD_USER] * 500 + ["S0ONCALL"] * 500}
    else:
        data["approval_id"] = EVIL
    return data


@pytest.mark.parametrize("kind", list(PostKind))
def test_every_thread_message_of_hostile_data_is_valid_and_escaped(kind: PostKind) -> None:
    post = ThreadPost(job_id=EVIL, kind=kind, text=EVIL, data=hostile_data(kind))
    text, blocks = thread_post(post, hostile_job(JobState.SUCCEEDED), [BAD_USER] * 100)
    assert_valid_message(text, blocks)
    assert_escaped(all_text(blocks) + text)


def test_a_10000_character_model_reply_is_clipped_with_a_note() -> None:
    reply = ("<!channel> " + CONTROL + "word " * 40) * 60
    post = ThreadPost(
        job_id="ft-1", kind=PostKind.CHAT, data={"endpoint": "ep", "prompt": "hi", "reply": reply}
    )
    text, blocks = thread_post(post, make_job(), [])
    assert_valid_message(text, blocks)
    assert_escaped(all_text(blocks) + text)
    assert "Reply clipped" in all_text(blocks)


@pytest.mark.parametrize("approval_id", ["²", "٣", "1" * 5000, "-1", ""])
def test_an_approval_request_with_a_malformed_id_is_refused(approval_id: str) -> None:
    post = ThreadPost(job_id="ft-1", kind=PostKind.APPROVAL_REQUEST, data={"approval_id": approval_id})
    with pytest.raises(ValueError, match="approval_id"):
        thread_post(post, make_job(), [])


# --- the wizard, review and help ------------------------------------------------------------------


def hostile_report(*, nested: bool = True) -> ValidationReport:
    issues = [Issue(line=10**12, code=EVIL, message=EVIL) for _ in range(100)]
    counts = {EVIL + str(i): 10**9 for i in range(100)}
    stats = DatasetStats(
        examples=10**12,
        valid_examples=0,
        format="chat",
        bytes=10**15,
        has_bom=True,
        messages_per_example=None,
        tokens_per_example=TokenStats(min=0, p50=10**9, p95=10**10, max=10**12, total=10**15),
        encoding=EVIL,
        approximate_tokens=True,
        context_length=10**9,
        examples_over_context=10**9,
        duplicates=10**9,
        default_epochs=50,
        billed_tokens_estimate=10**18,
        error_counts=counts,
        warning_counts=counts,
    )
    return ValidationReport(
        ok=False,
        examples=10**12,
        errors=issues,
        error_counts=counts,
        warnings=issues,
        warning_counts=counts,
        stats=stats,
        validation=hostile_report(nested=False) if nested else None,
    )


def test_the_review_and_the_report_of_hostile_data_are_valid() -> None:
    report = hostile_report()
    blocks = validation_report_blocks(report, title=EVIL, n_epochs=50)
    assert_valid_blocks(blocks)
    assert_escaped(all_text(blocks))
    view = review_view(report=report, summary=[(EVIL, EVIL)] * 30, private_metadata="vs-1", n_epochs=50)
    assert_valid_view(view)
    assert_escaped(all_text(view.blocks or []))
    ok_report = report.model_copy(update={"ok": True, "validation": None})
    assert_valid_view(review_view(report=ok_report, summary=[("", "")], private_metadata=""))
    assert_valid_view(submitted_view(EVIL))
    assert_valid_view(loading_view())


def test_the_wizard_shown_again_with_hostile_values_is_valid() -> None:
    datasets = [(EVIL[:150], EVIL), ("ds-empty-label", "<<>>&&"), ("", "nameless"), (EVIL, "too long")] * 40
    source = DataSource(kind="url", value=LONG_URL, name=EVIL)
    initial = WizardInput(
        model=EVIL,
        training=source,
        validation_mode="url",
        validation=source,
        hyperparameters=Hyperparameters(n_epochs=50, batch_size=256, learning_rate_multiplier=10),
        custom_parameters=True,
        suffix=EVIL,
    )
    view = wizard_view(backend_kind=EVIL, channel_id="C0CHAN", datasets=datasets, initial=initial)
    assert_valid_view(view)
    assert_escaped(all_text(view.blocks or []))


def test_base_model_options_of_hostile_names_are_valid() -> None:
    names = [EVIL[:150], "<<>>", "", "\x00\x01", "gpt-4o-mini", EVIL]
    models = [BaseModelInfo(name=n, source="azureml", tasks=(Task.CHAT_COMPLETION,)) for n in names]
    options = options_for_models(models * 40, "")
    assert 0 < len(options) <= 100
    view = {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Options"},
        "blocks": [
            {
                "type": "section",
                "block_id": "options",
                "text": {"type": "mrkdwn", "text": "Options"},
                "accessory": {
                    "type": "static_select",
                    "action_id": "a",
                    "options": [o.to_dict() for o in options],
                },
            }
        ],
    }
    assert_valid_view(view)
    assert_escaped("\n".join(o.to_dict()["text"]["text"] for o in options))


def test_help_for_a_hostile_backend_name_is_valid() -> None:
    blocks = help_blocks(EVIL)
    assert_valid_blocks(blocks)
    assert_escaped(all_text(blocks))


def test_buttons_keep_their_limits_for_any_id() -> None:
    buttons: list[ButtonElement] = [
        ui_buttons.cancel_button(EVIL),
        ui_buttons.deploy_button(EVIL),
        ui_buttons.test_chat_button(EVIL),
        ui_buttons.tear_down_button(EVIL),
        ui_buttons.approve_button(10**3000),
        ui_buttons.reject_button(10**3000),
    ]
    assert_valid_blocks([ActionsBlock(block_id="actions", elements=buttons)])


# --- the text helpers and the check itself --------------------------------------------------------


def test_text_helpers_drop_control_characters_and_never_leave_a_text_empty() -> None:
    assert escape("a\x00b\x1b[0m\tc\nd") == "ab[0m\tc\nd"
    assert len(escape_clip(EVIL, 100)) <= 100
    assert plain("<>&", 75) == "-" and plain("", 75) == "-" and plain(" \x00 ", 75) == "-"
    assert len(plain(EVIL, 75)) == 75
    assert mention("U0ABC\n") == "U0ABC\n" and mention("U0ABC") == "<@U0ABC>"
    assert link(LONG_URL, "studio") == "studio"
    assert link("https://ok.example/\x07x", "studio") == "studio"
    assert link("https://ok.example/a?b=1&c=2", "s") == "<https://ok.example/a?b=1&amp;c=2|s>"
    assert section("s", "  ").to_dict()["text"]["text"].strip()
    assert all(f["text"].strip() for f in fields_section("f", ["", " "]).to_dict()["fields"])


def test_the_check_names_what_slack_would_refuse() -> None:
    many = [DividerBlock() for _ in range(51)]
    assert any("51 blocks" in p for p in message_problems("t", many))
    assert message_problems("t", many[:50]) == []
    assert any("over 3000" in p for p in message_problems("x" * 3001))
    assert any("broadcast" in p for p in message_problems("hi <!channel>"))
    assert any("control" in p for p in message_problems("hi \x07"))
    assert any("neither" in p for p in message_problems(" ", []))
    wide = {"type": "section", "block_id": "w", "fields": [{"type": "mrkdwn", "text": "x" * 2001}]}
    assert any("fields[0]" in p for p in message_problems("t", [wide]))
    twice = [SectionBlock(block_id="a", text="x"), SectionBlock(block_id="a", text="y")]
    assert any("repeated" in p for p in message_problems("t", twice))
    assert any(
        "empty" in p
        for p in message_problems("t", [{"type": "section", "text": {"type": "mrkdwn", "text": " "}}])
    )
    assert any(
        "block" in p
        for p in message_problems("t", [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}])
    )
    assert any("unknown" in p for p in message_problems("t", [{"type": "no_such_block"}]))
    assert view_problems(View(type="modal", title="t", blocks=[SectionBlock(text="x")])) == []
    assert view_problems({"type": "modal", "title": "x" * 25, "blocks": [{"type": "divider"}]})
    assert view_problems(
        {"type": "modal", "title": "t", "private_metadata": "m" * 3001, "blocks": [{"type": "divider"}]}
    )
    assert view_problems({"type": "modal", "title": "t", "blocks": [{"type": "divider"}] * 101})
