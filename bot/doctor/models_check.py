"""Check 6: each configured base model can be fine-tuned where the project is.

``azure``: the registry model's ``maas-finetuning-deploy-regions`` tag must name the project's region (the
check Microsoft's serverless fine-tuning sample makes before training); a model outside Microsoft's own
registry also needs a Marketplace subscription, or the right to create one. ``foundry``: the resource's
model list (``accounts.list_models``) must mark the model ``fineTune``."""

from __future__ import annotations

from dataclasses import dataclass, field

from azure.core.exceptions import ResourceNotFoundError

from bot.doctor import arm
from bot.doctor.azure_checks import allows
from bot.doctor.probe import Probe
from commands.doctor import Check, failed, passed, warned
from commands.errors import FtbotError, NotFound

#: what subscribing to a Marketplace offer takes ("Deploy models as serverless API deployments" lists these
#: subscription-level permissions)
MARKETPLACE_ACTIONS = (
    "Microsoft.MarketplaceOrdering/agreements/offers/plans/sign/action",
    "Microsoft.SaaS/register/action",
)
SHOWN = 8


@dataclass
class _Findings:
    ok: list[str] = field(default_factory=list)
    bad: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    fixes: list[str] = field(default_factory=list)


def check_models(probe: Probe) -> Check:
    if probe.backend == "azure":
        return _azure_models(probe)
    return _foundry_models(probe)


def _azure_models(probe: Probe) -> Check:
    from bot.backends.azure.catalogue import DEFAULT_MODELS, MICROSOFT_REGISTRY, Catalogue
    from bot.backends.azure.project import FoundryProject, cheap_experimental_check

    assert probe.settings is not None
    s = probe.settings
    configured = list(dict.fromkeys(m for m in s.azure_models if m))
    refs = configured or list(DEFAULT_MODELS)
    cheap_experimental_check()  # marketplace_subscriptions is @experimental: keep its check cheap
    ws = arm.workspace(probe)
    catalogue = Catalogue(FoundryProject(ws, registry_factory=lambda name: arm.registry(probe, name)))
    found = _Findings()
    for ref in refs:
        registry, sep, name = ref.partition("/")
        registry, name = (registry, name) if sep else (s.azure_registry, ref)
        try:
            model = catalogue.resolve_base_model(registry, name)
        except NotFound:
            found.bad.append(f"{name} is not in the registry {registry}")
            continue
        except FtbotError as e:
            found.bad.append(f"{name} could not be read from {registry}: {probe.redact(e.message)}")
            continue
        regions = model.deploy_regions
        if not regions:
            found.notes.append(f"{name} has no maas-finetuning-deploy-regions tag")
        elif probe.region not in regions:
            found.bad.append(
                f"{name} cannot be fine-tuned in {probe.region} "
                f"(its fine-tunes deploy in {', '.join(regions)})"
            )
            found.fixes.append(f"use a project in one of {', '.join(regions)} for {name}")
            continue
        if registry != MICROSOFT_REGISTRY and not _marketplace(probe, ws, model.name, found):
            continue
        found.ok.append(f"{name} (deploys in {', '.join(regions) or 'unknown regions'})")
    return _verdict(found, strict=bool(configured), what="FTBOT_AZURE_MODELS")


def _marketplace(probe: Probe, ws: object, name: str, found: _Findings) -> bool:
    """A non-Microsoft model's Marketplace subscription: there, or creatable by this identity."""
    from commands.models import normalized_model_name

    sub_name = normalized_model_name(name)[:50] or "ftbot-model"
    try:
        current = ws.marketplace_subscriptions.get(sub_name)  # type: ignore[attr-defined]
    except ResourceNotFoundError:
        current = None
    if current is not None:
        status = str(current.status or "").lower()
        if status in ("subscribed", ""):
            return True
        found.bad.append(f"{name}: its Marketplace subscription is {status}")
        found.fixes.append(f"renew or delete the Marketplace subscription {sub_name} in the project")
        return False
    missing = [a for a in MARKETPLACE_ACTIONS if not allows(probe.permissions or [], a)]
    if missing:
        found.bad.append(
            f"{name} needs a Marketplace subscription and this identity cannot buy one ({', '.join(missing)})"
        )
        found.fixes.append(
            "give the identity a role with the Marketplace actions named (Owner or Contributor on the "
            "subscription), and make sure the billing account allows Marketplace purchases"
        )
        return False
    found.notes.append(f"{name}: its Marketplace subscription is created before the first job")
    return True


def _foundry_models(probe: Probe) -> Check:
    assert probe.settings is not None
    s = probe.settings
    listed = arm.cognitive(probe).accounts.list_models(
        str(s.azure_resource_group), str(s.azure_openai_account)
    )
    tunable: dict[str, str] = {}
    for m in listed:
        caps = {str(k).lower(): str(v).lower() for k, v in (m.capabilities or {}).items()}
        if caps.get("finetune") == "true" and m.name:
            label = f"{m.name}-{m.version}" if m.version else str(m.name)
            tunable[label] = label
            tunable.setdefault(str(m.name), label)
    found = _Findings()
    configured = [m for m in s.foundry_models if m]
    if not configured:
        names = sorted(set(tunable.values()))
        if not names:
            found.bad.append(f"no model can be fine-tuned on this resource in {probe.region}")
            found.fixes.append(
                "use a resource in a region that offers fine-tuning ('Deploy a fine-tuned model' lists them)"
            )
        else:
            found.ok.append(f"{len(names)} model(s) can be fine-tuned in {probe.region}: {_some(names)}")
        return _verdict(found, strict=True, what="FTBOT_FOUNDRY_MODELS")
    for name in configured:
        if name in tunable:
            found.ok.append(name)
        else:
            found.bad.append(f"{name} cannot be fine-tuned on this resource in {probe.region}")
    if found.bad:
        found.fixes.append(
            f"name models this resource fine-tunes ({_some(sorted(set(tunable.values())))}) "
            "or use a resource in another region"
        )
    return _verdict(found, strict=True, what="FTBOT_FOUNDRY_MODELS")


def _some(names: list[str]) -> str:
    return (
        ", ".join(names[:SHOWN]) + (f" and {len(names) - SHOWN} more" if len(names) > SHOWN else "") or "none"
    )


def _verdict(found: _Findings, *, strict: bool, what: str) -> Check:
    """``strict``: the operator named the models, so any unusable one fails. Otherwise (ftbot's default
    list) one usable model is enough, and the others are a warning."""
    detail = "; ".join(
        part
        for part in (
            ("usable: " + ", ".join(found.ok)) if found.ok else "",
            "; ".join(found.bad),
            "; ".join(found.notes),
        )
        if part
    )
    fix = "; ".join(dict.fromkeys(found.fixes)) or f"Set {what} to models this project can fine-tune."
    fix = fix[:1].upper() + fix[1:] + ("" if fix.endswith(".") else ".")
    if found.bad and (strict or not found.ok):
        return failed("models", detail, fix)
    if found.bad:
        return warned("models", detail, f"Not offered here; {fix[:1].lower()}{fix[1:]}")
    return passed("models", detail)
