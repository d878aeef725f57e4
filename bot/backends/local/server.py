"""The local endpoint: ``python -m bot.backends.local.server <endpoint_dir>``.

An OpenAI-compatible server for one fine-tuned model, in its own process on a free 127.0.0.1 port:
``POST /v1/chat/completions`` (messages, temperature, max_tokens; usage in the reply) and
``GET /v1/models``, both behind the endpoint's key in the ``Authorization`` header as Azure's serverless
endpoints take it (the bare key or ``Bearer <key>``; anything else → 401). Per-deployment quotas,
tokens and requests per minute → 429 with ``Retry-After``. ``GET /healthz`` (no key) says it is up.
The routes are functions of what the app serves (``_Served``); the OpenAI request and reply shapes are
in ``completions``.

It loads the base model and the LoRA adapter, merges them, then binds the port and writes it to
``<endpoint_dir>/port``: once the port file exists the model is loaded. The key is read from the 0600
key file, never from the command line or the environment, and never logged.
"""

from __future__ import annotations

import os
import sys

from bot.backends.local.files import OFFLINE_ENV

for _k, _v in OFFLINE_ENV.items():
    os.environ.setdefault(_k, _v)

import secrets  # noqa: E402
import socket  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from functools import partial  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from fastapi import FastAPI, Request  # noqa: E402
from fastapi.responses import JSONResponse, StreamingResponse  # noqa: E402
from pydantic import ValidationError  # noqa: E402
from starlette.concurrency import run_in_threadpool  # noqa: E402

from bot.backends.local import files  # noqa: E402
from bot.backends.local.completions import ChatBody, Generator, completion, sse  # noqa: E402
from bot.backends.local.generation import Generation, load_generator  # noqa: E402
from bot.backends.local.layout import EndpointDir  # noqa: E402
from bot.backends.local.quota import RateLimiter, Refusal  # noqa: E402

__all__ = ["Generation", "Generator", "build_app", "load_generator", "main", "serve"]


def _error(status: int, message: str, *, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": str(status), "message": message}}, status_code=status, headers=headers
    )


def _authorized(header: str | None, key: str) -> bool:
    if not header:
        return False
    value = header.strip()
    if value[:7].lower() == "bearer ":
        value = value[7:].strip()
    return secrets.compare_digest(value.encode(), key.encode())


def _chat_body(raw: object) -> ChatBody | JSONResponse:
    """The request body, or the 400 that says what is wrong with it."""
    try:
        return ChatBody.model_validate(raw)
    except ValidationError as e:
        detail = "; ".join(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in e.errors())
        return _error(400, f"Invalid request: {detail}")


def _rate_limited(limiter: RateLimiter, refusal: Refusal) -> JSONResponse:
    what = (
        f"{limiter.requests_per_minute:,} requests per minute"
        if refusal.reason == "requests"
        else f"{limiter.tokens_per_minute:,} tokens per minute"
    )
    return _error(
        429,
        f"Rate limit of {what} exceeded for this deployment. "
        f"Retry after {refusal.retry_after_header} seconds.",
        headers={"Retry-After": refusal.retry_after_header},
    )


@dataclass(frozen=True)
class _Served:
    """What the endpoint's routes answer with: its generators by model name, the fine-tuned model's name,
    the key, the quota, the clock, and when the models were created."""

    generators: dict[str, Generator]
    model_name: str
    key: str
    limiter: RateLimiter
    clock: Callable[[], float]
    created: int


@dataclass(frozen=True)
class _Admitted:
    """A chat request past its checks and within the quota: the model that answers, the prompt, the most
    tokens the reply may have, and ``settle`` to call with the tokens it used."""

    generator: Generator
    model_name: str
    prompt: list[int]
    body: ChatBody
    max_tokens: int
    settle: Callable[[int], None]


def build_app(
    generator: Generator,
    *,
    key: str,
    model_name: str,
    limiter: RateLimiter,
    clock: Callable[[], float] = time.time,
    base_generator: Generator | None = None,
    base_model_name: str | None = None,
) -> FastAPI:
    """The endpoint's app. With ``base_generator``, a request whose ``model`` is ``base_model_name`` is
    answered by the base model without the fine-tuned adapter (the evaluation compares both)."""
    app = FastAPI(
        title=f"ftbot local endpoint: {model_name}", docs_url=None, redoc_url=None, openapi_url=None
    )
    created = int(clock())
    generators = {model_name: generator}
    if base_generator is not None and base_model_name and base_model_name != model_name:
        generators[base_model_name] = base_generator
    served = _Served(generators, model_name, key, limiter, clock, created)

    @app.get("/healthz")
    async def healthz() -> dict[str, object]:
        return {"ok": True, "model": model_name}

    @app.get("/v1/models")
    async def models(request: Request) -> Any:
        return _models(served, request)

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Any:
        return await _chat_completions(served, request)

    return app


