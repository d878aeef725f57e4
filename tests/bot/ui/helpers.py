"""Shared checks and sample values for the Block Kit builder tests.

Blocks are found by ``block_id``, never by position; every message and view is run through
slack_sdk's own validation (``to_dict()``), plus the 50-blocks-per-message rule slack_sdk leaves out.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from commands.models import DatasetRef, EndpointState, Hyperparameters, JobSpec, JobState
from commands.records import ApprovalRecord, ApprovalState, DatasetSummary, EndpointRecord, JobCard, JobRecord
from tests.support.blockkit import assert_valid_blocks, assert_valid_view

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)

#: strings that would ping everyone, impersonate a mention or plant a link if not escaped
HOSTILE = "<!channel> <@U0HOSTILE> <!subteam^S0HOSTILE> <http://evil.example|click> & more"
FORBIDDEN = ("<!channel>", "<@U0HOSTILE>", "<!subteam^S0HOSTILE>", "<http://evil.example")

#: datasets uploaded before, as the wizard lists them: ``(id, label)``
DATASETS = [("ds-1", "support.jsonl (1,234 examples)"), ("ds-2", "faq.jsonl")]


def to_dicts(blocks: Sequence[Block | dict[str, Any]]) -> list[dict[str, Any]]:
    return [b if isinstance(b, dict) else b.to_dict() for b in blocks]


def assert_message_ok(blocks: Sequence[Block]) -> list[dict[str, Any]]:
    """Valid per slack_sdk, at most 50 blocks, block ids unique. Returns the dicts."""
    dicts = to_dicts(blocks)  # to_dict() runs slack_sdk's validators and raises on any broken limit
    assert_valid_blocks(blocks)  # and the limits slack_sdk leaves out
    assert 0 < len(dicts) <= 50, f"{len(dicts)} blocks in one message"
    ids = [d["block_id"] for d in dicts if "block_id" in d]
    assert len(ids) == len(set(ids)), f"repeated block ids: {ids}"
    for d in dicts:
        if d["type"] == "section" and "text" in d:
            assert len(d["text"]["text"]) <= 3000
    return dicts


def assert_fallback_ok(text: str) -> None:
    assert text.strip()
    assert len(text) <= 4000  # chat.update refuses more (msg_too_long)


def assert_view_ok(view: View) -> dict[str, Any]:
    d = view.to_dict()
    assert_valid_view(view)
    assert len(d["blocks"]) <= 100
    ids = [b["block_id"] for b in d["blocks"] if "block_id" in b]
    assert len(ids) == len(set(ids)), f"repeated block ids: {ids}"
    assert len(d.get("private_metadata") or "") <= 3000
    return d


def block(blocks: Sequence[Block | dict[str, Any]], block_id: str) -> dict[str, Any]:
    found = [d for d in to_dicts(blocks) if d.get("block_id") == block_id]
    assert len(found) == 1, f"block {block_id!r}: found {len(found)}"
    return found[0]


def has_block(blocks: Sequence[Block | dict[str, Any]], block_id: str) -> bool:
    return any(d.get("block_id") == block_id for d in to_dicts(blocks))


def buttons(blocks: Sequence[Block], block_id: str) -> dict[str, dict[str, Any]]:
    """The buttons of an actions block, keyed by label."""
    return {e["text"]["text"]: e for e in block(blocks, block_id)["elements"]}


def rendered(blocks: Sequence[Block | dict[str, Any]], text: str = "") -> str:
    return json.dumps(to_dicts(blocks), ensure_ascii=False) + text


def assert_escaped(blocks: Sequence[Block | dict[str, Any]], text: str = "") -> None:
    """Every text Slack displays (mrkdwn and plain_text objects, and the fallback text) shows the
    hostile string escaped. Button values are not displayed, so they may carry it as-is."""
    out = all_text(blocks) + "\n" + text
    for bad in FORBIDDEN:
        assert bad not in out, f"unescaped {bad!r}"
    assert "&lt;!channel&gt;" in out, "the hostile text should be shown, escaped"


def all_text(blocks: Sequence[Block | dict[str, Any]]) -> str:
    """Every mrkdwn/plain text in the blocks, joined (for `in` checks)."""
    out: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("type") in ("mrkdwn", "plain_text") and isinstance(node.get("text"), str):
                out.append(node["text"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(to_dicts(blocks))
    return "\n".join(out)


# --- sample records -------------------------------------------------------------------------------


def make_job(
    state: JobState = JobState.RUNNING,
    *,
    job_id: str = "ft-support-1",
    base_model: str = "Phi-4-mini-instruct",
    training_name: str = "support.jsonl",
    user_id: str = "U0SUBMIT",
    error: str | None = None,
    suffix: str | None = "support",
    summary: DatasetSummary | None = None,
    hyperparameters: Hyperparameters | None = None,
    studio_url: str | None = None,
    output_model: str | None = None,
    age: timedelta = timedelta(minutes=42),
    finished_after: timedelta | None = None,
) -> JobRecord:
    created = NOW - age
    spec = JobSpec(
        name="ft-support-1",
        base_model=base_model,
        training=DatasetRef(kind="file", value="/data/support.jsonl", name=training_name),
        hyperparameters=hyperparameters or Hyperparameters(),
        suffix=suffix,
        output_model_name="phi-4-mini-support",
    )
    return JobRecord(
        id=job_id,
        channel_id="C0CHAN",
        user_id=user_id,
        spec=spec,
        summary=summary,
        state=state,
        service_status=state.value,
        error=error,
        output_model=output_model,
        studio_url=studio_url,
        created_at=created,
        updated_at=NOW,
        finished_at=created + finished_after if finished_after else None,
    )


def make_summary(**overrides: Any) -> DatasetSummary:
    values: dict[str, Any] = {
        "training_name": "support.jsonl",
        "examples": 1234,
        "total_tokens": 456_789,
        "billed_tokens_estimate": 1_370_367,
        "epochs": 3,
        "approximate_tokens": True,
        "warnings": 2,
        "split_fraction": 0.1,
    }
    values.update(overrides)
    return DatasetSummary(**values)


def make_endpoint(
    state: EndpointState = EndpointState.READY,
    *,
    name: str = "phi-support-ep",
    job_id: str = "ft-support-1",
    error: str | None = None,
    age: timedelta = timedelta(hours=5, minutes=3),
) -> EndpointRecord:
    return EndpointRecord(
        name=name,
        job_id=job_id,
        model="phi-4-mini-support",
        state=state,
        scoring_uri="https://phi-support-ep.eastus2.models.ai.azure.com",
        error=error,
        requested_by="U0APPROVER",
        created_at=NOW - age - timedelta(minutes=10),
        updated_at=NOW,
        ready_at=NOW - age if state is EndpointState.READY else None,
    )


def make_approval(approval_id: int = 7) -> ApprovalRecord:
    return ApprovalRecord(
        id=approval_id,
        job_id="ft-support-1",
        action="deploy",
        state=ApprovalState.PENDING,
        requested_by="U0ASKER",
        created_at=NOW - timedelta(minutes=3),
    )


def make_card(
    job: JobRecord | None = None,
    endpoint: EndpointRecord | None = None,
    approval: ApprovalRecord | None = None,
) -> JobCard:
    return JobCard(job=job or make_job(), endpoint=endpoint, pending_approval=approval)
