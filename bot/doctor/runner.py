"""The checks in their order, which backend each applies to, what each needs to have passed first, and
the boundary that turns an unexpected error into a failed check (never a crash, never a secret)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.doctor.azure_checks import (
    check_credential,
    check_project,
    check_providers,
    check_role,
    check_subscription,
)
from bot.doctor.config_checks import check_local_models, check_settings
from bot.doctor.models_check import check_models
from bot.doctor.prices_check import check_prices
from bot.doctor.probe import Probe
from bot.doctor.slack_check import check_slack
from bot.doctor.store_check import check_store
from commands.doctor import Check, Report, Status, failed, skipped

log = logging.getLogger("ftbot.doctor")
AZURE = ("azure", "foundry")
ANY = ("local", "azure", "foundry")


@dataclass(frozen=True)
class CheckSpec:
    name: str
    run: Callable[[Probe], Check]
    backends: tuple[str, ...] = ANY
    needs: tuple[str, ...] = ()  # checks that must pass (or warn) first
    cheap: bool = True  # run by ``ftbot serve`` at start (no per-model registry round trips)
    own_skip: bool = False  # the check says itself why it does not apply


CHECKS: tuple[CheckSpec, ...] = (
    CheckSpec("settings", check_settings),
    CheckSpec("credential", check_credential, AZURE, ("settings",)),
    CheckSpec("subscription", check_subscription, AZURE, ("credential",)),
    CheckSpec("providers", check_providers, AZURE, ("subscription",)),
    CheckSpec("project", check_project, AZURE, ("subscription",)),
    CheckSpec("role", check_role, AZURE, ("subscription",)),
    CheckSpec("models", check_models, AZURE, ("project", "role"), cheap=False),
    CheckSpec("slack", check_slack),
    CheckSpec("store", check_store),
    CheckSpec("local_models", check_local_models, cheap=False, own_skip=True),
    CheckSpec("prices", check_prices, own_skip=True),
)
NAMES: tuple[str, ...] = tuple(spec.name for spec in CHECKS)


def run_doctor(probe: Probe, *, cheap_only: bool = False, checks: Sequence[CheckSpec] = CHECKS) -> Report:
    """Every check, in order. ``cheap_only``: the expensive ones are reported as skipped."""
    results: dict[str, Check] = {}
    for spec in checks:
        results[spec.name] = _one(spec, probe, results, cheap_only)
    return Report(tuple(results.values()))


def _one(spec: CheckSpec, probe: Probe, done: dict[str, Check], cheap_only: bool) -> Check:
    if probe.settings is None and spec.name != "settings":
        return skipped(spec.name, "needs settings that load (see settings)")
    if probe.settings is not None and not spec.own_skip and probe.backend not in spec.backends:
        return skipped(spec.name, f"not used by the {probe.backend} backend")
    if cheap_only and not spec.cheap:
        return skipped(spec.name, "not run at start; `ftbot doctor` runs it")
    blocked = [
        n for n in spec.needs if done.get(n) is None or done[n].status not in (Status.PASS, Status.WARN)
    ]
    if blocked:
        return skipped(spec.name, f"needs {' and '.join(blocked)} to pass first")
    try:
        return spec.run(probe)
    except Exception as e:  # a check that cannot finish is a failed check, with a reason and no secret
        log.debug("doctor check %s failed unexpectedly", spec.name, exc_info=True)
        reason = probe.redact(next((ln for ln in str(e).splitlines() if ln.strip()), ""))[:240]
        return failed(
            spec.name,
            f"could not check: {type(e).__name__}" + (f": {reason}" if reason else ""),
            "Run `ftbot doctor` again; if it repeats, run with FTBOT_LOG_LEVEL=DEBUG and read the traceback.",
        )
