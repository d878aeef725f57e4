"""The Azure AI Foundry project ftbot works in: the ``MLClient`` for the project, one client per model
registry, and the project's own facts (region, workspace id, MLflow tracking URI).

Every ``MLClient`` ftbot builds takes ``client_options``: azure-core's retry policy, telemetry off.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from azure.ai.ml import MLClient

from bot.backends.azure.errors import azure_errors
from commands.errors import NotFound


def client_options(
    *,
    retry_total: int = 3,
    retry_backoff_factor: float = 0.8,
    polling_interval: float | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Keyword arguments for every ``MLClient`` ftbot builds: azure-core's own retry policy (it backs off on
    429 and 5xx and honours Retry-After), telemetry off. Tests pass ``retry_total=0, polling_interval=0``."""
    options: dict[str, Any] = {
        "retry_total": retry_total,
        "retry_backoff_factor": retry_backoff_factor,
        "retry_backoff_max": 30,
        "enable_telemetry": False,
        "show_progress": False,  # no tqdm upload bars on the bot's (or `ftbot submit --json`'s) stdout
        **extra,
    }
    if polling_interval is not None:
        options["polling_interval"] = polling_interval
    return options


def cheap_experimental_check() -> None:
    """azure-ai-ml calls ``inspect.stack()`` on every call of an ``@experimental`` class or method (serverless
    endpoints, marketplace subscriptions, fine-tuning jobs) only to decide whether to log its "experimental"
    warning; ``inspect.stack()`` reads the source of every frame and costs 50-500 ms a call. Replace that
    check with the same test (is ``_from_rest_object`` on the stack?) done on frame objects. Idempotent; if a
    future azure-ai-ml drops the private function, nothing is patched."""
    try:
        from azure.ai.ml._utils import _experimental
    except ImportError:  # pragma: no cover - layout of a future azure-ai-ml
        return
    if not hasattr(_experimental, "_should_skip_warning") or getattr(
        _experimental._should_skip_warning, "_ftbot", False
    ):
        return

    def _should_skip_warning() -> bool:
        frame = sys._getframe(1)
        while frame is not None:
            if frame.f_code.co_name == "_from_rest_object":
                return True
            frame = frame.f_back  # type: ignore[assignment]
        return False

    _should_skip_warning._ftbot = True  # type: ignore[attr-defined]
    _experimental._should_skip_warning = _should_skip_warning


def parse_time(value: object) -> datetime | None:
    """A timestamp from an azure-ai-ml entity (a ``datetime`` or an ISO string), always timezone-aware."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True)
class WorkspaceInfo:
    """``location`` as ``Workspace.location`` writes it (lower case, no spaces: ``eastus2``)."""

    location: str
    guid: str
    mlflow_tracking_uri: str | None


class FoundryProject:
    """The project's client (``ws``) and the registry clients, shared by the catalogue, jobs and endpoints.
    Thread-safe: registry clients and the workspace facts are created once, on first use."""

    def __init__(
        self,
        workspace: MLClient,
        registries: Mapping[str, MLClient] | None = None,
        registry_factory: Callable[[str], MLClient] | None = None,
    ) -> None:
        self.ws = workspace
        self.registry_factory = registry_factory
        self._registries: dict[str, MLClient] = dict(registries or {})
        self._lock = threading.RLock()
        self._info: WorkspaceInfo | None = None

    def registry(self, name: str) -> MLClient:
        """The client for a model registry; built by ``registry_factory`` the first time (its constructor
        calls the registry discovery service)."""
        with self._lock:
            client = self._registries.get(name)
            if client is not None:
                return client
            if self.registry_factory is None:
                raise NotFound(f"The model registry {name} is not configured for ftbot.")
            with azure_errors(f"The model registry {name}"):
                client = self.registry_factory(name)
            self._registries[name] = client
            return client

    def workspace(self) -> WorkspaceInfo:
        with self._lock:
            if self._info is None:
                with azure_errors("The Azure AI Foundry project"):
                    ws = self.ws.workspaces.get(self.ws.workspace_name)
                self._info = WorkspaceInfo(
                    location=str(ws.location or "").lower().replace(" ", ""),
                    guid=str(getattr(ws, "_workspace_id", "") or ""),
                    mlflow_tracking_uri=getattr(ws, "mlflow_tracking_uri", None),
                )
            return self._info
