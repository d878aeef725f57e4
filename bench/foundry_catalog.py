"""Foundry base-model catalogue latency for Slack option loads (budget: answer within 3 s).

Runs ``FoundryBackend.list_base_models`` on a real ``openai`` client against the wire fake of an Azure
OpenAI resource (tests/fakes/foundry.py), with a per-request delay standing in for the round trip to
``GET {endpoint}/openai/v1/models``, and compares:

* baseline: no cache (``catalog_ttl_s=0``): every option load lists the resource's models again;
* ftbot: the TTL cache: one listing per TTL (cold), then answers from memory (warm).

Usage: ``.venv/bin/python bench/foundry_catalog.py [--latency 0.3] [--models 150] [--loads 20]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fakes.foundry import FakeFoundry, make_foundry


def run(label: str, latency: float, n_models: int, loads: int, ttl: float) -> None:
    fake = FakeFoundry()
    for i in range(n_models):  # a resource lists many models; about a third can be fine-tuned
        fake.add_model(f"model-{i:03d}", fine_tune=i % 3 == 0)
    fake.latency_s = latency
    backend, _, _ = make_foundry(fake, catalog_ttl_s=ttl)
    times = []
    for _ in range(loads):
        start = time.perf_counter()
        found = backend.list_base_models()
        times.append(time.perf_counter() - start)
    assert len(found) == 2 + (n_models + 2) // 3
    warm = times[1:]
    median, worst = statistics.median(warm) * 1000, max(warm) * 1000
    print(
        f"{label:<22} cold {times[0] * 1000:8.1f} ms | later loads: median {median:9.3f} ms,"
        f" max {worst:9.3f} ms | requests {len(fake.requests_to('GET', '^/models$'))}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency", type=float, default=0.3, help="seconds per request (Azure round trip)")
    parser.add_argument("--models", type=int, default=150, help="models the resource lists")
    parser.add_argument("--loads", type=int, default=20)
    args = parser.parse_args()
    print(f"{args.models} models listed, {args.latency * 1000:.0f} ms per request, {args.loads} option loads")
    run("baseline (no cache)", args.latency, args.models, args.loads, ttl=0)
    run("ftbot (TTL cache)", args.latency, args.models, args.loads, ttl=3600)


if __name__ == "__main__":
    main()
