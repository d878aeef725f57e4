"""The one table from the portal's hyperparameter names to what azure-ai-ml sends for serverless fine-tuning.

Users speak the portal's words (the wizard of Microsoft's "Fine-tune models using serverless API deployments
in Azure AI Foundry": *batch_size*, *learning_rate_multiplier*, *n_epochs*, each Default or Custom). For
the ``Custom`` model provider that ``create_finetuning_job`` uses, the SDK forwards ``hyperparameters``
verbatim as ``Dict[str, str]`` and validates nothing; Microsoft's MaaS samples, the SDK's test configs and
its recordings all send Hugging Face trainer names as strings:

==========================  ================================  =============================================
portal name (ftbot)         sent to the service               value
==========================  ================================  =============================================
``batch_size``              ``per_device_train_batch_size``   the integer, as a string (``"4"``)
``learning_rate_multiplier``  ``learning_rate``               ``BASE_LEARNING_RATE × multiplier``, as a
                                                              string in plain decimal (``"0.00002"``)
``n_epochs``                ``num_train_epochs``              the integer, as a string (``"3"``)
==========================  ================================  =============================================

A parameter left at Default (``None``) is not sent at all, so the service chooses it.

**Base learning rate.** The service takes an absolute learning rate, the portal a multiplier. ftbot turns one
into the other with ``BASE_LEARNING_RATE = 2e-5``: the learning rate of Microsoft's MaaS sample and of the
SDK's recorded FineTuning jobs (``"learning_rate": "0.00002"``), so a multiplier of 1 sends exactly what the
sample sends. The service validates the values; a value it refuses comes back as a 400 ``UserError`` that
``bot.backends.azure.errors`` turns into ``InvalidInput`` with the service's message.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Final

from commands.models import Hyperparameters

#: learning rate that a ``learning_rate_multiplier`` of 1.0 stands for (Microsoft's MaaS sample value)
BASE_LEARNING_RATE: Final = Decimal("0.00002")


def _integer(value: float) -> str:
    return str(int(value))


def _learning_rate(multiplier: float) -> str:
    rate = BASE_LEARNING_RATE * Decimal(repr(multiplier))
    text = format(rate.normalize(), "f")
    return text


#: portal name → (SDK/service name, how the value is written). The only place this mapping lives.
HYPERPARAMETER_MAP: Final[dict[str, tuple[str, Callable[[float], str]]]] = {
    "batch_size": ("per_device_train_batch_size", _integer),
    "learning_rate_multiplier": ("learning_rate", _learning_rate),
    "n_epochs": ("num_train_epochs", _integer),
}


def to_service_hyperparameters(hp: Hyperparameters) -> dict[str, str]:
    """The ``hyperparameters`` dict for ``create_finetuning_job``: only the Custom values, all strings."""
    out: dict[str, str] = {}
    for portal_name, (service_name, write) in HYPERPARAMETER_MAP.items():
        value = getattr(hp, portal_name)
        if value is not None:
            out[service_name] = write(value)
    return out


def from_service_hyperparameters(values: dict[str, str]) -> Hyperparameters:
    """The inverse, for jobs read back or CLI YAML written with the service's names. Unknown names are
    ignored; the portal's own names are accepted too."""
    kwargs: dict[str, float | int] = {}
    for portal_name, (service_name, _) in HYPERPARAMETER_MAP.items():
        raw = values.get(service_name, values.get(portal_name))
        if raw is None or str(raw).strip() == "":
            continue
        number = float(raw)
        if portal_name == "learning_rate_multiplier":
            kwargs[portal_name] = (
                number if service_name not in values else float(Decimal(str(raw)) / BASE_LEARNING_RATE)
            )
        else:
            kwargs[portal_name] = int(number)
    return Hyperparameters(**kwargs)
