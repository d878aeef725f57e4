"""Every backend operation counted and timed (``ftbot_backend_calls_total``, ``ftbot_backend_call_seconds``)
and the backend's credentials watched: ``build_backend`` wraps the backend it built in ``Observed`` when
metrics or on-call paging are on.

The wrapper delegates every attribute, and ``observe`` gives it the optional ports' methods (pausing,
checkpoints, tiers, tokenizers, service datasets) as real methods exactly when the wrapped backend has
them: Python 3.12's ``isinstance`` on a runtime-checkable Protocol looks methods up statically, past
``__getattr__``.

The operation label is the method's name (a fixed set) and
the result ``ok`` or ``error`` (any exception, a typed refusal such as ``NotFound`` included: the alert
on backend errors is on their share of all calls, RUNBOOK.md).
"""

from __future__ import annotations

import contextlib
import functools
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from commands.errors import BackendAuthError

_families: tuple[Any, Any] | None = None
_lock = threading.Lock()


def _metric_families() -> tuple[Any, Any]:
    """Created on first use, after the runtime chose prometheus-client's multiprocess values."""
    global _families
    with _lock:
        if _families is None:
            from prometheus_client import Counter, Histogram

            _families = (
                Counter(
                    "ftbot_backend_calls_total", "backend operations", ["backend", "operation", "result"]
                ),
                Histogram(
                    "ftbot_backend_call_seconds",
                    "backend operation latency",
                    ["backend", "operation"],
                    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
                ),
            )
        return _families


#: the methods of commands.ports' optional backend protocols
OPTIONAL = (
    "pause_job",
    "resume_job",
    "list_checkpoints",
    "training_tiers",
    "deployment_skus",
    "tokenizer_for",
    "deploy_targets",
    "check_target",
    "endpoints_at",
    "list_datasets",
    "get_dataset",
    "download_dataset",
)


#: the optional methods that return a stream (``StreamingChat``): a call is counted and timed once its
#: stream ends, and an error between pieces counts as the call's
STREAMS = ("chat_stream",)


def observe(backend: Any, *, metrics: bool) -> Observed:
    """``backend`` seen through ``Observed``, with exactly the optional methods ``backend`` has."""
    present = {name: _forward(name) for name in OPTIONAL if callable(getattr(backend, name, None))}
    present |= {name: _forward_stream(name) for name in STREAMS if callable(getattr(backend, name, None))}
    cls = type("Observed", (Observed,), present) if present else Observed
    observed: Observed = cls(backend, metrics=metrics)
    return observed


def _forward(name: str) -> Callable[..., Any]:
    def method(self: Observed, *args: Any, **kwargs: Any) -> Any:
        return self._wrap(name, getattr(self._inner, name))(*args, **kwargs)

    method.__name__ = name
    return method


def _forward_stream(name: str) -> Callable[..., Iterator[Any]]:
    def method(self: Observed, *args: Any, **kwargs: Any) -> Iterator[Any]:
        with self._observing(name):
            yield from getattr(self._inner, name)(*args, **kwargs)

    method.__name__ = name
    return method


class Observed:
    """A ``FineTuningBackend`` seen through: calls counted and timed, credential failures remembered."""

    def __init__(self, inner: Any, *, metrics: bool) -> None:
        self._inner = inner
        self._metrics = metrics
        self.kind: str = str(getattr(inner, "kind", "unknown"))
        #: the service's words when the backend last refused ftbot's credentials; None once a call works
        self.credential_problem: str | None = None

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._inner, name)
        if name.startswith("_") or not callable(value):
            return value
        return self._wrap(name, value)

    def _wrap(self, operation: str, call: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(call)
        def observed(*args: Any, **kwargs: Any) -> Any:
            with self._observing(operation):
                return call(*args, **kwargs)

        return observed

    @contextlib.contextmanager
    def _observing(self, operation: str) -> Iterator[None]:
        started = time.perf_counter()
        result = "ok"
        try:
            yield
        except BackendAuthError as e:
            result = "error"
            self.credential_problem = e.message
            raise
        except Exception:
            result = "error"
            raise
        else:
            self.credential_problem = None
        finally:
            if self._metrics:
                calls, seconds = _metric_families()
                calls.labels(self.kind, operation, result).inc()
                seconds.labels(self.kind, operation).observe(time.perf_counter() - started)
