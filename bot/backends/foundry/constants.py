"""Every wire string of the Foundry backend that Microsoft has not fully documented, in one table each,
so that a correction is one line. Sources are named as in reference/azure-foundry-finetuning.md of the
project's research notes (the public pages are Microsoft Learn's "Customize a model with fine-tuning",
"Deploy a fine-tuned model", "Fine-tuning cost management" and the Azure SDK samples).

Not confirmed anywhere read (kept here so they can be corrected in one place):

* the ``trainingType`` values and their case (``Standard`` in the azure-ai-projects samples,
  ``GlobalStandard`` in its open-model sample, ``developerTier`` in Microsoft's field notes);
* the Developer deployment SKU name (``developertier`` in the REST/Python docs, ``Developer`` in the CLI)
  and whether ARM compares SKU names case-sensitively;
* whether a checkpoint deploys by its ``ftchkpt-…`` id (the docs) or its ``…:ckpt-step-N`` name;
* the model formats of open models (``Meta``, ``Mistral AI``, ``Microsoft``, ``Alibaba``, case-sensitive);
* which regions serve which fine-tuned model with the regional Standard SKU ("Deploy a fine-tuned model"
  names four regions for Standard, not which model is where), and the regions Developer serves from.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from commands.models import Method, Tier

#: Entra ID scope of the data plane (``{endpoint}/openai/v1``)
DATA_PLANE_SCOPE = "https://cognitiveservices.azure.com/.default"
#: ARM default; its token scope is ``{ARM endpoint}/.default``
DEFAULT_ARM_ENDPOINT = "https://management.azure.com"
#: The data plane's path under AZURE_OPENAI_ENDPOINT
V1_PATH = "/openai/v1/"

#: The ``metadata`` key carrying ftbot's job name: how a create whose answer was lost is found again
JOB_KEY = "ftbot_job"
#: ``JobSpec.tags`` key of a seed asked for in ``ftbot submit job.json`` (JobSpec has no seed field)
SEED_TAG = "ftbot.seed"


@dataclass(frozen=True)
class TierWire:
    """A tier as operators name it (the setting, ``--training-type``) and as the service spells it."""

    name: str  # setting value: Standard, GlobalStandard, Developer
    wire: str  # what the service is sent
    label: str
    note: str  # one line: data residency and price
    capacity: int = 0  # deployment SKUs only: thousands of tokens per minute


#: ``trainingType`` sent in the job create body (``extra_body``). Omitting it makes the service answer
#: "The specified base model does not support fine-tuning", so it is always sent.
TRAINING_TIERS: tuple[TierWire, ...] = (
    TierWire(
        "Standard",
        "Standard",  # azure-ai-projects samples
        "Standard (regional)",
        "Trains in the resource's region: data stays there; the regional training price.",
    ),
    TierWire(
        "GlobalStandard",
        "GlobalStandard",  # azure-ai-projects open-model sample
        "Global Standard",
        "Trains in any Azure region: no data residency; 10-30% cheaper than regional training.",
    ),
    TierWire(
        "Developer",
        "developerTier",  # Microsoft's field notes only: not confirmed
        "Developer",
        "Spot capacity, may be paused and resumed by the service: no data residency; 50% off global.",
    ),
)

#: ``sku.name`` of an ARM deployment, with the capacity ftbot asks for (the docs' samples: 1, 100, 50).
DEPLOYMENT_SKUS: tuple[TierWire, ...] = (
    TierWire(
        "Standard",
        "Standard",  # the ARM spec example and the CLI
        "Standard (regional)",
        "Served in the resource's region: data stays there; per-token price plus an hourly fee.",
        capacity=50,
    ),
    TierWire(
        "GlobalStandard",
        "GlobalStandard",  # azure-ai-projects samples
        "Global Standard",
        "Served from any Azure region: no data residency; global per-token price plus an hourly fee.",
        capacity=100,
    ),
    TierWire(
        "Developer",
        "developertier",  # REST/Python docs; the CLI says "Developer": not confirmed
        "Developer",
        "No hourly fee, no SLA, no data residency; the service deletes it 24 hours after deployment.",
        capacity=50,
    ),
)

#: ``properties.model`` of a fine-tuned model's deployment
MODEL_FORMAT = "OpenAI"
MODEL_VERSION = "1"
#: open models' fine-tunes (Microsoft's field notes; deployed as GlobalStandard only): not used yet
OPEN_MODEL_FORMATS = ("Microsoft", "Mistral AI", "Meta", "Alibaba")

#: Where fine-tuned models deploy with the regional Standard SKU: "Deploy a fine-tuned model" says only "a few
#: regions per model" and names these four (which model is in which is not confirmed: one tuple to correct)
STANDARD_DEPLOY_REGIONS = ("eastus2", "northcentralus", "swedencentral", "switzerlandwest")
#: The SKUs that deploy a fine-tune in any Azure OpenAI region, and the base-model families they do it
#: for: Global Standard "from all Azure OpenAI regions" for o4-mini, the GPT-4.1 family and GPT-4o / -mini;
#: Developer (GPT-4.1, -mini, -nano) has no data residency (its regions are not confirmed). Other models,
#: and every model on Standard, are held to STANDARD_DEPLOY_REGIONS.
ANY_REGION_MODELS: dict[str, tuple[str, ...]] = {
    "GlobalStandard": ("o4-mini", "gpt-4.1", "gpt-4o"),
    "Developer": ("gpt-4.1",),
}
#: A fine-tuned model's name is ``<base model>.ft-<32 hex>[-suffix]``
FINE_TUNE_MARK = ".ft-"
#: ARM ``accounts`` ``properties.endpoints`` key of the OpenAI data plane (``https://<res>.openai.azure.com/``)
OPENAI_ENDPOINT_KEY = "OpenAI Language Model Instance API"
#: The account kinds that serve Azure OpenAI deployments
ACCOUNT_KINDS = ("OpenAI", "AIServices")

#: How long the service keeps a deployment on its own
DEVELOPER_LIFETIME = timedelta(hours=24)
IDLE_DELETION = timedelta(days=15)

#: Base models that train with DPO as well as supervised ("Direct preference optimization" how-to)
DPO_MODELS = frozenset({"gpt-4o-2024-08-06", "gpt-4.1-2025-04-14", "gpt-4.1-mini-2025-04-14"})
METHOD_NAMES = {Method.SUPERVISED: "supervised", Method.DPO: "dpo"}

#: Per-example token limit the validator checks against when the service does not say (not documented
#: per model on Azure; OpenAI's GPT-4o / 4.1 families train on examples up to 65,536 tokens)
DEFAULT_CONTEXT_LENGTH = 65_536


def checkpoint_model(checkpoint_id: str, checkpoint_model_name: str) -> str:
    """What a checkpoint is deployed as: its ``ftchkpt-…`` id, as "Deploy a fine-tuned model" says.
    (Whether ``checkpoint_model_name``, ``…:ckpt-step-N``, works too is not confirmed.)"""
    return checkpoint_id or checkpoint_model_name


def find(table: tuple[TierWire, ...], name: str | None) -> TierWire | None:
    """The entry named ``name`` (the setting spelling or the wire spelling, any case)."""
    if name is None:
        return None
    wanted = name.strip().lower()
    return next((t for t in table if wanted in (t.name.lower(), t.wire.lower())), None)


def as_tiers(table: tuple[TierWire, ...], default: str) -> list[Tier]:
    """``Tier`` values for the core, the default first."""
    first = find(table, default)
    ordered = [first, *(t for t in table if t is not first)] if first else list(table)
    return [Tier(name=t.name, label=t.label, note=t.note) for t in ordered if t is not None]
