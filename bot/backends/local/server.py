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

import secrets  # noqa: E402
import socket  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, Literal, Protocol  # noqa: E402

from fastapi import FastAPI, Request  # noqa: E402
from fastapi.responses import JSONResponse  # noqa: E402
from pydantic import BaseModel, ConfigDict, Field, ValidationError  # noqa: E402
from starlette.concurrency import run_in_threadpool  # noqa: E402

from bot.backends.local import files  # noqa: E402
from bot.backends.local.layout import EndpointDir  # noqa: E402
from bot.backends.local.quota import RateLimiter, Refusal  # noqa: E402


@dataclass(frozen=True)
class Generation:
    text: str
    completion_tokens: int
    finish_reason: str  # "stop" or "length"


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


class _ChatBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    messages: list[_Message] = Field(min_length=1)
    temperature: float = Field(default=0.7, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1, le=4096)
    min_tokens: int = Field(default=0, ge=0, le=4096)  # vLLM's extension: no end of reply before this many
    model: str | None = None


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


def build_app(
    generator: Generator,
    *,
    key: str,
    model_name: str,
    limiter: RateLimiter,
    clock: Callable[[], float] = time.time,
) -> FastAPI:
    app = FastAPI(
        title=f"ftbot local endpoint: {model_name}", docs_url=None, redoc_url=None, openapi_url=None
    )
    created = int(clock())

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
            "data": [{"id": model_name, "object": "model", "created": created, "owned_by": "ftbot"}],
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
        messages = [{"role": m.role, "content": m.content} for m in body.messages]
        prompt = generator.prompt_tokens(messages)
        room = generator.context_length - len(prompt)
        if room < 1:
            return _error(
                400,
                f"The prompt is {len(prompt)} tokens; this model's context is {generator.context_length}.",
            )
        max_tokens = min(body.max_tokens or 256, room)
        admitted = limiter.acquire(len(prompt) + max_tokens)
        if isinstance(admitted, Refusal):
            return _rate_limited(limiter, admitted)
        try:
            out = await run_in_threadpool(
                generator.generate,
                prompt,
                temperature=body.temperature,
                max_tokens=max_tokens,
                min_tokens=min(body.min_tokens, max_tokens),
            )
        except Exception:
            limiter.settle(admitted, len(prompt))
            raise
        limiter.settle(admitted, len(prompt) + out.completion_tokens)
        return _completion(model_name, prompt, out, int(clock()))

    return app


class HFGenerator:
    """A merged (base + LoRA) causal LM behind the chat template; one generation at a time."""

    def __init__(self, model: Any, tokenizer: Any, *, device: str, context_length: int) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.device = device
        self.context_length = context_length
        self._lock = threading.Lock()

    def prompt_tokens(self, messages: Sequence[dict[str, str]]) -> list[int]:
        enc = self.tokenizer.apply_chat_template(
            list(messages), add_generation_prompt=True, tokenize=True, return_dict=True
        )
        return list(enc["input_ids"])

    def generate(
        self, prompt: list[int], *, temperature: float, max_tokens: int, min_tokens: int = 0
    ) -> Generation:
        import torch

        ids = torch.tensor([prompt], dtype=torch.long, device=self.device)
        kwargs: dict[str, Any] = {
            "max_new_tokens": max_tokens,
            "min_new_tokens": min_tokens,
            "pad_token_id": self.tokenizer.pad_token_id,
        }
        if self.tokenizer.eos_token_id is not None:
            kwargs["eos_token_id"] = self.tokenizer.eos_token_id
        if temperature > 0:
            kwargs.update(do_sample=True, temperature=temperature, top_k=0, top_p=1.0)
        else:
            kwargs.update(do_sample=False)
        with self._lock, torch.inference_mode():
            out = self.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), **kwargs)
        new = out[0][len(prompt) :].tolist()
        eos = self.tokenizer.eos_token_id
        stopped = eos is not None and eos in new
        if stopped:
            new = new[: new.index(eos) + 1]
        text = self.tokenizer.decode(new, skip_special_tokens=True)
        return Generation(
            text=text, completion_tokens=len(new), finish_reason="stop" if stopped else "length"
        )


def load_generator(config: dict[str, Any]) -> HFGenerator:
    from peft import PeftModel

    from bot.backends.local import tiny
    from bot.backends.local.trainer import load_base, pick_device, setup_torch

    setup_torch(int(config.get("threads") or 1))
    base_path = Path(config["base_path"])
    if config.get("builtin"):
        base_path = tiny.ensure(base_path.parent)
    device, dtype = pick_device()
    model, tokenizer = load_base(base_path, device=device, dtype=dtype)
    model = PeftModel.from_pretrained(model, config["adapter_path"])
    targets = getattr(model.peft_config["default"], "target_modules", None) or ()
    tied = bool(getattr(model.config, "tie_word_embeddings", False))
    if not (tied and "lm_head" in targets):  # merging into a tied head would change the input embeddings too
        model = model.merge_and_unload()
    model.eval()
    context = int(getattr(model.config, "max_position_embeddings", 0) or 4096)
    return HFGenerator(model, tokenizer, device=device, context_length=context)


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
    app = build_app(generator, key=key, model_name=str(config["model"]), limiter=limiter)

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