def _denied() -> JSONResponse:
    return _error(
        401,
        "Access denied due to a missing or invalid key. Send it in the Authorization header.",
        headers={"WWW-Authenticate": "Bearer"},
    )


def _models(served: _Served, request: Request) -> Any:
    """``GET /v1/models``: the models this endpoint answers as."""
    if not _authorized(request.headers.get("authorization"), served.key):
        return _denied()
    return {
        "object": "list",
        "data": [
            {"id": name, "object": "model", "created": served.created, "owned_by": "ftbot"}
            for name in served.generators
        ],
    }


async def _chat_completions(served: _Served, request: Request) -> Any:
    """``POST /v1/chat/completions``: checked, admitted by the quota, then streamed or answered whole."""
    if not _authorized(request.headers.get("authorization"), served.key):
        return _denied()
    try:
        raw = await request.json()
    except ValueError:
        return _error(400, "Invalid request: the body is not valid JSON")
    body = _chat_body(raw)
    if isinstance(body, JSONResponse):
        return body
    admitted = _admit(served, body)
    if isinstance(admitted, JSONResponse):
        return admitted
    if body.stream:
        return _streamed(served, admitted)
    return await _generated(served, admitted)


def _admit(served: _Served, body: ChatBody) -> _Admitted | JSONResponse:
    """The request with its prompt and reply room, once the quota lets it in; or the 400 for a prompt
    longer than the context, or the 429 of the quota."""
    answering = body.model if body.model in served.generators else served.model_name
    gen = served.generators[answering]
    messages = [{"role": m.role, "content": m.content} for m in body.messages]
    prompt = gen.prompt_tokens(messages)
    room = gen.context_length - len(prompt)
    if room < 1:
        return _error(
            400, f"The prompt is {len(prompt)} tokens; this model's context is {gen.context_length}."
        )
    max_tokens = min(body.max_tokens or 256, room)
    entry = served.limiter.acquire(len(prompt) + max_tokens)
    if isinstance(entry, Refusal):
        return _rate_limited(served.limiter, entry)
    return _Admitted(gen, answering, prompt, body, max_tokens, partial(served.limiter.settle, entry))


def _streamed(served: _Served, admitted: _Admitted) -> StreamingResponse:
    chunks = sse(
        admitted.generator,
        admitted.prompt,
        admitted.body,
        max_tokens=admitted.max_tokens,
        model_name=admitted.model_name,
        created=int(served.clock()),
        settle=admitted.settle,
    )
    return StreamingResponse(chunks, media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


async def _generated(served: _Served, admitted: _Admitted) -> dict[str, object]:
    """The whole reply, generated in a worker thread; the quota is settled with what it used."""
    gen, body, prompt = admitted.generator, admitted.body, admitted.prompt
    batched = getattr(gen, "generate_batched", None)
    try:
        if batched is not None and body.temperature == 0 and body.min_tokens == 0:
            # greedy: generated in one batch with the requests that arrive alongside (evaluation)
            out = await run_in_threadpool(batched, prompt, admitted.max_tokens)
        else:
            out = await run_in_threadpool(
                gen.generate,
                prompt,
                temperature=body.temperature,
                max_tokens=admitted.max_tokens,
                min_tokens=min(body.min_tokens, admitted.max_tokens),
            )
    except Exception:
        admitted.settle(len(prompt))
        raise
    admitted.settle(len(prompt) + out.completion_tokens)
    return completion(admitted.model_name, prompt, out, int(served.clock()))


def serve(endpoint: EndpointDir) -> None:
    import uvicorn

    config = files.read_json(endpoint.config)
    if config is None:
        raise RuntimeError(f"{endpoint.config} is missing or unreadable")
    key = endpoint.key.read_text(encoding="utf-8").strip()
    generator = load_generator(config)
    limiter = RateLimiter(
        tokens_per_minute=int(config["tokens_per_minute"]),
        requests_per_minute=int(config["requests_per_minute"]),
    )
    app = build_app(
        generator,
        key=key,
        model_name=str(config["model"]),
        limiter=limiter,
        base_generator=generator.base(),
        base_model_name=str(config.get("base_model") or "") or None,
    )

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    files.atomic_write_text(endpoint.port, f"{sock.getsockname()[1]}\n")
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off"))
    server.run(sockets=[sock])


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m bot.backends.local.server <endpoint_dir>", file=sys.stderr)
        return 2
    endpoint = EndpointDir(Path(argv[0]))
    try:
        serve(endpoint)
    except Exception as e:
        traceback.print_exc()
        files.atomic_write_json(
            endpoint.failed, {"error": f"{type(e).__name__}: {e}", "at": files.now().isoformat()}
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
