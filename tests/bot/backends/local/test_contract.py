"""The shared Protocol suite, run against the local backend with real training of ftbot-tiny."""

from __future__ import annotations

import pytest

from tests.contract.backend_suite import BackendContract

pytestmark = pytest.mark.slow


class TestLocalContract(BackendContract):
    """``harness`` comes from conftest.py: a LocalBackend on a throwaway data dir."""
