"""The base models ftbot offers: resolved from Azure ML registries, cached, and subscribed to.

Microsoft's "Fine-tune models using serverless API deployments in Azure AI Foundry" lists the models that
can be fine-tuned serverless. Each is read from its registry with ``models.get(name, label="latest")``;
its ``maas-finetuning-deploy-regions`` tag says where its fine-tunes can be deployed. Models outside
Microsoft's own registry need a marketplace subscription before training
(``marketplace_subscriptions.begin_create_or_update``).
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

from azure.ai.ml.entities import MarketplaceSubscription
from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError

from bot.backends.azure.errors import azure_errors
from bot.backends.azure.project import FoundryProject
from bot.backends.common import TtlCache
from commands.errors import FtbotError, NotFound
from commands.models import BaseModelInfo, Task, normalized_model_name

logger = logging.getLogger(__name__)

#: Microsoft's own registry: its models (the Phi family) need no marketplace subscription
MICROSOFT_REGISTRY = "azureml"
DEPLOY_REGIONS_TAG = "maas-finetuning-deploy-regions"

#: Base models offered when FTBOT_AZURE_MODELS adds nothing, as ``registry/name``: the serverless
#: fine-tunable models of "Fine-tune models using serverless API deployments in Azure AI Foundry". Each is
#: resolved to its latest version (and tags) when the catalogue is loaded; models a project cannot see are
#: left out with a log line.
DEFAULT_MODELS: tuple[str, ...] = (
    "azureml/Phi-4-mini-instruct",
    "azureml/Phi-3.5-mini-instruct",
    "azureml/Phi-3-mini-4k-instruct",
    "azureml/Phi-3-mini-128k-instruct",
    "azureml/Phi-3-medium-4k-instruct",
    "azureml/Phi-3-medium-128k-instruct",
    "azureml-meta/Meta-Llama-3.1-8B-Instruct",
    "azureml-meta/Meta-Llama-3.1-70B-Instruct",
    "azureml-mistral/Ministral-3B",
    "azureml-mistral/Mistral-Nemo",
)

#: A registry asset id, ``azureml://registries/R/models/N[/versions/V]``: groups registry, name, version
REGISTRY_MODEL = re.compile(r"^azureml://registries/([^/]+)/models/([^/]+)(?:/versions/([^/]+))?$")


def parse_regions(tag: str | None) -> tuple[str, ...]:
    """The ``maas-finetuning-deploy-regions`` tag: its exact format is not documented, so accept a JSON list
    or any comma/semicolon/space separated string. Region names are lower-cased without spaces
    (``East US 2`` → ``eastus2``) as ``Workspace.location`` writes them."""
    if not tag:
        return ()
    items: list[str]
    try:
        parsed = json.loads(tag)
    except ValueError:
        parsed = None
    items = [str(p) for p in parsed] if isinstance(parsed, list) else re.split(r"[,;|\n]+", tag.strip("[]"))
    out: list[str] = []
    for item in items:
        region = re.sub(r"[\s\"']+", "", item).lower()
        if region and region not in out:
            out.append(region)
    return tuple(out)


def _tasks_from_tags(tags: Mapping[str, str]) -> tuple[Task, ...]:
    task = str(tags.get("task", "")).lower()
    if "chat" in task:
        return (Task.CHAT_COMPLETION,)
    if "text-generation" in task or "completion" in task:
        return (Task.TEXT_COMPLETION, Task.CHAT_COMPLETION)
    return (Task.CHAT_COMPLETION, Task.TEXT_COMPLETION)


def _context_length(tags: Mapping[str, str]) -> int:
    for key in ("maxContextLength", "context_length", "max_context_length", "model_max_length"):
        value = tags.get(key)
        if value and str(value).isdigit():
            return int(value)
    return 4096


def _split_model_ref(ref: str, default_registry: str) -> tuple[str, str]:
    registry, sep, name = ref.partition("/")
    return (registry, name) if sep else (default_registry, ref)


class Catalogue:
    """``list_base_models`` / ``get_base_model`` of the backend, and the marketplace subscription a
    non-Microsoft model needs. ``models`` lists the catalogue as ``name`` (in ``default_registry``) or
    ``registry/name``."""

    def __init__(
        self,
        project: FoundryProject,
        *,
        models: Sequence[str] = DEFAULT_MODELS,
        default_registry: str = MICROSOFT_REGISTRY,
        ttl_s: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._project = project
        self._models = list(dict.fromkeys(models))
        self._default_registry = default_registry
        self._cache = TtlCache(self._load, ttl_s, clock)

    def list_base_models(self) -> list[BaseModelInfo]:
        """The catalogue, cached for ``ttl_s``: at most one round of registry calls per TTL, so Slack's
        option loads (3 s budget) are answered from memory. Concurrent callers wait for one load."""
        return list(self._cache.get())

    def refresh_base_models(self) -> list[BaseModelInfo]:
        """Drop the cache and load again (call from a background thread at start-up to warm it)."""
        return list(self._cache.refresh())

    def _load(self) -> list[BaseModelInfo]:
        refs = [_split_model_ref(m, self._default_registry) for m in self._models]
        errors: list[FtbotError] = []

        def resolve(ref: tuple[str, str]) -> BaseModelInfo | None:
            registry, name = ref
            try:
                return self.resolve_base_model(registry, name)
            except NotFound:
                logger.info("base model %s/%s is not available to this project; left out", registry, name)
                return None
            except FtbotError as err:
                logger.warning("could not load base model %s/%s: %s", registry, name, err.message)
                errors.append(err)
                return None

        # each registry call runs in the caller's context (a copy per call: one context is entered by one
        # thread at a time), so its log lines carry the Slack request's ref and fields
        context = contextvars.copy_context()
        with ThreadPoolExecutor(max_workers=min(8, max(1, len(refs)))) as pool:
            found = [m for m in pool.map(lambda ref: context.copy().run(resolve, ref), refs) if m is not None]
        if not found and errors:
            raise errors[0]
        return found

    def resolve_base_model(self, registry: str, name: str, version: str | None = None) -> BaseModelInfo:
        """One model read from its registry (``version``, or the latest), bypassing the cache."""
        client = self._project.registry(registry)
        with azure_errors(f"The base model {name}"):
            model = (
                client.models.get(name, version=version)
                if version
                else client.models.get(name, label="latest")
            )
        tags = {str(k): str(v) for k, v in (model.tags or {}).items()}
        return BaseModelInfo(
            name=str(model.name or name),
            version=str(model.version) if model.version else None,
            source=registry,
            description=(model.description or "")[:300],
            tasks=_tasks_from_tags(tags),
            deploy_regions=parse_regions(tags.get(DEPLOY_REGIONS_TAG)),
            needs_subscription=registry != MICROSOFT_REGISTRY,
            context_length=_context_length(tags),
            model_id=str(model.id),
        )

    def get_base_model(self, name: str) -> BaseModelInfo:
        """By the name ``list_base_models`` shows, ``registry/name``, or a full registry asset id
        (``azureml://registries/R/models/N/versions/V``, as the CLI YAML gives it: that exact version)."""
        wanted = name.strip()
        pinned = REGISTRY_MODEL.match(wanted)
        if pinned:
            registry, plain, version = pinned.groups()
            try:
                return self.resolve_base_model(registry, plain, version)
            except NotFound:
                raise NotFound(f"No base model {wanted} in the registry {registry}.") from None
        for model in self.list_base_models():
            if (
                model.name.lower() == wanted.lower()
                or f"{model.source}/{model.name}".lower() == wanted.lower()
            ):
                return model
        registry, plain = _split_model_ref(wanted, self._default_registry)
        try:
            return self.resolve_base_model(registry, plain)
        except NotFound:
            raise NotFound(
                "No base model called {model}. {command} lists the ones this project can fine-tune.",
                model=name,
                command="/finetune models",
            ) from None

    def ensure_marketplace_subscription(self, base: BaseModelInfo) -> None:
        """Subscribe the project to a non-Microsoft model's marketplace offer before training. Idempotent: an
        existing subscription is fine. The model id is given without ``/versions/N``, as Microsoft's sample
        does."""
        model_id = re.sub(r"/versions/[^/]+$", "", str(base.model_id))
        name = normalized_model_name(base.name)[:50] or "ftbot-model"
        ws = self._project.ws
        with azure_errors(f"The marketplace subscription for {base.name}"):
            try:
                current = ws.marketplace_subscriptions.get(name)
            except ResourceNotFoundError:
                current = None
            if current is not None and str(current.status or "").lower() in ("subscribed", ""):
                return
            try:
                ws.marketplace_subscriptions.begin_create_or_update(
                    MarketplaceSubscription(name=name, model_id=model_id)
                ).result()
            except ResourceExistsError:
                return
        logger.info("created marketplace subscription %s for %s", name, base.name)
