"""The checks that read only this machine: the settings (check 1) and the local backend's models (after
the nine). No value is ever echoed, only the variable's name."""

from __future__ import annotations

import re

from bot.doctor.probe import Probe
from commands.doctor import Check, failed, passed, skipped, warned

SUBSCRIPTION_ID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
#: Azure's naming rules: resource group 1-90 of letters, digits, ``_-.()`` (no trailing dot); a hub-based
#: project (an Azure ML workspace) 3-33, starting alphanumeric; a Cognitive Services account 2-64
RESOURCE_GROUP = re.compile(r"^[-\w.()]{0,89}[-\w()]$")
PROJECT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{2,32}$")
ACCOUNT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{1,63}$")
SETTINGS_FIX = "Set each variable named above (README.md, 'Configuration', says what each one holds)."


def check_settings(probe: Probe) -> Check:
    if probe.settings is None:
        return failed(
            "settings", "; ".join(probe.settings_errors) or "the settings did not load", SETTINGS_FIX
        )
    s = probe.settings
    problems = s.serve_problems()
    if s.backend in ("azure", "foundry"):
        problems.extend(_azure_shapes(probe))
    if problems:
        return failed("settings", "; ".join(problems), SETTINGS_FIX)
    mode = "Socket Mode" if s.socket_mode else "HTTP mode"
    approvers = f"{len(s.approvers)} approver id(s)" if s.approvers else "no approvers (nobody can deploy)"
    detail = f"{s.backend} backend, Slack in {mode}, {approvers}"
    if not s.approvers:
        return warned(
            "settings", detail, "Set FTBOT_APPROVERS to the Slack user or user-group ids who approve."
        )
    return passed("settings", detail)


def _azure_shapes(probe: Probe) -> list[str]:
    """Well-formedness of the Azure names (presence is ``serve_problems``' and the model validator's job)."""
    assert probe.settings is not None
    s = probe.settings
    shapes = [
        ("AZURE_SUBSCRIPTION_ID", s.azure_subscription_id, SUBSCRIPTION_ID, "a subscription id (a GUID)"),
        ("AZURE_RESOURCE_GROUP", s.azure_resource_group, RESOURCE_GROUP, "a resource group name"),
    ]
    if s.backend == "azure":
        shapes.append(("AZURE_AI_PROJECT", s.azure_ai_project, PROJECT, "a project name (3-33 characters)"))
    else:
        shapes.append(("AZURE_OPENAI_ACCOUNT", s.azure_openai_account, ACCOUNT, "a resource name"))
    return [
        f"{name} is not {what}" for name, value, pattern, what in shapes if value and not pattern.match(value)
    ]


def check_local_models(probe: Probe) -> Check:
    """The local backend's base models (``bot.backends.local.catalog``): folders that hold no model fail;
    the real model's optional extra missing is worth a warning."""
    if probe.backend != "local":
        return skipped("local_models", f"the {probe.backend or 'configured'} backend trains no local model")
    assert probe.settings is not None
    from bot.backends.local.catalog import cpu_bf16, missing_hint, offered_models, resolve_precision

    offered = offered_models(probe.settings.local_models)
    broken = [m.name for m in offered if not m.builtin and "not found" in m.description]
    setting = probe.settings.local_precision
    native = "native bfloat16" if cpu_bf16() else "no native bfloat16"
    names = (
        ", ".join(m.name for m in offered)
        + f"; training on CPU in {resolve_precision(setting)} (FTBOT_LOCAL_PRECISION={setting}, {native})"
    )
    if broken:
        return failed(
            "local_models",
            f"FTBOT_LOCAL_MODELS names folders with no model in them: {', '.join(broken)}",
            "Point each name at a Hugging Face causal LM folder (it holds config.json), or remove it.",
        )
    hint = missing_hint()
    if hint:
        return warned("local_models", f"offered: {names}", hint)
    return passed("local_models", f"offered: {names}")
