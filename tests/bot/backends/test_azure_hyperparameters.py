"""The one portal → service hyperparameter table."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.backends.azure.hyperparameters import (
    BASE_LEARNING_RATE,
    HYPERPARAMETER_MAP,
    from_service_hyperparameters,
    to_service_hyperparameters,
)
from commands.models import Hyperparameters


def test_the_table_names_each_portal_parameter_once() -> None:
    assert {k: v[0] for k, v in HYPERPARAMETER_MAP.items()} == {
        "batch_size": "per_device_train_batch_size",
        "learning_rate_multiplier": "learning_rate",
        "n_epochs": "num_train_epochs",
    }
    assert Decimal("0.00002") == BASE_LEARNING_RATE  # Microsoft's MaaS sample value


def test_custom_values_become_strings_and_defaults_are_not_sent() -> None:
    assert to_service_hyperparameters(Hyperparameters()) == {}
    assert to_service_hyperparameters(Hyperparameters(n_epochs=3)) == {"num_train_epochs": "3"}
    out = to_service_hyperparameters(Hyperparameters(batch_size=8, learning_rate_multiplier=1, n_epochs=1))
    assert out == {"per_device_train_batch_size": "8", "learning_rate": "0.00002", "num_train_epochs": "1"}
    assert all(isinstance(v, str) for v in out.values())


@pytest.mark.parametrize(
    ("multiplier", "rate"),
    [(1.0, "0.00002"), (0.5, "0.00001"), (2.5, "0.00005"), (0.1, "0.000002"), (10, "0.0002")],
)
def test_learning_rate_is_base_times_multiplier_in_plain_decimal(multiplier: float, rate: str) -> None:
    hp = Hyperparameters(learning_rate_multiplier=multiplier)
    assert to_service_hyperparameters(hp) == {"learning_rate": rate}
    assert from_service_hyperparameters({"learning_rate": rate}).learning_rate_multiplier == pytest.approx(
        multiplier
    )


def test_inverse_accepts_service_or_portal_names() -> None:
    hp = from_service_hyperparameters(
        {
            "num_train_epochs": "2",
            "per_device_train_batch_size": "4",
            "learning_rate": "0.00003",
            "lora_r": "8",
        }
    )
    assert hp == Hyperparameters(n_epochs=2, batch_size=4, learning_rate_multiplier=1.5)
    assert from_service_hyperparameters(
        {"n_epochs": "5", "learning_rate_multiplier": "0.7"}
    ) == Hyperparameters(n_epochs=5, learning_rate_multiplier=0.7)
