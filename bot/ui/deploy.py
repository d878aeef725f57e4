"""The Deploy dialog: every option one deploy request holds (today the final model or a checkpoint, and
the deployment SKU for approvers), its parser, and how a request's options read in the thread and on the
card. Later options (target, budget) join this dialog and ``DeployOptions``; the rest of the flow stays.

The card's Deploy button opens it (``loading_view`` first: a trigger lives 3 s). Its ``private_metadata``
is the job id; a submission is read by ``parse_deploy``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from slack_sdk.models.blocks import Block, InputBlock, Option, RadioButtonsElement, StaticSelectElement
from slack_sdk.models.views import View

from bot.ui.blocks import context, section
from bot.ui.ids import Action, Callback
from bot.ui.ids import Block as B
from bot.ui.limits import OPTION_TEXT_MAX, OPTIONS_MAX
from bot.ui.state import Values, selected_value
from bot.ui.status import HOURLY_COST_NOTE
from bot.ui.text import clip, code, escape_clip, plain
from commands.errors import InvalidInput
from commands.lifecycle.values import DeployChoices
from commands.models import HOME_TARGET, Checkpoint, DeployOptions, DeployTarget, Tier

FINAL = "final"
_METRIC_LABELS = {
    "train_loss": "train loss",
    "valid_loss": "valid loss",
    "train_mean_token_accuracy": "train acc",
    "valid_mean_token_accuracy": "valid acc",
}


def checkpoint_label(c: Checkpoint) -> str:
    """``Checkpoint 2 · epoch 2 · step 40 · train loss 0.7512`` (plain text)."""
    parts = [f"Checkpoint {c.number}"]
    if c.epoch is not None:
        parts.append(f"epoch {c.epoch}")
    if c.step is not None:
        parts.append(f"step {c.step}")
    for key, label in _METRIC_LABELS.items():
        value = c.metrics.get(key)
        if value is not None:
            parts.append(f"{label} {value:.4f}")
    return " · ".join(parts)


def checkpoints_text(raw: object) -> str:
    """The thread's list of a succeeded job's checkpoints (``ThreadPost.data['checkpoints']``)."""
    listed: list[Checkpoint] = []
    for item in raw if isinstance(raw, list) else []:
        try:
            listed.append(Checkpoint.model_validate(item))
        except ValueError:
            continue
    if not listed:
        return ":card_index_dividers: The service listed no deployable checkpoints."
    lines = [f"• {escape_clip(checkpoint_label(c), 200)}" for c in listed[:20]]
    return (
        ":card_index_dividers: *Checkpoints* you can deploy instead of the final model "
        "(Deploy on the card, or `/finetune deploy JOB --checkpoint N`):\n" + "\n".join(lines)
    )


def options_text(options: DeployOptions) -> str:
    """How a deploy request's options read in the thread and on the card (mrkdwn)."""
    what = "the final model" if options.checkpoint is None else f"checkpoint {options.checkpoint}"
    sku = code(clip(options.sku, 40)) if options.sku else "the default"
    where = f", in {code(clip(options.target, 40))}" if options.target else ""
    return f"{what}, SKU {sku}{where}"


def options_from_data(raw: object) -> DeployOptions | None:
    """The ``options`` a thread post's data holds, or None when there are none (older posts)."""
    if not isinstance(raw, Mapping):
        return None
    try:
        return DeployOptions.model_validate(raw)
    except ValueError:
        return None


def _option(value: str, text: str, description: str | None = None) -> Option:
    return Option(
        value=value,
        text=plain(text, OPTION_TEXT_MAX),
        description=plain(description, OPTION_TEXT_MAX) if description else None,
    )


def _checkpoint_input(checkpoints: Sequence[Checkpoint], chosen: int | None = None) -> InputBlock:
    final = _option(FINAL, "The final model")
    listed = [_option(str(c.number), checkpoint_label(c)) for c in checkpoints]
    options = [final, *listed[: OPTIONS_MAX - 1]]
    initial = next((o for o in options if o.value == str(chosen)), final)
    return InputBlock(
        block_id=B.DEPLOY_CHECKPOINT,
        label="Model",
        hint="The final model, or one of the checkpoints the job's thread lists.",
        element=StaticSelectElement(
            action_id=Action.DEPLOY_CHECKPOINT, options=options, initial_option=initial
        ),
    )


