"""The wizard's last steps: Review (the data check, the billed-token estimate, Start training) and the
"submitted" view that replaces it."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot.ui.blocks import context, fields_section, section
from bot.ui.ids import SLASH_COMMAND, Callback
from bot.ui.ids import Block as B
from bot.ui.text import clip, code, escape_clip
from bot.ui.validation import validation_report_blocks
from commands.dataset.report import ValidationReport
from commands.models import Tier


def _report_ok(report: ValidationReport) -> bool:
    return report.ok and (report.validation is None or report.validation.ok)


def review_view(
    *,
    report: ValidationReport,
    summary: Sequence[tuple[str, str]],
    private_metadata: str,
    n_epochs: int | None = None,
    tiers: Sequence[Tier] = (),
    cost: str | None = None,
    not_checked: Sequence[str] = (),
    training_checked: bool = True,
) -> View:
    """The review step: ``summary`` is ``(label, value)`` pairs in plain text (base model, data,
    validation, parameters, suffix); ``n_epochs`` the user's own choice, when not Default (rescales the
    estimate); ``tiers`` the backend's training tiers, each with its one-line note on data residency and
    price; ``cost`` the estimated training cost (None: the model has no price). With errors in the data
    there is no submit button: it is never submitted. ``not_checked``: why data the service keeps was not
    validated here, one sentence each; ``training_checked`` False: the training data is one of them (no
    report for it, no estimate)."""
    ok = _report_ok(report)
    blocks: list[Block] = []
    if summary:
        fields = (f"*{escape_clip(k, 100)}*\n{escape_clip(v, 1500)}" for k, v in summary)
        blocks.append(fields_section(B.REVIEW, fields))
    if tiers:
        lines = [f"*{escape_clip(t.label or t.name, 40)}*: {escape_clip(t.note, 200)}" for t in tiers[:10]]
        blocks.append(context(B.REVIEW_TIERS, "Training tiers: " + " · ".join(lines)))
    if not_checked:
        notes = "\n".join(f"• {escape_clip(note, 500)}" for note in not_checked[:2])
        blocks.append(
            section(
                B.REVIEW_NOT_CHECKED,
                f":information_source: *Not validated locally*\n{notes}\nThe job references it as it is "
                "in the service, which checks it when the job starts.",
            )
        )
    if training_checked:
        blocks += validation_report_blocks(report, title="Training data check", n_epochs=n_epochs)
    elif report.validation is not None:
        blocks += validation_report_blocks(report.validation, title="Validation data check")
    if ok and cost and training_checked:
        blocks.append(section(B.REVIEW_COST, f":moneybag: {cost}"))
    if ok:
        billed = (
            "Training is billed by the tokens trained (the estimate above)."
            if training_checked
            else "Training is billed by the tokens trained; with the data unread here there is no estimate."
        )
        blocks.append(
            context(
                B.REVIEW_ESTIMATE, f"{billed} A deployed model is billed by the hour until it is torn down."
            )
        )
    else:
        blocks.append(
            section(
                B.REVIEW_BLOCKED,
                ":no_entry: The data has errors, so this job cannot start. Fix the lines above, then run "
                f"`{SLASH_COMMAND}` again.",
            )
        )
    return View(
        type="modal",
        callback_id=Callback.REVIEW,
        title="Review",
        submit="Start training" if ok else None,
        close="Cancel" if ok else "Close",
        private_metadata=private_metadata,
        blocks=blocks,
    )


def submitted_view(job_id: str) -> View:
    return View(
        type="modal",
        callback_id=Callback.SUBMITTED,
        title="Training submitted",
        close="Done",
        blocks=[
            section(
                B.SUBMITTED,
                f":white_check_mark: Job {code(clip(job_id, 100))} was submitted. Its card in the channel "
                "shows its state as it moves; the card's thread gets the events, the metrics and the loss "
                "chart.",
            )
        ],
    )
