"""The local endpoint: ``python -m bot.backends.local.server <endpoint_dir>``.

An OpenAI-compatible server for one fine-tuned model, in its own process on a free 127.0.0.1 port:
``POST /v1/chat/completions`` (messages, temperature, max_tokens; usage in the reply) and
``GET /v1/models``, both behind the endpoint's key in the ``Authorization`` header as Azure's serverless
endpoints take it (the bare key or ``Bearer <key>``; anything else → 401). Per-deployment quotas,
tokens and requests per minute → 429 with ``Retry-After``. ``GET /healthz`` (no key) says it is up.

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

import json  # noqa: E402
import secrets  # noqa: E402
import socket  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Callable, Iterator, Sequence  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, Literal, Protocol  # noqa: E402

from fastapi import FastAPI, Request  # noqa: E402
from fastapi.responses import JSONResponse, StreamingResponse  # noqa: E402
from pydantic import BaseModel, ConfigDict, Field, ValidationError  # noqa: E402
from starlette.concurrency import run_in_threadpool  # noqa: E402

from bot.backends.local import files  # noqa: E402
from bot.backends.local.generation import Generation, load_generator  # noqa: E402
from bot.backends.local.layout import EndpointDir  # noqa: E402
from bot.backends.local.quota import RateLimiter, Refusal  # noqa: E402

__all__ = ["Generation", "Generator", "build_app", "load_generator", "main", "serve"]


class Generator(Protocol):
    context_length: int

    def prompt_tokens(self, messages: Sequence[dict[str, str]]) -> list[int]: ...

    def generate(
        self, prompt: list[int], *, temperature: float, max_tokens: int, min_tokens: int = 0
    ) -> Generation: ...


class _Message(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: Literal["system", "user", "assistant"]
    content: str


class _StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore")
    include_usage: bool = False


class _ChatBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    messages: list[_Message] = Field(min_length=1)
    temperature: float = Field(default=0.7, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1, le=4096)
    min_tokens: int = Field(default=0, ge=0, le=4096)  # vLLM's extension: no end of reply before this many
    model: str | None = None  # the base model's name: answered by the base model, without the adapter
    stream: bool = False
    stream_options: _StreamOptions | None = None


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


def _chat_body(raw: object) -> _ChatBody | JSONResponse:
    """The request body, or the 400 that says what is wrong with it."""
    try:
        return _ChatBody.model_validate(raw)
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


def _completion(model_name: str, prompt: list[int], out: Generation, created: int) -> dict[str, object]:
    """The OpenAI ``chat.completion`` object for one generation."""
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": created,
        "model": model_name,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": out.text},
                "finish_reason": out.finish_reason,
            }
        ],
        "usage": {
            "prompt_tokens": len(prompt),
            "completion_tokens": out.completion_tokens,
            "total_tokens": len(prompt) + out.completion_tokens,
        },
    }


def _chunk(base: dict[str, object], delta: dict[str, str], finish: str | None) -> bytes:
    body = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return b"data: " + json.dumps(body).encode() + b"\n\n"


def _sse(
    generator: Generator,
    prompt: list[int],
    body: _ChatBody,
    *,
    max_tokens: int,
    model_name: str,
    created: int,
    settle: Callable[[int], None],
) -> Iterator[bytes]:
    """The OpenAI ``chat.completion.chunk`` stream: the role, the text as it comes, the finish reason,
    the usage (when asked with ``stream_options.include_usage``), then ``[DONE]``. Starlette iterates it
    in a worker thread; if the client goes away the generation is stopped."""
    base: dict[str, object] = {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion.chunk",
        "created": created,
        "model": model_name,
    }
    cancel = threading.Event()
    kwargs: dict[str, Any] = {
        "temperature": body.temperature,
        "max_tokens": max_tokens,
        "min_tokens": min(body.min_tokens, max_tokens),
    }
    stream = getattr(generator, "stream", None)
    parts: Iterator[str | Generation] = (
        stream(prompt, cancel=cancel, **kwargs) if stream else iter([generator.generate(prompt, **kwargs)])
    )
    used = len(prompt)
    try:
        yield _chunk(base, {"role": "assistant", "content": ""}, None)
        for part in parts:
            if isinstance(part, Generation):
                used += part.completion_tokens
                if not stream and part.text:
                    yield _chunk(base, {"content": part.text}, None)
                yield _chunk(base, {}, part.finish_reason)
                if body.stream_options is not None and body.stream_options.include_usage:
                    usage = {
                        "prompt_tokens": len(prompt),
                        "completion_tokens": part.completion_tokens,
                        "total_tokens": len(prompt) + part.completion_tokens,
                    }
                    yield b"data: " + json.dumps({**base, "choices": [], "usage": usage}).encode() + b"\n\n"
            elif part:
                yield _chunk(base, {"content": part}, None)
        yield b"data: [DONE]\n\n"
    finally:
        cancel.set()
        close = getattr(parts, "close", None)
        if close is not None:
            close()
        settle(used)


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
    served = {model_name: generator}
    if base_generator is not None and base_model_name and base_model_name != model_name:
        served[base_model_name] = base_generator

    def denied() -> JSONResponse:
        return _error(
            401,
            "Access denied due to a missing or invalid key. Send it in the Authorization header.",
            headers={"WWW-Authenticate": "Bearer"},
        )

    @app.get("/healthz")
    async def healthz() -> dict[str, object]:
        return {"ok": True, "model": model_name}

    @app.get("/v1/models")
    async def models(request: Request) -> Any:
        if not _authorized(request.headers.get("authorization"), key):
            return denied()
        return {
            "object": "list",
            "data": [
                {"id": name, "object": "model", "created": created, "owned_by": "ftbot"} for name in served
            ],
        }

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Any:
        if not _authorized(request.headers.get("authorization"), key):
            return denied()
        try:
            raw = await request.json()
        except ValueError:
            return _error(400, "Invalid request: the body is not valid JSON")
        body = _chat_body(raw)
        if isinstance(body, JSONResponse):
            return body
        answering = body.model if body.model in served else model_name
        gen = served[answering]
        messages = [{"role": m.role, "content": m.content} for m in body.messages]
        prompt = gen.prompt_tokens(messages)
        room = gen.context_length - len(prompt)
        if room < 1:
            return _error(
                400, f"The prompt is {len(prompt)} tokens; this model's context is {gen.context_length}."
            )
        max_tokens = min(body.max_tokens or 256, room)
        admitted = limiter.acquire(len(prompt) + max_tokens)
        if isinstance(admitted, Refusal):
            return _rate_limited(limiter, admitted)
        if body.stream:
            chunks = _sse(
                gen,
                prompt,
                body,
                max_tokens=max_tokens,
                model_name=answering,
                created=int(clock()),
                settle=lambda used: limiter.settle(admitted, used),
            )
            return StreamingResponse(
                chunks, media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
            )
        batched = getattr(gen, "generate_batched", None)
        try:
            if batched is not None and body.temperature == 0 and body.min_tokens == 0:
                # greedy: generated in one batch with the requests that arrive alongside (evaluation)
                out = await run_in_threadpool(batched, prompt, max_tokens)
            else:
                out = await run_in_threadpool(
                    gen.generate,
                    prompt,
                    temperature=body.temperature,
                    max_tokens=max_tokens,
                    min_tokens=min(body.min_tokens, max_tokens),
                )
        except Exception:
            limiter.settle(admitted, len(prompt))
            raise
        limiter.settle(admitted, len(prompt) + out.completion_tokens)
        return _completion(answering, prompt, out, int(clock()))

    return app


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
