from __future__ import annotations

import time

from bot.ui.ids import Action, Callback
from bot.ui.ids import Block as B
from bot.ui.wizard import loading_view, options_for_models, wizard_view
from bot.ui.wizard_input import DataSource, WizardInput
from commands.models import BaseModelInfo, Hyperparameters, Task
from tests.bot.ui.helpers import DATASETS, HOSTILE, all_text, assert_view_ok, block, has_block


def test_loading_view() -> None:
    d = assert_view_ok(loading_view())
    assert d["callback_id"] == Callback.LOADING and "Loading" in all_text(d["blocks"]) and "submit" not in d


def test_wizard_view_has_every_step() -> None:
    d = assert_view_ok(wizard_view(backend_kind="azure", channel_id="C0CHAN", datasets=DATASETS))
    assert d["callback_id"] == Callback.WIZARD and d["private_metadata"] == "C0CHAN"
    assert d["submit"]["text"] == "Review"
    blocks = d["blocks"]
    model = block(blocks, B.BASE_MODEL)["element"]
    assert model["type"] == "external_select" and model["min_query_length"] == 0
    assert model["action_id"] == Action.BASE_MODEL
    for block_id in (B.TRAINING_FILE, B.VALIDATION_FILE):
        element = block(blocks, block_id)["element"]
        assert (
            element["type"] == "file_input"
            and element["filetypes"] == ["jsonl"]
            and element["max_files"] == 1
        )
        assert block(blocks, block_id)["optional"] is True
    assert block(blocks, B.TRAINING_URL)["element"]["type"] == "url_text_input"
    existing = block(blocks, B.TRAINING_EXISTING)["element"]
    assert existing["type"] == "static_select" and [o["value"] for o in existing["options"]] == [
        "ds-1",
        "ds-2",
    ]
    modes = [o["value"] for o in block(blocks, B.VALIDATION_MODE)["element"]["options"]]
    assert modes == ["none", "split", "file", "url", "existing"]
    split = block(blocks, B.VALIDATION_SPLIT)["element"]
    assert split["type"] == "number_input" and (split["min_value"], split["max_value"]) == ("1", "50")
    params = block(blocks, B.PARAMS_MODE)["element"]
    assert [o["text"]["text"] for o in params["options"]] == ["Default", "Custom"]
    assert params["initial_option"]["value"] == "default"
    lr = block(blocks, B.LR_MULTIPLIER)
    assert (
        "0.02–0.2 is the range Microsoft's fine-tuning guidance suggests trying" in lr["hint"]["text"]
        and "Customize a model with fine-tuning" in lr["hint"]["text"]
        and lr["element"]["is_decimal_allowed"] is True
    )
    batch = block(blocks, B.BATCH_SIZE)["element"]
    assert (batch["min_value"], batch["max_value"], batch["is_decimal_allowed"]) == ("1", "256", False)
    epochs = block(blocks, B.EPOCHS)["element"]
    assert (epochs["min_value"], epochs["max_value"]) == ("1", "50")
    assert block(blocks, B.SUFFIX)["element"]["max_length"] == 40


def test_wizard_without_datasets_offers_no_existing_choice() -> None:
    d = assert_view_ok(wizard_view(backend_kind="local", channel_id="C0CHAN"))
    assert not has_block(d["blocks"], B.TRAINING_EXISTING) and not has_block(
        d["blocks"], B.VALIDATION_EXISTING
    )
    assert "existing" not in [o["value"] for o in block(d["blocks"], B.VALIDATION_MODE)["element"]["options"]]


def test_wizard_with_many_hostile_datasets() -> None:
    datasets = [(f"ds-{i}", HOSTILE) for i in range(300)]
    d = assert_view_ok(wizard_view(backend_kind=HOSTILE, channel_id="C0CHAN", datasets=datasets))
    assert len(block(d["blocks"], B.TRAINING_EXISTING)["element"]["options"]) == 100
    assert "<!channel>" not in all_text(d["blocks"]) and "&lt;!channel&gt;" in all_text(d["blocks"])


def test_wizard_prefills_from_an_earlier_input() -> None:
    initial = WizardInput(
        model="Phi-4-mini-instruct",
        training=DataSource(kind="existing", value="ds-2", name="faq.jsonl"),
        validation_mode="url",
        validation=DataSource(
            kind="url", value="https://x.blob.core.windows.net/c/val.jsonl", name="val.jsonl"
        ),
        hyperparameters=Hyperparameters(n_epochs=3, learning_rate_multiplier=0.1),
        custom_parameters=True,
        suffix="support",
    )
    blocks = assert_view_ok(
        wizard_view(backend_kind="azure", channel_id="C0CHAN", datasets=DATASETS, initial=initial)
    )["blocks"]
    assert block(blocks, B.BASE_MODEL)["element"]["initial_option"]["value"] == "Phi-4-mini-instruct"
    assert block(blocks, B.TRAINING_EXISTING)["element"]["initial_option"]["value"] == "ds-2"
    assert block(blocks, B.VALIDATION_MODE)["element"]["initial_option"]["value"] == "url"
    assert block(blocks, B.VALIDATION_URL)["element"]["initial_value"].endswith("val.jsonl")
    assert block(blocks, B.PARAMS_MODE)["element"]["initial_option"]["value"] == "custom"
    assert block(blocks, B.EPOCHS)["element"]["initial_value"] == "3"
    assert block(blocks, B.LR_MULTIPLIER)["element"]["initial_value"] == "0.1"
    assert block(blocks, B.SUFFIX)["element"]["initial_value"] == "support"


# --- options ----------------------------------------------------------------------------------------


def test_model_options_filter_rank_and_cap() -> None:
    models = [
        BaseModelInfo(name="Phi-4-mini-instruct", source="azureml"),
        BaseModelInfo(name="Meta-Llama-3-8B-Instruct", source="azureml-meta", needs_subscription=True),
        BaseModelInfo(name="Mistral-phi-ish", source="azureml-mistral"),
        BaseModelInfo(name="phi-text-only", source="azureml", tasks=(Task.TEXT_COMPLETION,)),
        *[BaseModelInfo(name=f"model-{i:03d}-" + "x" * 80, source="azureml") for i in range(150)],
    ]
    phi = options_for_models(models, "PHI")
    assert [o.value for o in phi] == ["Phi-4-mini-instruct", "Mistral-phi-ish"]
    llama = options_for_models(models, "llama")[0].to_dict()
    assert llama["text"]["text"].endswith("needs subscription")
    everything = [o.to_dict() for o in options_for_models(models, "")]
    assert len(everything) == 100
    assert all(len(o["text"]["text"]) <= 75 and len(o["value"]) <= 150 for o in everything)
    assert options_for_models(models, "nothing-matches") == []


def test_model_options_answer_fast_for_a_large_catalogue() -> None:
    """The options request must be answered within Slack's 3 s; the filter is one linear pass (a
    quadratic one took ~7 s for 2,000 models here)."""
    models = [BaseModelInfo(name=f"model-{i:05d}", source="azureml") for i in range(5000)]
    started = time.perf_counter()
    options = options_for_models(models, "model-0")
    assert time.perf_counter() - started < 0.5
    assert len(options) == 100
