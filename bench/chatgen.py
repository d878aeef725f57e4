"""Generate realistic chat fine-tuning JSONL of a given size (for benchmarks; never committed).

Customer-support style: one of a few system prompts, 1-3 user/assistant turns of varied prose, about one
example in ten with a tool call, some non-ASCII text. Sentences are drawn from a pool and recombined, so
message texts do not repeat (a per-string cache cannot short-cut them), while system prompts do, as they do
in real datasets.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

import orjson

_WORDS = (  # noqa: SIM905
    "account order refund shipping delivery package invoice billing password login reset device "
    "update subscription plan upgrade downgrade cancel renew payment card charge receipt address "
    "warehouse tracking number support agent ticket issue problem error message screen button "
    "setting option browser app phone email customer product warranty return exchange replacement "
    "size color store online pickup week day hour minute please thank you sorry help check confirm "
    "verify open close send receive provide explain understand happen arrive expect wait call visit "
    "review policy note detail information status history the a an to of in on for with from by at "
    "about after before during your my our their this that these those is are was were be been can "
    "could will would should may might have has had do does did not quickly carefully already still "
    "again soon today tomorrow yesterday usually sometimes never always café naïve résumé größe 東京 "
    "配送 返金 заказ доставка"
).split()


def _sentence(rng: random.Random) -> str:
    n = rng.randint(6, 22)
    words = rng.choices(_WORDS, k=n)
    s = " ".join(words)
    if rng.random() < 0.15:
        s += f" #{rng.randint(10000, 99999)}"
    return s[0].upper() + s[1:] + rng.choice((".", ".", ".", "?", "!"))


_SYSTEMS = [
    "You are Contoso's customer support assistant. Answer briefly, politely and accurately. "
    "If you do not know, say so and offer to connect the customer with a human agent.",
    "You are a helpful support agent for Fabrikam Online Store. Keep answers under three sentences.",
    "You help customers of Northwind Traders with orders, shipping and refunds. Be concise.",
]

_TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "lookup_order",
            "description": "Look up an order by its number",
            "parameters": {
                "type": "object",
                "properties": {"order_id": {"type": "string"}},
                "required": ["order_id"],
            },
        },
    }
]


def example(rng: random.Random, pool: list[str]) -> dict[str, object]:
    def text(lo: int, hi: int) -> str:
        return " ".join(rng.choices(pool, k=rng.randint(lo, hi)))

    messages: list[dict[str, object]] = [{"role": "system", "content": rng.choice(_SYSTEMS)}]
    for _ in range(rng.randint(1, 3)):
        messages.append({"role": "user", "content": text(1, 5)})
        messages.append({"role": "assistant", "content": text(2, 10)})
    if rng.random() < 0.1:
        order = str(rng.randint(100000, 999999))
        call_id = f"call_{rng.randint(10**8, 10**9)}"
        messages[-1:] = [
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": call_id,
                        "type": "function",
                        "function": {
                            "name": "lookup_order",
                            "arguments": orjson.dumps({"order_id": order}).decode(),
                        },
                    }
                ],
            },
            {
                "role": "tool",
                "tool_call_id": call_id,
                "content": orjson.dumps({"status": "shipped"}).decode(),
            },
            {"role": "assistant", "content": text(1, 4)},
        ]
        return {"messages": messages, "tools": _TOOLS}
    return {"messages": messages}


def generate(path: Path, size_bytes: int, seed: int = 1) -> int:
    """Write examples to ``path`` until it holds at least ``size_bytes``; returns the number of examples."""
    rng = random.Random(seed)
    pool = [_sentence(rng) for _ in range(20000)]
    n = 0
    written = 0
    with open(path, "wb") as f:
        buf: list[bytes] = []
        while written < size_bytes:
            line = orjson.dumps(example(rng, pool)) + b"\n"
            buf.append(line)
            written += len(line)
            n += 1
            if len(buf) >= 2000:
                f.write(b"".join(buf))
                buf.clear()
        f.write(b"".join(buf))
    return n


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("path", type=Path)
    ap.add_argument("--mb", type=float, default=10)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    print(generate(a.path, int(a.mb * 1024 * 1024), a.seed))
