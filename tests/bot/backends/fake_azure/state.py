"""The fake Azure ML service's state, shared by its route mixins."""

from __future__ import annotations

import itertools
import threading
from typing import Any

from tests.bot.backends.fake_azure.wire import (
    LOCATION,
    Injected,
    Recorded,
)


class ServiceState:
    """What the fake service holds: jobs, models, data, blobs, endpoints, subscriptions, registries, and
    the requests it was sent. The route mixins (``jobs``, ``storage``, ``endpoints``, ``registries``) read
    and change it under ``_lock``."""

    def __init__(self, *, location: str = LOCATION, lro_polls: int = 1, latency_s: float = 0.0) -> None:
        self.location = location
        self.latency_s = latency_s  # per request, outside the lock: a stand-in for Azure's round trips
        self.lro_polls = lro_polls
        self.requests: list[Recorded] = []
        self.jobs: dict[str, dict[str, Any]] = {}
        self.job_errors: dict[str, str] = {}  # job name → error message when it fails
        self.fail_models: dict[str, str] = {}  # base model name → failure message for jobs training it
        self.slow_jobs: set[str] = set()  # jobs that stay Running until cancelled
        self.models: dict[
            str, dict[str, Any]
        ] = {}  # ws model name → {"archived": bool, "versions": {v: body}}
        self.data: dict[tuple[str, str], dict[str, Any]] = {}
        self.blobs: dict[str, bytes] = {}
        self.blob_metadata: dict[str, dict[str, str]] = {}
        self.endpoints: dict[str, dict[str, Any]] = {}
        self.endpoint_keys: dict[str, dict[str, str]] = {}
        self.subscriptions: dict[str, dict[str, Any]] = {}
        self.registries: dict[str, dict[str, list[dict[str, Any]]]] = {}
        self._operations: dict[str, dict[str, Any]] = {}
        self._injected: list[Injected] = []
        self._lock = threading.RLock()
        self._ids = itertools.count(1)
