"""The ``prices`` check: FTBOT_PRICES loads, and every offered base model has a price (a model without
one is shown with token counts only, which is worth a warning, never a failure)."""

from __future__ import annotations

from bot.doctor.probe import Probe
from commands.costs.prices import PriceFileError, load_prices
from commands.doctor import Check, failed, passed, skipped, warned

FIX = "Add each model to the price file (deploy/prices.example.yaml shows the shape and the sources)."


def offered_names(probe: Probe) -> list[str]:
    """The base models ftbot offers, by the names ``/finetune models`` shows, read without the network:
    the local catalogue, or the model lists the Azure backends are configured with."""
    assert probe.settings is not None
    s = probe.settings
    if s.backend == "local":
        from bot.backends.local.catalog import offered_models

        return [m.name for m in offered_models(s.local_models)]
    return list(s.azure_models if s.backend == "azure" else s.foundry_models)


def check_prices(probe: Probe) -> Check:
    assert probe.settings is not None
    path = probe.settings.prices
    if path is None:
        return skipped("prices", "FTBOT_PRICES is not set: costs show token counts only")
    try:
        table = load_prices(path)
    except PriceFileError as e:
        return failed(
            "prices",
            f"FTBOT_PRICES: {e.message}",
            "Fix the line named above; `ftbot serve` refuses the file.",
        )
    offered = offered_names(probe)
    missing = [name for name in offered if name not in table.models]
    priced = f"{len(table.models)} model(s) priced in {table.currency}"
    if missing:
        return warned("prices", f"{priced}; no price for {', '.join(missing[:10])}", FIX)
    return passed("prices", priced + (f", every offered model included ({len(offered)})" if offered else ""))
