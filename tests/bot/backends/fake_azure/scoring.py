"""The scoring side of the fake serverless endpoints: chat completions behind the endpoint key, whole or
streamed as server-sent events (``stream: true``)."""

from __future__ import annotations

import json

import httpx

from tests.bot.backends.fake_azure.state import ServiceState
from tests.support.sse import SSE_HEADERS, chat_chunks, sse


class FakeScoring:
    """``POST {scoring_uri}/v1/chat/completions`` of the fake's serverless endpoints, as an
    ``httpx.MockTransport`` handler. It checks the key against the one ``listKeys`` handed out. ``queue``
    replaces the next answers."""

    def __init__(self, service: ServiceState) -> None:
        self.service = service
        self.requests: list[httpx.Request] = []
        self.queue: list[httpx.Response] = []

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self.handle))

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.queue:
            return self.queue.pop(0)
        name = (request.url.host or "").split(".")[0]
        ep = self.service.endpoints.get(name)
        if ep is None or request.url.path != "/v1/chat/completions":
            return httpx.Response(404, json={"error": {"code": "NotFound", "message": "no such route"}})
        if request.headers.get("authorization") != self.service.endpoint_keys[name]["primaryKey"]:
            return httpx.Response(401, json={"error": {"code": "Unauthorized", "message": "bad key"}})
        body = json.loads(request.content)
        prompt = " ".join(m["content"] for m in body["messages"])
        words = ("echo: " + prompt).split()[: body.get("max_tokens", 16)]
        usage = {
            "prompt_tokens": len(prompt.split()),
            "completion_tokens": len(words),
            "total_tokens": len(prompt.split()) + len(words),
        }
        if body.get("stream"):  # OpenAI's chunks; the usage last when stream_options asks for it
            with_usage = (body.get("stream_options") or {}).get("include_usage")
            model = ep["properties"]["modelSettings"]["modelId"]
            chunks = chat_chunks(" ".join(words), model=model, usage=usage if with_usage else None)
            return httpx.Response(200, headers=SSE_HEADERS, content=sse(chunks))
        return httpx.Response(
            200,
            json={
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "model": ep["properties"]["modelSettings"]["modelId"],
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "message": {"role": "assistant", "content": " ".join(words)},
                    }
                ],
                "usage": usage,
            },
        )
