"""Local endpoints on disk and their server processes (standard library only: no torch here).

An endpoint is a folder ``<data_dir>/endpoints/<name>/`` with ``config.json`` (model, adapter, quotas),
the key (generated with ``secrets``, mode 0600, never logged), the server's pid and, once the model is
loaded and the socket bound, its port. The state is derived from those files and a health check, so a
restarted bot sees the same endpoints: READY when the server answers, CREATING while it loads, FAILED
when its process has died.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import os
import secrets
import shutil
import threading
from collections.abc import Iterator, Mapping
from typing import Any

from bot.backends.local import files
from bot.backends.local.layout import SERVER_MODULE, DataDir, EndpointDir, marker
from bot.backends.streaming import sse_deltas
from commands.errors import BackendAuthError, Conflict, InvalidInput, NotFound, Unavailable
from commands.models import ChatDelta, ChatReply, ChatRequest, Endpoint, EndpointState, Usage

logger = logging.getLogger(__name__)

_SPAWN_GRACE_S = 30.0


class LocalEndpoints:
    def __init__(self, data: DataDir, *, tokens_per_minute: int, requests_per_minute: int) -> None:
        self.data = data
        self.tokens_per_minute = tokens_per_minute
        self.requests_per_minute = requests_per_minute
        self._lock = threading.RLock()

    # --- queries -----------------------------------------------------------------------------------

    def names(self) -> list[str]:
        if not self.data.endpoints.is_dir():
            return []
        return sorted(p.name for p in self.data.endpoints.iterdir() if (p / "config.json").is_file())

    def serving(self, model: str) -> str | None:
        """The endpoint that serves ``model``, whatever its state (one deployment per model)."""
        for name in self.names():
            config = files.read_json(self.data.endpoint(name).config) or {}
            if config.get("model") == model:
                return name
        return None

    def get(self, name: str) -> Endpoint:
        ep = self.data.endpoint(name)
        config = files.read_json(ep.config)
        if config is None:
            raise NotFound(f"No local endpoint named {name}.")
        created = files.parse_time(config.get("created_at"))
        base = {"name": name, "model": str(config.get("model", "")), "created_at": created}
        if ep.deleting.exists():
            return Endpoint(state=EndpointState.DELETING, **base)
        pid = _read_pid(ep)
        alive = pid is not None and files.process_alive(pid, marker(SERVER_MODULE, ep.path))
        if not alive:
            if (
                pid is None
                and created is not None
                and (files.now() - created).total_seconds() < _SPAWN_GRACE_S
            ):
                return Endpoint(state=EndpointState.CREATING, **base)
            return Endpoint(state=EndpointState.FAILED, error=self._failure(ep, pid), **base)
        port = _read_port(ep)
        if port is not None and _healthy(port):
            return Endpoint(state=EndpointState.READY, scoring_uri=_uri(port), **base)
        return Endpoint(state=EndpointState.CREATING, **base)

    def list(self) -> list[Endpoint]:
        out = []
        for name in self.names():
            with contextlib.suppress(NotFound):
                out.append(self.get(name))
        return out

    # --- commands ----------------------------------------------------------------------------------

    def deploy(self, model: Mapping[str, Any], name: str, *, threads: int) -> Endpoint:
        model_name = str(model["name"])
        with self._lock:
            existing = self.serving(model_name)
            if existing == name:
                return self.get(name)  # the same request again
            if existing is not None:
                raise Conflict(
                    f"Model {model_name} already has a deployment, {existing}: one deployment per model. "
                    f"Tear it down first.",
                    existing=existing,
                )
            ep = self.data.endpoint(name)
            if ep.config.exists():
                raise Conflict(f"An endpoint named {name} already serves another model.", existing=name)
            self.data.endpoints.mkdir(parents=True, exist_ok=True)
            try:
                ep.path.mkdir()
            except FileExistsError:  # a leftover without config: take it over
                shutil.rmtree(ep.path, ignore_errors=True)
                ep.path.mkdir()
            fd = os.open(ep.key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(secrets.token_urlsafe(32) + "\n")
            files.atomic_write_json(
                ep.config,
                {
                    "name": name,
                    "model": model_name,
                    "base_model": model.get("base_model"),
                    "base_path": model["base_path"],
                    "builtin": bool(model.get("builtin")),
                    "builtin_name": model.get("builtin_name"),
                    "adapter_path": model["adapter_path"],
                    "tokens_per_minute": self.tokens_per_minute,
                    "requests_per_minute": self.requests_per_minute,
                    "threads": threads,
                    "created_at": files.now().isoformat(),
                },
            )
            try:
                proc = files.spawn(
                    ["-m", SERVER_MODULE, str(ep.path)],
                    log_path=ep.log,
                    env={"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)},
                )
            except OSError as e:
                files.atomic_write_json(
                    ep.failed, {"error": f"could not start the server: {e.strerror or e}"}
                )
            else:
                files.atomic_write_text(ep.pid, f"{proc.pid}\n")
                logger.info("local endpoint %s: server pid %d", name, proc.pid)
        return self.get(name)

    def delete(self, name: str) -> None:
        ep = self.data.endpoint(name)
        if not ep.path.exists():
            return
        with self._lock:
            if not ep.path.exists():
                return
            with contextlib.suppress(OSError):
                files.atomic_write_text(ep.deleting, files.now().isoformat() + "\n")
            pid = _read_pid(ep)
            if pid is not None:
                files.stop_process_group(pid, marker(SERVER_MODULE, ep.path), grace=5.0)
            shutil.rmtree(ep.path, ignore_errors=True)
            logger.info("local endpoint %s: torn down", name)

    def stop_all(self) -> None:
        for name in self.names():
            self.delete(name)

    def chat(
        self, name: str, request: ChatRequest, *, timeout: float = 300.0, model: str | None = None
    ) -> ChatReply:
        """One answer from the endpoint; ``model`` set to the base model's name asks the same process for
        the base model's answer, without the fine-tuned adapter."""
        endpoint = self.get(name)
        if endpoint.state is not EndpointState.READY:
            detail = f": {endpoint.error}" if endpoint.error else ""
            raise Unavailable(f"Endpoint {name} is {endpoint.state.value}, not ready{detail}.")
        ep = self.data.endpoint(name)
        port = _read_port(ep)
        key = ep.key.read_text(encoding="utf-8").strip()
        body = json.dumps(
            {
                "messages": [m.model_dump() for m in request.messages],
                "temperature": request.temperature,
                "max_tokens": request.max_tokens,
                **({"model": model} if model else {}),
            }
        )
        conn = http.client.HTTPConnection("127.0.0.1", port or 0, timeout=timeout)
        try:
            conn.request(
                "POST",
                "/v1/chat/completions",
                body=body,
                headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
            )
            resp = conn.getresponse()
            raw = resp.read()
        except OSError as e:
            raise Unavailable(f"Endpoint {name} did not answer: {e.strerror or type(e).__name__}.") from e
        finally:
            conn.close()
        data = _json(raw)
        message = str((data.get("error") or {}).get("message") or f"HTTP {resp.status}")
        if resp.status == 429:
            retry = resp.getheader("Retry-After")
            raise Unavailable(f"Endpoint {name} is over its quota: {message}", retry_after=_float(retry))
        if resp.status == 401:
            raise BackendAuthError(f"Endpoint {name} refused its key.")
        if resp.status == 400:
            raise InvalidInput(message)
        if resp.status != 200:
            raise Unavailable(f"Endpoint {name} failed: {message}")
        try:
            choice = data["choices"][0]
            usage = data.get("usage") or {}
            return ChatReply(
                content=str(choice["message"]["content"]),
                finish_reason=choice.get("finish_reason"),
                usage=Usage(
                    prompt_tokens=int(usage.get("prompt_tokens", 0)),
                    completion_tokens=int(usage.get("completion_tokens", 0)),
                    total_tokens=int(usage.get("total_tokens", 0)),
                ),
            )
        except (KeyError, IndexError, TypeError, ValueError) as e:
            raise Unavailable(f"Endpoint {name} sent a reply ftbot does not understand.") from e

    def chat_stream(
        self, name: str, request: ChatRequest, *, timeout: float = 300.0, model: str | None = None
    ) -> Iterator[ChatDelta]:
        """The answer as the endpoint generates it (``stream: true``, OpenAI's server-sent events); the
        last piece carries the finish reason and the usage. Errors as ``chat``'s, raised before the first
        piece when the endpoint refuses the request."""
        endpoint = self.get(name)
        if endpoint.state is not EndpointState.READY:
            raise Unavailable(f"Endpoint {name} is {endpoint.state.value}, not ready.")
        ep = self.data.endpoint(name)
        key = ep.key.read_text(encoding="utf-8").strip()
        body = {
            "messages": [m.model_dump() for m in request.messages],
            "temperature": request.temperature,
            "max_tokens": request.max_tokens,
            "stream": True,
            "stream_options": {"include_usage": True},
            **({"model": model} if model else {}),
        }
        conn = http.client.HTTPConnection("127.0.0.1", _read_port(ep) or 0, timeout=timeout)
        try:
            conn.request(
                "POST",
                "/v1/chat/completions",
                body=json.dumps(body),
                headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
            )
            resp = conn.getresponse()
            if resp.status != 200:
                data = _json(resp.read())
                message = str((data.get("error") or {}).get("message") or f"HTTP {resp.status}")
                if resp.status == 400:
                    raise InvalidInput(message)
                raise Unavailable(f"Endpoint {name} failed: {message}")
            yield from sse_deltas(iter(resp.readline, b""))
        except OSError as e:
            raise Unavailable(f"Endpoint {name} did not answer: {e.strerror or type(e).__name__}.") from e
        finally:
            conn.close()

    # --- helpers -----------------------------------------------------------------------------------

    @staticmethod
    def _failure(ep: EndpointDir, pid: int | None) -> str:
        failed = files.read_json(ep.failed)
        if failed and failed.get("error"):
            return f"The endpoint server failed to start: {failed['error']}"
        how = (files.exit_description(pid) if pid is not None else None) or "it is no longer running"
        reason = f"The endpoint server stopped ({how})."
        last = files.tail(ep.log, lines=1)
        if last:
            reason += f" Last output: {last[0][:300]}"
        return reason


def _uri(port: int) -> str:
    return f"http://127.0.0.1:{port}/v1/chat/completions"


def _read_pid(ep: EndpointDir) -> int | None:
    try:
        return int(ep.pid.read_text().strip())
    except (OSError, ValueError):
        return None


def _read_port(ep: EndpointDir) -> int | None:
    try:
        return int(ep.port.read_text().strip())
    except (OSError, ValueError):
        return None


def _healthy(port: int, timeout: float = 2.0) -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", "/healthz")
        resp = conn.getresponse()
        resp.read()
        return resp.status == 200
    except OSError:
        return False
    finally:
        conn.close()


def _json(raw: bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw or b"{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None