def _sku_input(skus: Sequence[Tier]) -> InputBlock:
    options = [_option(t.name, t.label or t.name, t.note or None) for t in skus[:10]]
    return InputBlock(
        block_id=B.DEPLOY_SKU,
        label="Deployment SKU",
        element=RadioButtonsElement(action_id=Action.DEPLOY_SKU, options=options, initial_option=options[0]),
    )


def _target_input(targets: Sequence[DeployTarget]) -> InputBlock:
    options = [
        _option(t.name, t.name if t.name != HOME_TARGET else "home (the training project)", t.path)
        for t in targets[:OPTIONS_MAX]
    ]
    return InputBlock(
        block_id=B.DEPLOY_TARGET,
        label="Where",
        hint="The project the endpoint is created in (FTBOT_DEPLOY_TARGETS); its region must be one the "
        "model's fine-tunes can be deployed to.",
        element=StaticSelectElement(
            action_id=Action.DEPLOY_TARGET, options=options, initial_option=options[0]
        ),
    )


def deploy_loading_view() -> View:
    """Opened at once on a Deploy click (a trigger lives 3 s), then replaced by ``deploy_dialog``."""
    return View(
        type="modal",
        callback_id=Callback.LOADING,
        title="Deploy",
        close="Cancel",
        blocks=[section(B.LOADING, ":hourglass_flowing_sand: Loading the deploy options…")],
    )


def deploy_dialog(choices: DeployChoices, chosen: int | None = None) -> View:
    """The Deploy dialog for one succeeded job. Approvers deploy from it; anyone else's submission
    becomes an approval request holding the same options. ``chosen``: the checkpoint shown chosen
    (``Deploy best checkpoint``); None: the final model."""
    blocks: list[Block] = [
        section(
            B.DEPLOY_INTRO,
            f"Deploy job {code(clip(choices.job_id, 100))} (final model {code(clip(choices.model, 150))}).",
        )
    ]
    if choices.checkpoints:
        blocks.append(_checkpoint_input(choices.checkpoints, chosen))
    if choices.skus and choices.approver:
        blocks.append(_sku_input(choices.skus))
    if len(choices.targets) > 1:
        blocks.append(_target_input(choices.targets))
    note = HOURLY_COST_NOTE
    if choices.skus and not choices.approver:
        default = escape_clip(choices.skus[0].label or choices.skus[0].name, 40)
        note += f" SKU: {default} (approvers can choose another)."
    if not choices.approver:
        note += " You are not an approver: this sends an approval request to the job's thread."
    blocks.append(context(B.DEPLOY_NOTE, note))
    if choices.over_budget is not None and choices.over_budget.request is not None:
        over = choices.over_budget
        blocks.append(
            context(
                B.DEPLOY_BUDGET,
                f":warning: Over budget: a first day of hosting ({over.request}, default SKU) would take "
                f"this channel past its monthly budget ({over.spent} spent of {over.budget}), so the deploy "
                "waits for an approver's Approve in the job's thread, an approver's own included.",
            )
        )
    return View(
        type="modal",
        callback_id=Callback.DEPLOY,
        title="Deploy",
        submit="Deploy" if choices.approver else "Request deploy",
        close="Cancel",
        private_metadata=choices.job_id,
        blocks=blocks,
    )


def parse_deploy(values: Values) -> DeployOptions:
    """The submitted dialog's options; ``InvalidInput`` (``field`` = the block) for a damaged value."""
    checkpoint: int | None = None
    raw = selected_value(values, B.DEPLOY_CHECKPOINT, Action.DEPLOY_CHECKPOINT)
    if raw is not None and raw != FINAL:
        if not raw.isascii() or not raw.isdigit() or len(raw) > 9:
            raise InvalidInput("Choose the final model or one of the checkpoints.", field=B.DEPLOY_CHECKPOINT)
        checkpoint = int(raw)
    sku = selected_value(values, B.DEPLOY_SKU, Action.DEPLOY_SKU)
    if sku is not None and (len(sku) > 40 or not sku.replace("-", "").replace("_", "").isalnum()):
        raise InvalidInput("Choose one of the SKUs listed.", field=B.DEPLOY_SKU)
    target = selected_value(values, B.DEPLOY_TARGET, Action.DEPLOY_TARGET)
    if target is not None and (len(target) > 40 or not target.replace("-", "").replace("_", "").isalnum()):
        raise InvalidInput("Choose one of the targets listed.", field=B.DEPLOY_TARGET)
    return DeployOptions(checkpoint=checkpoint, sku=sku, target=None if target == HOME_TARGET else target)
