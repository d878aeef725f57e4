from __future__ import annotations

from datetime import timedelta

from bot.ui.home import home_view
from bot.ui.ids import Block as B
from bot.ui.lists import endpoints_list, job_status, jobs_list, models_list
from commands.models import BaseModelInfo, EndpointState, JobState
from tests.bot.ui.helpers import (
    HOSTILE,
    NOW,
    all_text,
    assert_escaped,
    assert_fallback_ok,
    assert_message_ok,
    assert_view_ok,
    block,
    buttons,
    has_block,
    make_card,
    make_endpoint,
    make_job,
)

PHI = BaseModelInfo(
    name="Phi-4-mini-instruct", version="3", source="azureml", deploy_regions=("eastus2", "swedencentral")
)
LLAMA = BaseModelInfo(
    name="Meta-Llama-3-8B-Instruct", version="5", source="azureml-meta", needs_subscription=True
)


def _jobs(n: int) -> list:
    return [make_job(JobState.RUNNING, job_id=f"ft-{i:03d}", age=timedelta(minutes=i)) for i in range(n)]


def test_jobs_list_one_section_per_job() -> None:
    text, blocks = jobs_list(_jobs(3), NOW)
    assert_message_ok(blocks)
    assert_fallback_ok(text)
    line = block(blocks, f"{B.LIST_ITEM}.ft-002")["text"]["text"]
    assert "ft-002" in line and "Running" in line and "Phi-4-mini-instruct" in line and "<@U0SUBMIT>" in line
    assert "2m" in line
    assert not has_block(blocks, B.LIST_MORE)


def test_jobs_list_of_200_stays_under_50_blocks_with_a_more_line() -> None:
    _, blocks = jobs_list(_jobs(200), NOW)
    assert len(assert_message_ok(blocks)) <= 50
    assert "and 155 more" in all_text([block(blocks, B.LIST_MORE)])
    assert "(200," in block(blocks, B.LIST_TITLE)["text"]["text"]


def test_empty_lists_say_so() -> None:
    for text, blocks in (jobs_list([], NOW), endpoints_list([], NOW), models_list([], "local")):
        assert_message_ok(blocks)
        assert_fallback_ok(text)
        assert has_block(blocks, B.LIST_TITLE)
    assert "nothing is billing" in endpoints_list([], NOW)[0]


def test_models_list_shows_regions_and_subscription() -> None:
    text, blocks = models_list([PHI, LLAMA], "azure")
    assert_message_ok(blocks)
    assert "azure" in text
    phi = block(blocks, f"{B.LIST_ITEM}.Phi-4-mini-instruct")["text"]["text"]
    assert "eastus2, swedencentral" in phi and "azureml" in phi and "subscription" not in phi
    llama = block(blocks, f"{B.LIST_ITEM}.Meta-Llama-3-8B-Instruct")["text"]["text"]
    assert "marketplace subscription" in llama
    assert "--model" in all_text([block(blocks, B.LIST_HINT)])


def test_models_with_the_same_name_get_distinct_block_ids() -> None:
    _, blocks = models_list([PHI, PHI.model_copy(update={"version": "4"})] * 60, "azure")
    assert len(assert_message_ok(blocks)) <= 50


def test_endpoints_list_shows_age_and_cost() -> None:
    eps = [make_endpoint(), make_endpoint(EndpointState.CREATING, name="ep-2"), make_endpoint(name="x" * 300)]
    text, blocks = endpoints_list(eps, NOW)
    assert_message_ok(blocks)
    assert text == "3 endpoints"
    assert "billed by the hour" in block(blocks, B.LIST_TITLE)["text"]["text"]
    assert "up 5h 03m" in block(blocks, f"{B.LIST_ITEM}.phi-support-ep")["text"]["text"]
    _, many = endpoints_list([make_endpoint(name=f"ep-{i}") for i in range(200)], NOW)
    assert len(assert_message_ok(many)) <= 50


def test_job_status_is_the_card_with_its_buttons() -> None:
    text, blocks = job_status(make_card(make_job(JobState.SUCCEEDED), make_endpoint()), NOW)
    assert_message_ok(blocks)
    assert "ft-support-1" in text
    assert set(buttons(blocks, B.CARD_ACTIONS)) == {"Test chat", "Tear down", "Evaluate", "Rerun…"}


def test_lists_escape_hostile_strings() -> None:
    hostile_job = make_job(JobState.FAILED, job_id=HOSTILE, base_model=HOSTILE, user_id=HOSTILE)
    hostile_model = BaseModelInfo(
        name=HOSTILE, version=HOSTILE, source=HOSTILE, description=HOSTILE, deploy_regions=(HOSTILE,)
    )
    hostile_ep = make_endpoint(EndpointState.FAILED, name=HOSTILE, job_id=HOSTILE, error=HOSTILE)
    for text, blocks in (
        jobs_list([hostile_job], NOW),
        models_list([hostile_model], HOSTILE),
        endpoints_list([hostile_ep], NOW),
        job_status(make_card(hostile_job), NOW),
    ):
        assert_message_ok(blocks)
        assert_escaped(blocks, text)


def test_home_shows_recent_jobs_and_live_endpoints_only() -> None:
    endpoints = [make_endpoint(), make_endpoint(EndpointState.DELETED, name="old-ep")]
    view = home_view(_jobs(2), endpoints, NOW)
    d = assert_view_ok(view)
    assert d["type"] == "home"
    assert "ft-001" in block(d["blocks"], f"{B.HOME_JOB}.ft-001")["text"]["text"]
    assert "<#C0CHAN>" in block(d["blocks"], f"{B.HOME_JOB}.ft-001")["text"]["text"]
    ep = block(d["blocks"], f"{B.HOME_ENDPOINT}.phi-support-ep")["text"]["text"]
    assert "up 5h 03m" in ep and "<@U0APPROVER>" in ep
    assert "billed by the hour" in block(d["blocks"], B.HOME_ENDPOINTS)["text"]["text"]
    assert not has_block(d["blocks"], f"{B.HOME_ENDPOINT}.old-ep")


def test_home_empty_and_huge() -> None:
    empty = assert_view_ok(home_view([], [], NOW))
    assert "None yet" in all_text(empty["blocks"]) and "nothing is billing" in all_text(empty["blocks"])
    big = assert_view_ok(home_view(_jobs(200), [make_endpoint(name=f"ep-{i}") for i in range(200)], NOW))
    assert len(big["blocks"]) <= 100
    assert has_block(big["blocks"], B.HOME_MORE_JOBS) and has_block(big["blocks"], B.HOME_MORE_ENDPOINTS)


def test_home_escapes_hostile_strings() -> None:
    job = make_job(JobState.RUNNING, job_id=HOSTILE, base_model=HOSTILE, studio_url="https://x/<!channel>")
    ep = make_endpoint(name=HOSTILE, job_id=HOSTILE)
    d = assert_view_ok(home_view([job], [ep], NOW))
    assert_escaped(d["blocks"])
