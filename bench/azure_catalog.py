"""Base-model catalogue latency for Slack option loads (budget: answer within 3 s).

Runs ``AzureBackend.list_base_models`` against the in-process fake Azure ML service with a per-request delay
standing in for Azure's round trips, and compares:

* baseline: no cache (``catalog_ttl_s=0``): every option load resolves each model from its registry;
* ftbot: the TTL cache: one load per TTL, then answers from memory.

Usage: ``.venv/bin/python bench/azure_catalog.py [--latency 0.15] [--models 10] [--loads 20]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from azure.ai.ml import MLClient

from bot.backends.azure.backend import AzureBackend
from bot.backends.azure.catalogue import DEPLOY_REGIONS_TAG
from bot.backends.azure.project import client_options
from tests.bot.backends.fake_azure import (
    RESOURCE_GROUP,
    SUBSCRIPTION,
    WORKSPACE,
    FakeAzureML,
    FakeCredential,
)


def build(latency: float, n_models: int, ttl: float) -> tuple[AzureBackend, FakeAzureML]:
    fake = FakeAzureML()
    models = []
    for i in range(n_models):
        registry = "azureml" if i % 2 else "azureml-meta"
        fake.add_registry_model(registry, f"Model-{i}", "3", tags={DEPLOY_REGIONS_TAG: "eastus2"})
        models.append(f"{registry}/Model-{i}")
    fake.latency_s = latency
    options = client_options(retry_total=0, polling_interval=0, transport=fake.transport())
    cred = FakeCredential()
    ws = MLClient(cred, SUBSCRIPTION, RESOURCE_GROUP, WORKSPACE, **options)
    backend = AzureBackend(
        ws,
        registry_factory=lambda name: MLClient(cred, registry_name=name, **options),
        models=models,
        catalog_ttl_s=ttl,
    )
    return backend, fake


def run(label: str, latency: float, n_models: int, loads: int, ttl: float) -> None:
    backend, fake = build(latency, n_models, ttl)
    times = []
    for _ in range(loads):
        start = time.perf_counter()
        found = backend.list_base_models()
        times.append(time.perf_counter() - start)
        assert len(found) == n_models
    warm = times[1:]
    median, worst = statistics.median(warm) * 1000, max(warm) * 1000
    print(
        f"{label:<22} first {times[0] * 1000:8.1f} ms | later loads: median {median:9.3f} ms,"
        f" max {worst:9.3f} ms | requests {len(fake.requests)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency", type=float, default=0.15, help="seconds per request (Azure round trip)")
    parser.add_argument("--models", type=int, default=10)
    parser.add_argument("--loads", type=int, default=20)
    args = parser.parse_args()
    print(f"{args.models} models, {args.latency * 1000:.0f} ms per request, {args.loads} option loads")
    run("baseline (no cache)", args.latency, args.models, args.loads, ttl=0)
    run("ftbot (TTL cache)", args.latency, args.models, args.loads, ttl=3600)


if __name__ == "__main__":
    main()
